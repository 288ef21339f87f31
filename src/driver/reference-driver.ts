/**
 * The reference network driver: a bridge driver over the `Backend` contract.
 *
 * - CreateNetwork: a bridge (`cnm-` + 11 id chars) with its own fixed MAC and
 *   MTU, holding the IPAM gateways, up.
 * - CreateEndpoint: a veth pair; the host end (`cnm-h…`) joins the bridge and
 *   goes up, the container end (`cnm-c…`) stays down in the host namespace for
 *   the daemon to move. Supplied Interface fields are never echoed; a MAC is
 *   returned only when none was given.
 * - Join: SrcName + DstPrefix (`eth`), the gateway(s) of the endpoint's subnets
 *   (bare IPs; none on internal networks), optional static routes.
 * - Leave / DeleteEndpoint / DeleteNetwork undo all of it.
 *
 * Chosen behaviours (both are accepted by dockerd, documented here):
 * - DeleteEndpoint / DeleteNetwork / RevokeExternalConnectivity of unknown ids
 *   succeed (idempotent: retries and the daemon's stale-sandbox cleanup).
 * - Join / Leave / ProgramExternalConnectivity of unknown ids fail with
 *   E_DRIVER_NOT_FOUND (a start must not continue with an endpoint we do not know).
 * - DeleteNetwork with endpoints left fails with E_DRIVER_BUSY.
 * - A repeated CreateNetwork / CreateEndpoint / Join with the same request
 *   succeeds with the same answer (lost-reply retries); a different one fails
 *   with E_DRIVER_CONFLICT.
 * - MACs: Docker 20.10's rule `02:42:` + the IPv4 bytes when the endpoint has an
 *   IPv4 address and that MAC is not in use by another endpoint of this driver;
 *   otherwise a random locally administered unicast MAC, unique in the driver.
 * - EndpointOperInfo always answers `{"Value":{}}` (protocol.md §1.6).
 * - GwAllocCheck exists only in the `moby` profile (GetCapabilities then says
 *   GwAllocChecker: true) and never skips a gateway: the bridge needs them.
 * - DiscoverNew/DiscoverDelete record nodes (type 1) and ignore other types.
 *
 * Calls are serialised (one at a time), so concurrent requests from the daemon
 * never interleave their backend operations. Every failing call undoes its own
 * backend changes and leaves the driver state as it was; should the undo itself
 * fail, the error message names the link left behind.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { HOST_NAMESPACE, type Backend, type NamespaceKey } from '../backend/backend.js';
import type { Firewall } from '../backend/firewall.js';
import { addressPart, formatMac, isValidLinkMac, netContains, parseCidr, parseIp, parseIpPrefix, parseMac, type Ip } from '../net/index.js';
import type { CallContext, NetworkDriverApi } from '../protocol/api.js';
import type { Profile } from '../protocol/constants.js';
import type * as m from '../protocol/messages.js';
import { canonicalJson } from './canonical-json.js';
import { DriverError } from './errors.js';
import { exportDriverState, importDriverState } from './export.js';
import { LinkIndex } from './link-index.js';
import { DriverLinks, backendFailure, firewallTag } from './links.js';
import { DriverOptions, SEGMENT_FIRST, SEGMENT_MAX, genericOptions, parseNetworkConfig, type PoolConfig } from './options.js';
import { reconcileLinks } from './reconcile.js';
import type { AllocationRecord, DriverState, DriverStateStore, EndpointRecord, NetworkRecord, NodeRecord } from './state.js';

export interface ReferenceDriverOptions {
  readonly backend: Backend;
  /** Daemon profile spoken (default `docker-20.10`). */
  readonly profile?: Profile;
  /** GetCapabilities Scope (default `local`). */
  readonly scope?: m.Scope;
  /** GetCapabilities ConnectivityScope (default: same as scope). */
  readonly connectivityScope?: m.Scope;
  /** Saved after every change (see `openReferenceDriver` to load it first). */
  readonly store?: DriverStateStore;
  /** Namespace bridges and host veth ends live in (default `HOST_NAMESPACE`). */
  readonly namespace?: NamespaceKey;
  /** Source of random bytes for MACs (default node:crypto); inject for determinism. */
  readonly randomBytes?: (size: number) => Uint8Array;
  /**
   * Forwarding rules per network (hosts whose FORWARD policy is DROP): allowed
   * after the bridge is up in CreateNetwork, removed in DeleteNetwork, resynced
   * by `reconcile`. None by default.
   */
  readonly firewall?: Firewall;
}

