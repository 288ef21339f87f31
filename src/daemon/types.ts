/** Public shapes of the simulated daemon: operation arguments, inspect views, call log, leaks. */
import type { Backend } from '../backend/backend.js';
import type { CallRecord, PluginCaller } from '../client/types.js';
import type { Profile } from '../protocol/constants.js';
import type { IdGenerator } from './ids.js';

export interface DaemonOptions {
  /** The network driver plugin. */
  readonly driver: PluginCaller;
  /** The IPAM plugin; pass the same object as `driver` when one plugin implements both. */
  readonly ipam: PluginCaller;
  /** Where the daemon's own sandbox work happens (the same backend the driver uses). */
  readonly backend: Backend;
  /** Default `docker-20.10`. */
  readonly profile?: Profile;
  /** `-d` name, used in messages (default `cnmkit`). */
  readonly driverName?: string;
  /** `--ipam-driver` name, used in messages (default: the driver name). */
  readonly ipamName?: string;
  /** Id source, or a seed for the built-in deterministic generator (default seed 1). */
  readonly ids?: IdGenerator | number;
  /**
   * On-link host routes / nameservers (CIDRs) that automatic pools must not
   * overlap (the overlap loop of protocol.md §2.3). Default none.
   */
  readonly hostRoutes?: readonly string[];
  /** Give up the overlap loop after this many overlapping pools (dockerd loops forever). Default 64. */
  readonly maxOverlapRetries?: number;
  /**
   * Managed (v2) plugins among `driver` / `ipam`, with their interface types: they get
   * no Plugin.Activate, the daemon goes straight to the handlers (protocol.md §1.7, §4.8).
   * Every other caller is a v1 plugin.
   */
  readonly managed?: ReadonlyMap<PluginCaller, readonly string[]>;
  /**
   * `null`: `ipam` is Docker's built-in null IPAM (`createNullIpam`, served in process), not a
   * remote one: an empty RequestAddress answer means "no address" (no gateway, an endpoint
   * without address for the driver to fill) instead of the remote proxy's `No address returned`.
   */
  readonly builtinIpam?: 'null';
}

/** One `--subnet` group of `docker network create`. */
export interface IpamConfigSpec {
  readonly subnet?: string;
  readonly ipRange?: string;
  readonly gateway?: string;
  /** `--aux-address name=ip`, requested in insertion order. */
  readonly auxAddresses?: Readonly<Record<string, string>>;
}

export interface NetworkCreateSpec {
  readonly name: string;
  /** `--opt k=v` (delivered as `com.docker.network.generic`). */
  readonly driverOpts?: Readonly<Record<string, string>>;
  /** `--ipam-opt k=v` (RequestPool Options). */
  readonly ipamOpts?: Readonly<Record<string, string>>;
  /** IPv4 configurations; none = one automatic pool. */
  readonly ipv4?: readonly IpamConfigSpec[];
  /** `--ipv6`: true = one automatic IPv6 pool; a list = these IPv6 configurations. */
  readonly ipv6?: boolean | readonly IpamConfigSpec[];
  readonly internal?: boolean;
}

export interface PortSpec {
  /** Container port. */
  readonly port: number;
  readonly proto?: 'tcp' | 'udp' | 'sctp';
  /** Published host port (`-p hostPort:port`); absent = only exposed. */
  readonly hostPort?: number;
  readonly hostIp?: string;
}

export interface NetworkAttachSpec {
  /** Network name or id. */
  readonly network: string;
  /** `--ip` */
  readonly ip?: string;
  /** `--ip6` */
  readonly ip6?: string;
  /** `--mac-address` for this endpoint. */
  readonly mac?: string;
  /** Per-endpoint driver options (`--driver-opt`), top-level keys of CreateEndpoint Options. */
  readonly driverOpts?: Readonly<Record<string, string>>;
}

export interface ContainerRunSpec {
  readonly name: string;
  /** The first network is attached at start; the others are connected afterwards (`docker network connect`). */
  readonly networks: readonly NetworkAttachSpec[];
  readonly ports?: readonly PortSpec[];
}

export interface DaemonRestartSpec {
  /** `kill -9` instead of a clean stop: no teardown before the restart, running containers are torn down after it. */
  readonly crash?: boolean;
  /** `--live-restore`: containers keep running, no plugin calls for them. */
  readonly liveRestore?: boolean;
}

export interface PoolView {
  readonly poolId: string;
  /** As the IPAM returned it (Go prints it back unchanged). */
  readonly pool: string;
  /** `10.0.0.1/24` or null. */
  readonly gateway: string | null;
  readonly auxAddresses: Readonly<Record<string, string>>;
}

export interface EndpointView {
  readonly id: string;
  /** The container name. */
  readonly name: string;
  readonly network: string;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  readonly mac: string | null;
  /** Joined: Join's answer as the daemon stored it. */
  readonly join: {
    readonly srcName: string;
    readonly dstPrefix: string;
    readonly gateway: string | null;
    readonly gatewayIPv6: string | null;
    readonly disableGatewayService: boolean;
  } | null;
}

export interface NetworkView {
  readonly id: string;
  readonly name: string;
  readonly driver: string;
  readonly ipamDriver: string;
  readonly internal: boolean;
  readonly enableIPv6: boolean;
  readonly ipv4: readonly PoolView[];
  readonly ipv6: readonly PoolView[];
  readonly endpoints: readonly EndpointView[];
}

export interface SandboxInterfaceView {
  readonly endpoint: string;
  readonly network: string;
  /** Name in the container (`eth0`). */
  readonly name: string;
  /** Host name the plugin gave (Join SrcName). */
  readonly srcName: string;
}

export interface ContainerView {
  readonly id: string;
  readonly name: string;
  readonly running: boolean;
  /** Configured networks (names), in attach order. */
  readonly networks: readonly string[];
  readonly sandbox: {
    readonly id: string;
    readonly key: string;
    /** Endpoints in the sandbox's heap order (what dockerd iterates). */
    readonly endpoints: readonly EndpointView[];
    readonly interfaces: readonly SandboxInterfaceView[];
    /** Endpoint that provides the default route (IPv4), or null. */
    readonly gatewayEndpoint: string | null;
    /** dockerd would have attached `docker_gwbridge` (no plugin involved; not modelled on the backend). */
    readonly defaultGatewayBridge: boolean;
  } | null;
}

export interface DaemonView {
  readonly profile: Profile;
  readonly networks: readonly NetworkView[];
  readonly containers: readonly ContainerView[];
}

/** One plugin call as the daemon made it. */
export interface CallLogEntry {
  readonly index: number;
  /** `NetworkDriver.Join`, `IpamDriver.RequestAddress`, `Plugin.Activate`. */
  readonly call: string;
  /** Parsed request body (null for an empty body). */
  readonly request: unknown;
  readonly outcome: CallRecord['outcome'];
  /** dockerd's text for a failed call. */
  readonly error?: string;
  /** The daemon operation during which it was made. */
  readonly operation: string;
  readonly record: CallRecord;
}

/** State dockerd leaves behind on purpose or by accident (documented, so tests can account for it). */
export interface DaemonLeak {
  readonly kind: 'address' | 'pool' | 'endpoint' | 'network' | 'sandbox';
  readonly operation: string;
  readonly detail: string;
  readonly poolId?: string;
  readonly address?: string;
  /** kind `sandbox`: the netns key left behind. */
  readonly namespace?: string;
}
