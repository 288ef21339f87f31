/**
 * The daemon's store: networks, endpoints, sandboxes and containers as
 * libnetwork and dockerd keep them (only what the simulated sequences need).
 */
import type { IpPrefix } from '../net/index.js';
import type { IpamConfigSpec, NetworkAttachSpec, PortSpec } from './types.js';

/** One pool of a network (libnetwork IpamInfo). */
export interface PoolRec {
  poolId: string;
  /** The pool as the IPAM returned it (types.ParseCIDR keeps host bits). */
  pool: IpPrefix;
  meta: Record<string, string>;
  gateway: IpPrefix | null;
  /** Aux addresses in request order. */
  aux: Array<[string, IpPrefix]>;
}

export interface NetworkRec {
  readonly id: string;
  readonly name: string;
  readonly internal: boolean;
  readonly enableIPv6: boolean;
  /** `swarm`: created on this node from the swarm manager's allocation (protocol.md §4.9). */
  readonly scope: 'local' | 'global' | 'swarm';
  readonly addrSpace: string;
  readonly driverOpts: Record<string, string>;
  /** RequestPool Options: `--ipam-opt` (`{}` without), null for swarm networks created without IPAM options. */
  readonly ipamOpts: Record<string, string> | null;
  /** User configurations (rewritten to explicit pools by a replay, as 20.10 does). */
  v4Conf: IpamConfigSpec[];
  v6Conf: IpamConfigSpec[];
  v4: PoolRec[];
  v6: PoolRec[];
  readonly endpoints: Map<string, EndpointRec>;
  /** Endpoint (container) names, for the duplicate check. */
  readonly endpointNames: Set<string>;
}

export interface StaticRouteRec {
  /** CIDR text; `0.0.0.0/0` when the plugin gave none. */
  readonly destination: string;
  readonly routeType: number;
  readonly nextHop: string | null;
}

export interface JoinRec {
  srcName: string;
  dstPrefix: string;
  gw: string | null;
  gw6: string | null;
  /** RouteType 0 routes (via NextHop), programmed in the sandbox. */
  staticRoutes: StaticRouteRec[];
  /** Connected routes (non-zero RouteType) on the interface. */
  ifaceRoutes: string[];
  disableGatewayService: boolean;
}

export interface AddrRec {
  poolId: string;
  addr: IpPrefix;
}

export interface EndpointRec {
  readonly id: string;
  /** The container name. */
  readonly name: string;
  readonly network: NetworkRec;
  v4: AddrRec | null;
  v6: AddrRec | null;
  mac: string | null;
  ipamOptions: Record<string, string> | null;
  join: JoinRec | null;
  /** Set while joined (libnetwork's ep.sandboxID). */
  sandbox: SandboxRec | null;
}

export interface IfaceRec {
  readonly ep: EndpointRec;
  readonly srcName: string;
  readonly dstName: string;
}

export interface SandboxRec {
  readonly id: string;
  readonly key: string;
  readonly container: ContainerRec;
  /** libnetwork's epHeap, in array order. */
  readonly endpoints: EndpointRec[];
  /** The container's netns exists (after the OCI hook, or for a running container). */
  osCreated: boolean;
  /** Interfaces the daemon moved in and still knows about (osl's iFaces). */
  readonly ifaces: IfaceRec[];
  readonly nextIfIndex: Map<string, number>;
  /** Static (RouteType 0) routes programmed, per endpoint id. */
  readonly programmedRoutes: Map<string, StaticRouteRec[]>;
  /** Default routes the daemon programmed (gateway IPs). */
  defaultRoute4: string | null;
  defaultRoute6: string | null;
  inDelete: boolean;
  /** dockerd would have attached docker_gwbridge. */
  gwBridge: boolean;
  /**
   * Links dockerd lost track of but that may still be in the netns (a failed
   * move-out, a failed join after the move-in): allowed, not required, until
   * the kernel destroys them with their peer or the netns.
   */
  readonly stray: Set<string>;
  /** A failure left the default route different from the gateway endpoint's (dockerd does not repair it). */
  gatewayStale: boolean;
  /** Join / Program options (sb.Labels()). */
  readonly labels: Record<string, unknown>;
}

export interface AttachRec extends NetworkAttachSpec {
  /** Network id (resolved when attached). */
  readonly networkId: string;
}

export interface ContainerRec {
  readonly id: string;
  readonly name: string;
  running: boolean;
  readonly attachments: AttachRec[];
  readonly ports: readonly PortSpec[];
  sandbox: SandboxRec | null;
}