/** The driver plus what an integrator needs around it (state, inspection). */
export interface ReferenceDriver extends NetworkDriverApi {
  readonly profile: Profile;
  readonly backend: Backend;
  /** Deep copy of the whole state (JSON-able). */
  exportState(): DriverState;
  /** Replaces the in-memory state (no backend changes; call `reconcile` after). Throws E_DRIVER_STATE when malformed. */
  importState(state: DriverState): void;
  /**
   * Makes the backend match the state (after a restart or crash): recreates
   * missing bridges (gateways, MTU, up) and missing veth pairs of endpoints not
   * joined to a sandbox; adopts existing ones by fixing MTU, gateway addresses,
   * port attachment and up state. Returns what it did, one line per action.
   */
  reconcile(): Promise<string[]>;
  getNetwork(id: string): NetworkRecord | undefined;
  networkIds(): string[];
  /** Nodes announced by DiscoverNew. */
  nodes(): NodeRecord[];
  /** Always present (global scope: the swarm manager's allocator). */
  allocateNetwork(req: m.AllocateNetworkRequest, ctx?: CallContext): Promise<m.AllocateNetworkResponse>;
  freeNetwork(req: m.NetworkIdRequest, ctx?: CallContext): Promise<m.EmptyResponse>;
}

const EMPTY: m.EmptyResponse = {};

/** Builds the driver. With a store, prefer `openReferenceDriver`, which loads it first. */
export function createReferenceDriver(options: ReferenceDriverOptions): ReferenceDriver {
  return new ReferenceNetworkDriver(options);
}

/** Builds the driver, loads the store's state (if any) and reconciles the backend with it. */
export async function openReferenceDriver(options: ReferenceDriverOptions): Promise<ReferenceDriver> {
  const driver = new ReferenceNetworkDriver(options);
  if (options.store !== undefined) {
    const state = await options.store.load();
    if (state !== undefined) {
      driver.importState(state);
      await driver.reconcile();
    }
  }
  return driver;
}

class ReferenceNetworkDriver implements ReferenceDriver {
  readonly profile: Profile;
  readonly backend: Backend;
  readonly gwAllocCheck?: (req: m.GwAllocCheckRequest, ctx?: CallContext) => Promise<m.GwAllocCheckResponse>;
  private readonly scope: m.Scope;
  private readonly connectivityScope: m.Scope;
  private readonly store: DriverStateStore | undefined;
  private readonly links: DriverLinks;
  private networks = new Map<string, NetworkRecord>();
  private discovered = new Map<string, NodeRecord>();
  /** Global scope: this instance's allocations as the swarm manager's allocator. */
  private allocations = new Map<string, AllocationRecord>();
  /** Names, MACs and endpoint ids in use (an index over `networks`). */
  private readonly index: LinkIndex;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(o: ReferenceDriverOptions) {
    if (o === null || typeof o !== 'object' || o.backend === undefined) throw new DriverError('E_DRIVER_REQUEST', 'createReferenceDriver needs a backend');
    this.backend = o.backend;
    this.profile = o.profile ?? 'docker-20.10';
    if (this.profile !== 'docker-20.10' && this.profile !== 'moby') throw new DriverError('E_DRIVER_REQUEST', `unknown profile "${String(o.profile)}"`);
    this.scope = o.scope ?? 'local';
    this.connectivityScope = o.connectivityScope ?? this.scope;
    for (const s of [this.scope, this.connectivityScope]) {
      if (s !== 'local' && s !== 'global') throw new DriverError('E_DRIVER_REQUEST', `scope must be local or global, got "${String(s)}"`);
    }
    this.store = o.store;
    this.links = new DriverLinks(this.backend, o.namespace ?? HOST_NAMESPACE, o.firewall);
    const random = o.randomBytes ?? ((n: number) => cryptoRandomBytes(n));
    this.index = new LinkIndex(() => this.networks.values(), random);
    if (this.profile === 'moby') {
      this.gwAllocCheck = (req) => this.doGwAllocCheck(req);
    }
  }

  // ---- capabilities ------------------------------------------------------------------

  getCapabilities(): m.NetworkCapabilitiesResponse {
    const caps: m.NetworkCapabilitiesResponse = { Scope: this.scope, ConnectivityScope: this.connectivityScope };
    return this.profile === 'moby' ? { ...caps, GwAllocChecker: true } : caps;
  }

  private async doGwAllocCheck(req: m.GwAllocCheckRequest): Promise<m.GwAllocCheckResponse> {
    // Fail early (before IPAM) on options CreateNetwork would refuse.
    parseNetworkConfig(req?.Options ?? null, [], []);
    return { SkipIPv4: false, SkipIPv6: false };
  }

  // ---- networks ------------------------------------------------------------------------

  createNetwork(req: m.CreateNetworkRequest): Promise<m.EmptyResponse> {
    return this.serial(async () => {
      const id = requireId(req?.NetworkID, 'NetworkID');
      const config = parseNetworkConfig(req.Options ?? null, req.IPv4Data, req.IPv6Data);
      const requestKey = canonicalJson({ Options: req.Options ?? null, IPv4Data: req.IPv4Data ?? [], IPv6Data: req.IPv6Data ?? [] });
      const existing = this.networks.get(id);
      if (existing !== undefined) {
        if (existing.requestKey === requestKey) return EMPTY;
        throw new DriverError('E_DRIVER_CONFLICT', `network ${id} already exists with different options`);
      }
      if (config.segment !== null) {
        // Two networks on one segment would share their traffic: a manager handing one out twice is refused here.
        const other = [...this.networks.values()].find((n) => n.segment === config.segment);
        if (other !== undefined) throw new DriverError('E_DRIVER_CONFLICT', `segment ${config.segment} is already used by network ${other.id}`);
      }
      const name = this.index.pickBridgeName(id, config.bridgeName);
      const record: NetworkRecord = {
        id,
        bridge: name,
        // Set explicitly, as Docker's bridge driver does: otherwise the kernel gives the bridge
        // the lowest port MAC, so the gateway MAC would change as containers come and go.
        bridgeMac: this.index.generateMac(null),
        mtu: config.mtu,
        internal: config.internal,
        dstPrefix: config.dstPrefix,
        staticRoutes: config.staticRoutes,
        disableGatewayService: config.disableGatewayService,
        ipv4: config.ipv4,
        ipv6: config.ipv6,
        requestKey,
        ...(config.segment !== null ? { segment: config.segment } : {}),
        endpoints: {},
      };
      await this.links.createBridge(record, `network ${id}`);
      this.networks.set(id, record);
      this.index.addNetwork(record);
      await this.persist();
      return EMPTY;
    });
  }

  deleteNetwork(req: m.NetworkIdRequest): Promise<m.EmptyResponse> {
    return this.serial(async () => {
      const id = requireId(req?.NetworkID, 'NetworkID');
      const net = this.networks.get(id);
      if (net === undefined) return EMPTY;
      const left = Object.keys(net.endpoints);
      if (left.length > 0) {
        throw new DriverError('E_DRIVER_BUSY', `network ${id} has active endpoints (${left.map(short).join(', ')})`);
      }
      const fw = this.links.firewall;
      if (fw !== undefined) {
        await fw.removeNetwork(firewallTag(id)).catch((e: unknown) => Promise.reject(backendFailure(`network ${id}: firewall`, e)));
      }
      await this.links.deleteLinkIfPresent(net.bridge, `network ${id}`);
      this.networks.delete(id);
      this.index.removeNetwork(net);
      await this.persist();
      return EMPTY;
    });
  }

  /**
   * Swarm manager, global scope (protocol.md §2.2): a segment id for the network,
   * unique among this allocator's networks, returned in the options every node's
   * CreateNetwork gets. The request carries the options of an earlier answer when
   * the manager allocates again (leader change): that segment is kept. Local
   * scope (never called by dockerd): validates and returns the options.
   */
  allocateNetwork(req: m.AllocateNetworkRequest): Promise<m.AllocateNetworkResponse> {
    return this.serial(async () => {
      const id = requireId(req?.NetworkID, 'NetworkID');
      const opts = genericOptions(req.Options, 'Options');
      // Validate what every node's CreateNetwork will get as its generic map.
      const config = parseNetworkConfig({ 'com.docker.network.generic': opts }, req.IPv4Data, req.IPv6Data);
      if (this.scope !== 'global') return { Options: opts };
      const requestKey = canonicalJson({ ...opts, [DriverOptions.CnmSegment]: undefined });
      const held = this.allocations.get(id);
      if (held !== undefined) {
        if (held.requestKey !== requestKey || (config.segment !== null && config.segment !== held.segment)) {
          throw new DriverError('E_DRIVER_CONFLICT', `network ${id} is already allocated (segment ${held.segment}) with other options`);
        }
        return { Options: { ...opts, [DriverOptions.CnmSegment]: String(held.segment) } };
      }
      const segment = config.segment ?? this.freeSegment();
      const owner = [...this.allocations.values()].find((a) => a.segment === segment);
      if (owner !== undefined) throw new DriverError('E_DRIVER_CONFLICT', `segment ${segment} is allocated to network ${owner.network}`);
      this.allocations.set(id, { network: id, segment, requestKey });
      await this.persist();
      return { Options: { ...opts, [DriverOptions.CnmSegment]: String(segment) } };
    });
  }

  /** Swarm manager: the network's segment is free again. Unknown ids succeed (the manager only logs, and then leaks the pools). */
  freeNetwork(req: m.NetworkIdRequest): Promise<m.EmptyResponse> {
    return this.serial(async () => {
      const id = requireId(req?.NetworkID, 'NetworkID');
      if (!this.allocations.delete(id)) return EMPTY;
      await this.persist();
      return EMPTY;
    });
  }

  /** The lowest segment id no allocation holds. */
  private freeSegment(): number {
    const used = new Set([...this.allocations.values()].map((a) => a.segment));
    for (let s = SEGMENT_FIRST; s <= SEGMENT_MAX; s++) if (!used.has(s)) return s;
    throw new DriverError('E_DRIVER_CONFLICT', 'every segment id is allocated');
  }

  // ---- endpoints -----------------------------------------------------------------------

  createEndpoint(req: m.CreateEndpointRequest): Promise<m.CreateEndpointResponse> {
    return this.serial(async () => {
      const net = this.mustNetwork(req?.NetworkID);
      const epId = requireId(req.EndpointID, 'EndpointID');
      const iface = req.Interface ?? {};
      const address = parseEndpointCidr(iface.Address, 4, 'Interface.Address');
      const addressIPv6 = parseEndpointCidr(iface.AddressIPv6, 6, 'Interface.AddressIPv6');
      const givenMac = nonEmpty(iface.MacAddress);
      const requestKey = canonicalJson({ Address: nonEmpty(iface.Address), AddressIPv6: nonEmpty(iface.AddressIPv6), MacAddress: givenMac });
      const existing = net.endpoints[epId];
      if (existing !== undefined) {
        if (existing.requestKey !== requestKey) throw new DriverError('E_DRIVER_CONFLICT', `endpoint ${epId} already exists with a different interface`);
        return endpointReply(existing);
      }
      // The index knows every live endpoint ID (and maybe stale ones): scan the networks only on a hit.
      for (const other of this.index.mayHaveEndpoint(epId) ? this.networks.values() : []) {
        if (other !== net && other.endpoints[epId] !== undefined) {
          throw new DriverError('E_DRIVER_CONFLICT', `endpoint ${epId} already exists in network ${other.id}`);
        }
      }
      let mac: string;
      if (givenMac !== null) {
        const bytes = parseMac(givenMac);
        if (bytes === null) throw new DriverError('E_DRIVER_REQUEST', `Interface.MacAddress: "${givenMac}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
        if (!isValidLinkMac(bytes)) throw new DriverError('E_DRIVER_REQUEST', `Interface.MacAddress: ${givenMac} is not a unicast address`);
        mac = formatMac(bytes);
      } else {
        mac = this.index.generateMac(address);
      }
      const [hostVeth, srcName] = this.index.pickVethNames(epId);
      const ep: EndpointRecord = {
        id: epId,
        hostVeth,
        srcName,
        mac,
        macGenerated: givenMac === null,
        address: address === null ? null : iface.Address!,
        addressIPv6: addressIPv6 === null ? null : iface.AddressIPv6!,
        requestKey,
        sandboxKey: null,
        external: false,
      };
      await this.links.createVeth(net, ep, `endpoint ${epId}`);
      net.endpoints[epId] = ep;
      this.index.addEndpoint(ep);
      await this.persist();
      return endpointReply(ep);
    });
  }

  deleteEndpoint(req: m.EndpointRequest): Promise<m.EmptyResponse> {
    return this.serial(async () => {
      const netId = requireId(req?.NetworkID, 'NetworkID');
      const epId = requireId(req.EndpointID, 'EndpointID');
      const net = this.networks.get(netId);
      const ep = net?.endpoints[epId];
      if (net === undefined || ep === undefined) return EMPTY;
      // The veth may already be gone: deleting the sandbox netns deletes both ends.
      await this.links.deleteLinkIfPresent(ep.hostVeth, `endpoint ${epId}`);
      delete net.endpoints[epId];
      this.index.removeEndpoint(ep);
      await this.persist();
      return EMPTY;
    });
  }

  endpointOperInfo(): m.EndpointOperInfoResponse {
    return { Value: {} };
  }

  join(req: m.JoinRequest): Promise<m.JoinResponse> {
    return this.serial(async () => {
      const [net, ep] = this.mustEndpoint(req);
      if (typeof req.SandboxKey !== 'string' || req.SandboxKey === '') throw new DriverError('E_DRIVER_REQUEST', 'SandboxKey must be a non-empty string');
      if (ep.sandboxKey !== null && ep.sandboxKey !== req.SandboxKey) {
        throw new DriverError('E_DRIVER_BUSY', `endpoint ${ep.id} is already joined to sandbox ${ep.sandboxKey}`);
      }
      if (ep.sandboxKey === null) {
        // Self-heal: a veth lost since CreateEndpoint (e.g. a deleted sandbox took it) is recreated.
        if (!(await this.links.linkExists(ep.hostVeth))) await this.links.createVeth(net, ep, `endpoint ${ep.id}`);
        ep.sandboxKey = req.SandboxKey;
        await this.persist();
      }
      return joinReply(net, ep);
    });
  }

  leave(req: m.EndpointRequest): Promise<m.EmptyResponse> {
    return this.serial(async () => {
      const [, ep] = this.mustEndpoint(req);
      if (ep.sandboxKey === null && !ep.external) return EMPTY;
      ep.sandboxKey = null;
      ep.external = false;
      await this.persist();
      return EMPTY;
    });
  }

  programExternalConnectivity(req: m.ProgramExternalConnectivityRequest): Promise<m.EmptyResponse> {
    return this.serial(async () => {
      const [net, ep] = this.mustEndpoint(req);
      // No NAT in the reference driver: record the state only; internal networks never get it.
      if (net.internal || ep.external) return EMPTY;
      ep.external = true;
      await this.persist();
      return EMPTY;
    });
  }

  revokeExternalConnectivity(req: m.EndpointRequest): Promise<m.EmptyResponse> {
    return this.serial(async () => {
      const netId = requireId(req?.NetworkID, 'NetworkID');
      const epId = requireId(req.EndpointID, 'EndpointID');
      const ep = this.networks.get(netId)?.endpoints[epId];
      if (ep === undefined || !ep.external) return EMPTY;
      ep.external = false;
      await this.persist();
      return EMPTY;
    });
  }

  // ---- discovery -----------------------------------------------------------------------

  discoverNew(req: m.DiscoveryRequest): Promise<m.EmptyResponse> {
    return this.serial(async () => {
      const node = nodeOf(req);
      if (node === null) return EMPTY;
      this.discovered.set(node.address, node);
      await this.persist();
      return EMPTY;
    });
  }

  discoverDelete(req: m.DiscoveryRequest): Promise<m.EmptyResponse> {
    return this.serial(async () => {
      const node = nodeOf(req);
      if (node === null || !this.discovered.delete(node.address)) return EMPTY;
      await this.persist();
      return EMPTY;
    });
  }

  // ---- state ---------------------------------------------------------------------------

  exportState(): DriverState {
    return exportDriverState(this.networks.values(), this.discovered.values(), this.allocations.values());
  }

  importState(state: DriverState): void {
    const { networks, nodes, allocations } = importDriverState(state);
    this.networks = networks;
    this.discovered = nodes;
    this.allocations = allocations;
    this.index.rebuild();
  }

  reconcile(): Promise<string[]> {
    return this.serial(() => reconcileLinks(this.links, this.networks.values()));
  }

  getNetwork(id: string): NetworkRecord | undefined {
    const n = this.networks.get(id);
    return n === undefined ? undefined : structuredClone(n);
  }

  networkIds(): string[] {
    return [...this.networks.keys()];
  }

  nodes(): NodeRecord[] {
    return [...this.discovered.values()].map((n) => ({ ...n }));
  }

  // ---- internals -----------------------------------------------------------------------

  /** Runs calls one at a time, in arrival order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async persist(): Promise<void> {
    if (this.store === undefined) return;
    try {
      await this.store.save(this.exportState());
    } catch (e) {
      throw new DriverError('E_DRIVER_STATE', `saving driver state failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private mustNetwork(id: unknown): NetworkRecord {
    const netId = requireId(id, 'NetworkID');
    const net = this.networks.get(netId);
    if (net === undefined) throw new DriverError('E_DRIVER_NOT_FOUND', `network ${netId} not found`);
    return net;
  }

  private mustEndpoint(req: m.EndpointRequest): [NetworkRecord, EndpointRecord] {
    const net = this.mustNetwork(req?.NetworkID);
    const epId = requireId(req.EndpointID, 'EndpointID');
    const ep = net.endpoints[epId];
    if (ep === undefined) throw new DriverError('E_DRIVER_NOT_FOUND', `endpoint ${epId} not found in network ${net.id}`);
    return [net, ep];
  }
}

// ---- helpers ---------------------------------------------------------------------------

function requireId(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new DriverError('E_DRIVER_REQUEST', `${field} must be a non-empty string`);
  return value;
}

function nonEmpty(v: string | undefined | null): string | null {
  return v === undefined || v === null || v === '' ? null : v;
}

function short(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}

/** The IP of an endpoint CIDR, or null when empty; E_DRIVER_REQUEST when malformed or of the wrong family. */
function parseEndpointCidr(text: string | undefined, family: 4 | 6, field: string): Ip | null {
  if (text === undefined || text === null || text === '') return null;
  const address = parseIpPrefix(text);
  if (address === null || address.ip.family !== family) {
    throw new DriverError('E_DRIVER_REQUEST', `${field}: expected an IPv${family} CIDR, got "${String(text)}"`);
  }
  return address.ip;
}

function endpointReply(ep: EndpointRecord): m.CreateEndpointResponse {
  // Never echo what the daemon supplied (it fails the start, even for equal values).
  return ep.macGenerated ? { Interface: { MacAddress: ep.mac } } : {};
}

/** Gateway IP (no mask) of the pool that holds `cidr`. */
function gatewayFor(pools: readonly PoolConfig[], cidr: string | null): string | null {
  if (cidr === null) return null;
  const ip = parseIp(addressPart(cidr));
  if (ip === null) return null;
  for (const p of pools) {
    if (p.gateway !== null && netContains(parseCidr(p.pool)!, ip)) return addressPart(p.gateway);
  }
  return null;
}

function joinReply(net: NetworkRecord, ep: EndpointRecord): m.JoinResponse {
  const reply: m.JoinResponse = { InterfaceName: { SrcName: ep.srcName, DstPrefix: net.dstPrefix } };
  if (!net.internal) {
    const gw4 = gatewayFor(net.ipv4, ep.address);
    const gw6 = gatewayFor(net.ipv6, ep.addressIPv6);
    if (gw4 !== null) reply.Gateway = gw4;
    if (gw6 !== null) reply.GatewayIPv6 = gw6;
  }
  if (net.staticRoutes.length > 0) reply.StaticRoutes = net.staticRoutes.map((r) => ({ ...r }));
  if (net.disableGatewayService) reply.DisableGatewayService = true;
  return reply;
}

function nodeOf(req: m.DiscoveryRequest): NodeRecord | null {
  if (req === null || typeof req !== 'object' || typeof req.DiscoveryType !== 'number') {
    throw new DriverError('E_DRIVER_REQUEST', 'DiscoveryType must be an integer');
  }
  if (req.DiscoveryType !== 1) return null; // only node discovery is forwarded by the daemon
  const d = req.DiscoveryData as { Address?: unknown; BindAddress?: unknown; Self?: unknown } | null | undefined;
  if (d === null || typeof d !== 'object' || typeof d.Address !== 'string' || d.Address === '') {
    throw new DriverError('E_DRIVER_REQUEST', 'DiscoveryData.Address must be a non-empty string for node discovery');
  }
  return { address: d.Address, bindAddress: typeof d.BindAddress === 'string' ? d.BindAddress : '', self: d.Self === true };
}
