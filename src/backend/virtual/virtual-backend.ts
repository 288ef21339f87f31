/**
 * The virtual backend: an in-memory model of Linux networking that checks the
 * kernel's rules and fails with the kernel's errno kinds. Needs no root, runs
 * anywhere, deterministic (MACs come from a seeded generator).
 *
 * Modelled: namespaces (host + sandboxes by key, each with `lo`), veth pairs,
 * bridges with ports (auto MTU), dummies, ifindex per namespace, name rules and
 * `%d` templates, MAC/MTU/up state, addresses (IPv4 primary/secondary, IPv6
 * dropped on down or MTU < 1280), main-table routes (connected, on-link, via
 * gateway), moves between namespaces, cascading deletes,
 * bridge MAC following the lowest port MAC unless set, live renames (Linux >= 6.8).
 * Not modelled (documented simplifications): carrier/operstate, IPv6 link-local
 * autoconfiguration, local/broadcast tables (IPv4 addresses on `lo` and ::1 make no
 * main-table routes), multipath, neighbour tables, sysctls other than the defaults.
 *
 * Extras for tests (not part of `Backend`): `snapshot`, `render`,
 * `checkInvariants`, `failNext` fault injection.
 */
import {
  BackendError,
  DEFAULT_MTU,
  HOST_NAMESPACE,
  MAX_MTU,
  MIN_MTU,
  isNameTemplate,
  linkNameProblem,
  type AddressInfo,
  type Backend,
  type BackendOp,
  type Errno,
  type Family,
  type LinkInfo,
  type LinkKind,
  type LinkOptions,
  type NamespaceKey,
  type RouteInfo,
  type RouteSpec,
  type VethOptions,
} from '../backend.js';
import { AddressError, formatIp, formatMac, isValidLinkMac, netContains, parseIp, parseIpPrefix, parseMac, randomLinkMac, readIpPrefix, sameIp, type Ip, type Net } from '../../net/index.js';
import type { VAddress, VLink, VNamespace, VRoute } from './model.js';
import { renderSnapshot, type LinkSnapshot, type NamespaceSnapshot, type VirtualSnapshot } from './snapshot.js';

export interface VirtualBackendOptions {
  /** Seed of the MAC generator (default 1): equal seeds and calls give equal MACs. */
  readonly seed?: number;
  /**
   * Renaming an up link is allowed (Linux >= 6.8, default true); false models
   * older kernels, which answer EBUSY.
   */
  readonly liveRename?: boolean;
}

/** An injected failure (see `failNext`). */
export interface FaultSpec {
  /** How many matching calls fail (default 1). */
  readonly times?: number;
  /** Only calls whose arguments satisfy this fail. */
  readonly match?: (args: readonly unknown[]) => boolean;
  /** Extack-like text of the injected error (default `injected fault`). */
  readonly detail?: string;
}

interface Fault {
  readonly op: BackendOp;
  readonly errno: Errno;
  remaining: number;
  readonly match: ((args: readonly unknown[]) => boolean) | undefined;
  readonly detail: string;
}

const LOOPBACK_MTU = 65536;
const ZERO_MAC = '00:00:00:00:00:00';
const LOOPBACK_MAX_MTU = 0x7fffffff;
/** IPV6_MIN_MTU: below it the kernel drops a link's IPv6 configuration. */
const IPV6_MIN_MTU = 1280;
/** Kernel default metrics: IPv4 0; IPv6 user routes 1024 (IP6_RT_PRIO_USER), connected 256. */
const IPV6_USER_METRIC = 1024;
const IPV6_CONNECTED_METRIC = 256;
const MAX_TEMPLATE_INDEX = 32767;

export class VirtualBackend implements Backend {
  readonly kind = 'virtual';
  private readonly namespaces = new Map<NamespaceKey, VNamespace>();
  private readonly faults: Fault[] = [];
  private rng: number;
  private readonly liveRename: boolean;
  private closed = false;

  constructor(options: VirtualBackendOptions = {}) {
    this.rng = (options.seed ?? 1) >>> 0 || 1;
    this.liveRename = options.liveRename ?? true;
    this.addNamespace(HOST_NAMESPACE, true);
  }

  // ---- Backend: namespaces ---------------------------------------------------------

  async createNamespace(key: NamespaceKey): Promise<void> {
    this.enter('createNamespace', key, [key]);
    if (typeof key !== 'string' || key.length === 0) this.fail('EINVAL', 'createNamespace', String(key), 'empty namespace key');
    if (this.namespaces.has(key)) this.fail('EEXIST', 'createNamespace', key);
    this.addNamespace(key, false);
  }

  async deleteNamespace(key: NamespaceKey): Promise<void> {
    this.enter('deleteNamespace', key, [key]);
    const ns = this.ns('deleteNamespace', key);
    if (key === HOST_NAMESPACE) this.fail('EPERM', 'deleteNamespace', key, 'the host namespace cannot be deleted');
    for (const link of [...ns.links.values()]) {
      if (ns.links.get(link.name) !== link) continue; // already removed as a peer
      if (link.peer !== null) this.removeLink(link.peer);
      this.removeLink(link);
    }
    this.namespaces.delete(key);
  }

  async listNamespaces(): Promise<NamespaceKey[]> {
    this.enter('listNamespaces', '', []);
    return [...this.namespaces.keys()];
  }

  // ---- Backend: links -------------------------------------------------------------

  async createBridge(nsKey: NamespaceKey, name: string, options: LinkOptions = {}): Promise<LinkInfo> {
    const op = 'createBridge';
    this.enter(op, `${nsKey}/${name}`, [nsKey, name, options]);
    const ns = this.ns(op, nsKey);
    // Order of the kernel's checks: name syntax, attributes (MAC, MTU), then name in use.
    this.checkNameSyntax(op, ns, name);
    const mac = this.optionalMac(op, `${nsKey}/${name}`, options.mac);
    const mtu = this.checkMtu(op, `${nsKey}/${name}`, 'bridge', options.mtu ?? DEFAULT_MTU);
    const finalName = this.newName(op, ns, name);
    return info(this.addLink(ns, finalName, 'bridge', mtu, mac));
  }

  async createVethPair(nsKey: NamespaceKey, name: string, peerName: string, options: VethOptions = {}): Promise<[LinkInfo, LinkInfo]> {
    const op = 'createVethPair';
    const target = `${nsKey}/${name}`;
    this.enter(op, target, [nsKey, name, peerName, options]);
    const ns = this.ns(op, nsKey);
    this.checkNameSyntax(op, ns, name);
    this.checkNameSyntax(op, ns, peerName);
    // veth_validate checks the link's MAC then MTU; the peer's are checked after.
    const mac = this.optionalMac(op, target, options.mac);
    const mtu = this.checkMtu(op, target, 'veth', options.mtu ?? DEFAULT_MTU);
    const peerMac = this.optionalMac(op, `${nsKey}/${peerName}`, options.peerMac);
    const peerMtu = this.checkMtu(op, `${nsKey}/${peerName}`, 'veth', options.peerMtu ?? options.mtu ?? DEFAULT_MTU);
    const finalPeer = this.newName(op, ns, peerName);
    let finalName: string;
    try {
      finalName = this.newName(op, ns, name, finalPeer);
    } catch (e) {
      // The kernel had registered the peer already: its ifindex is spent even though nothing remains.
      this.allocIndex(ns);
      throw e;
    }
    // veth_newlink registers the peer first: it gets the lower ifindex.
    const b = this.addLink(ns, finalPeer, 'veth', peerMtu, peerMac);
    const a = this.addLink(ns, finalName, 'veth', mtu, mac);
    a.peer = b;
    b.peer = a;
    return [info(a), info(b)];
  }

  async createDummy(nsKey: NamespaceKey, name: string, options: LinkOptions = {}): Promise<LinkInfo> {
    const op = 'createDummy';
    this.enter(op, `${nsKey}/${name}`, [nsKey, name, options]);
    const ns = this.ns(op, nsKey);
    this.checkNameSyntax(op, ns, name);
    const mac = this.optionalMac(op, `${nsKey}/${name}`, options.mac);
    const mtu = this.checkMtu(op, `${nsKey}/${name}`, 'dummy', options.mtu ?? DEFAULT_MTU);
    const finalName = this.newName(op, ns, name);
    return info(this.addLink(ns, finalName, 'dummy', mtu, mac));
  }

  async deleteLink(nsKey: NamespaceKey, name: string): Promise<void> {
    const op = 'deleteLink';
    this.enter(op, `${nsKey}/${name}`, [nsKey, name]);
    const link = this.link(op, nsKey, name);
    if (link.kind === 'loopback') this.fail('EOPNOTSUPP', op, `${nsKey}/${name}`);
    if (link.peer !== null) this.removeLink(link.peer);
    this.removeLink(link);
  }

  async setLinkUp(nsKey: NamespaceKey, name: string): Promise<void> {
    this.enter('setLinkUp', `${nsKey}/${name}`, [nsKey, name]);
    const link = this.link('setLinkUp', nsKey, name);
    if (link.up) return;
    link.up = true;
    if (link.kind === 'loopback') {
      // inetdev/addrconf give a loopback its addresses when it comes up (if the MTU allows the family).
      const has = (cidr: string): boolean => link.addresses.some((a) => a.text === cidr);
      if (!has('127.0.0.1/8') && link.mtu >= MIN_MTU) link.addresses.push(parseAddress('127.0.0.1/8')!);
      if (!has('::1/128') && link.mtu >= IPV6_MIN_MTU) link.addresses.push(parseAddress('::1/128')!);
    }
    for (const a of link.addresses) if (isPrimary(link, a)) this.addConnectedRoute(link, a);
  }

  async setLinkDown(nsKey: NamespaceKey, name: string): Promise<void> {
    this.enter('setLinkDown', `${nsKey}/${name}`, [nsKey, name]);
    const link = this.link('setLinkDown', nsKey, name);
    if (!link.up) return;
    this.bringDown(link);
  }

  async setMtu(nsKey: NamespaceKey, name: string, mtu: number): Promise<void> {
    const op = 'setMtu';
    this.enter(op, `${nsKey}/${name}`, [nsKey, name, mtu]);
    const link = this.link(op, nsKey, name);
    this.checkMtu(op, `${nsKey}/${name}`, link.kind, mtu);
    // dev_set_mtu returns early for an unchanged value: only a real change pins a bridge's MTU.
    if (mtu === link.mtu) return;
    if (link.kind === 'bridge') link.mtuSetByUser = true;
    this.changeMtu(link, mtu);
  }

  async setMac(nsKey: NamespaceKey, name: string, mac: string): Promise<void> {
    const op = 'setMac';
    this.enter(op, `${nsKey}/${name}`, [nsKey, name, mac]);
    const link = this.link(op, nsKey, name);
    link.mac = this.checkMac(op, `${nsKey}/${name}`, mac); // even lo takes one (Linux 6.18)
    if (link.kind === 'bridge') link.macSetByUser = true;
    if (link.master !== null) this.recalcBridgeMac(link.master);
  }

  async setMaster(nsKey: NamespaceKey, name: string, master: string | null): Promise<void> {
    const op = 'setMaster';
    const target = `${nsKey}/${name}`;
    this.enter(op, target, [nsKey, name, master]);
    const link = this.link(op, nsKey, name);
    if (master === null) {
      if (link.master !== null) this.release(link);
      return;
    }
    const bridge = this.link(op, nsKey, master);
    if (link.master === bridge) return;
    if (bridge.kind !== 'bridge') this.fail('EOPNOTSUPP', op, target, `${master} is not a bridge`);
    if (link.kind === 'bridge') this.fail('ELOOP', op, target, 'a bridge cannot be a bridge port');
    if (link.kind === 'loopback') this.fail('EINVAL', op, target, 'loopback cannot be a bridge port');
    if (link.master !== null) this.release(link);
    link.master = bridge;
    bridge.ports.add(link);
    this.recalcBridgeMac(bridge);
    // The bridge already follows the minimum of its other ports: only a smaller newcomer changes it.
    if (bridge.ports.size > 1 && link.mtu >= bridge.mtu && !bridge.mtuSetByUser) return;
    this.adjustBridgeMtu(bridge);
  }

  async moveLink(nsKey: NamespaceKey, name: string, targetKey: NamespaceKey, newName?: string): Promise<void> {
    const op = 'moveLink';
    const target = `${nsKey}/${name}`;
    this.enter(op, target, [nsKey, name, targetKey, newName]);
    // Both namespaces and the new name's syntax are checked before the link (as `ip link set ... netns` does).
    const src = this.ns(op, nsKey);
    const dest = this.ns(op, targetKey);
    if (newName !== undefined) this.checkNameSyntax(op, src, newName);
    const link = this.link(op, nsKey, name);
    if (dest === link.ns) {
      if (newName !== undefined) this.rename(op, link, newName);
      return;
    }
    if (link.kind === 'bridge' || link.kind === 'loopback') this.fail('EINVAL', op, target, `${link.kind} links are netns-local`);
    const finalName = this.newName(op, dest, newName ?? link.name);
    // dev_close + unregister from the old namespace: down, no master, no addresses, no routes.
    if (link.up) this.bringDown(link);
    if (link.master !== null) this.release(link);
    link.addresses = [];
    this.dropRoutes(link.ns, (r) => r.dev === link);
    link.ns.links.delete(link.name);
    link.ns.indices.delete(link.index);
    const keepIndex = !dest.indices.has(link.index);
    link.ns = dest;
    link.name = finalName;
    link.index = keepIndex ? link.index : this.allocIndex(dest);
    dest.indices.add(link.index);
    dest.links.set(finalName, link);
  }

  async renameLink(nsKey: NamespaceKey, name: string, newName: string): Promise<void> {
    this.enter('renameLink', `${nsKey}/${name}`, [nsKey, name, newName]);
    // iproute2 rejects a bad new name while parsing, before the device is looked up.
    this.checkNameSyntax('renameLink', this.ns('renameLink', nsKey), newName);
    this.rename('renameLink', this.link('renameLink', nsKey, name), newName);
  }

  // ---- Backend: addresses -----------------------------------------------------------

  async addAddress(nsKey: NamespaceKey, linkName: string, cidr: string): Promise<void> {
    const op = 'addAddress';
    const target = `${nsKey}/${linkName}`;
    this.enter(op, target, [nsKey, linkName, cidr]);
    const link = this.link(op, nsKey, linkName);
    const addr = parseAddress(cidr);
    if (addr === null) this.fail('EINVAL', op, target, `invalid address "${cidr}"`);
    if (addr.family === 6 && link.mtu < IPV6_MIN_MTU) this.fail('EINVAL', op, target, `IPv6 needs an MTU of at least ${IPV6_MIN_MTU}`);
    if (addr.family === 4 && link.mtu < MIN_MTU) this.fail('ENOBUFS', op, target, `IPv4 is off below MTU ${MIN_MTU}`);
    if (link.addresses.some((a) => sameAddress(a, addr))) this.fail('EEXIST', op, target);
    link.addresses.push(addr);
    if (link.up && isPrimary(link, addr)) this.addConnectedRoute(link, addr);
  }

  async deleteAddress(nsKey: NamespaceKey, linkName: string, cidr: string): Promise<void> {
    const op = 'deleteAddress';
    const target = `${nsKey}/${linkName}`;
    this.enter(op, target, [nsKey, linkName, cidr]);
    const link = this.link(op, nsKey, linkName);
    const addr = parseAddress(cidr);
    if (addr === null) this.fail('EINVAL', op, target, `invalid address "${cidr}"`);
    const found = link.addresses.find((a) => a.family === addr.family && a.prefix === addr.prefix && sameIp(a.ip, addr.ip));
    if (found === undefined) this.fail('EADDRNOTAVAIL', op, target);
    let gone: VAddress[] = [found];
    if (found.family === 4 && isPrimary(link, found)) {
      // promote_secondaries=0: the secondaries of the subnet go with their primary.
      gone = link.addresses.filter((a) => a.family === 4 && a.prefix === found.prefix && a.net.text === found.net.text);
    }
    link.addresses = link.addresses.filter((a) => !gone.includes(a));
    this.dropRoutes(link.ns, (r) => r.dev === link && r.protocol === 'kernel' && gone.some((g) => r.owner !== null && sameIp(r.owner, g.ip)));
    if (!link.addresses.some((a) => a.family === found.family)) {
      this.dropRoutes(link.ns, (r) => r.dev === link && r.family === found.family);
    }
  }

  // ---- Backend: routes --------------------------------------------------------------

  async addRoute(nsKey: NamespaceKey, spec: RouteSpec): Promise<void> {
    const op = 'addRoute';
    const target = `${nsKey} ${describeSpec(spec)}`;
    this.enter(op, target, [nsKey, spec]);
    const ns = this.ns(op, nsKey);
    const destination = this.parseDestination(op, target, spec.destination);
    const family = destination.family;
    const gateway = spec.gateway === undefined ? null : parseIp(spec.gateway);
    if (spec.gateway !== undefined && gateway === null) this.fail('EINVAL', op, target, `invalid gateway "${spec.gateway}"`);
    if (gateway !== null && gateway.family !== family) this.fail('EINVAL', op, target, 'gateway and destination families differ');
    const metric = this.parseMetric(op, target, family, spec.metric);
    let dev: VLink | null = null;
    if (spec.dev !== undefined) {
      dev = ns.links.get(spec.dev) ?? null;
      if (dev === null) this.fail('ENODEV', op, target, `Cannot find device "${spec.dev}"`);
    }
    const onlink = spec.onlink === true;
    if (onlink && dev === null) this.fail('EINVAL', op, target, 'Nexthop device required for onlink');
    if (gateway === null && dev === null) this.fail('ENODEV', op, target);
    if (gateway === null) {
      if (onlink && family === 4) this.fail('EINVAL', op, target, 'Invalid flags for nexthop - PERVASIVE and ONLINK can not be set');
      if (!dev!.up) this.fail('ENETDOWN', op, target, 'Nexthop device is not up');
    } else {
      if (family === 6 && dev !== null && dev.kind === 'loopback') {
        this.fail('EINVAL', op, target, 'Egress device can not be loopback device for this route');
      }
      if (onlink) {
        if (!dev!.up) this.fail('ENETDOWN', op, target, 'Nexthop device is not up');
      } else if (family === 6 && isIpv6LinkLocal(gateway)) {
        if (dev === null) this.fail('EINVAL', op, target, 'Egress device not specified');
        if (!dev.up) this.fail('ENETDOWN', op, target, 'Nexthop device is not up');
      } else {
        // The next hop is looked up first: through a down link it is simply unreachable.
        if (family === 6 && isLocalAddress(ns, gateway)) this.fail('EINVAL', op, target, 'Gateway can not be a local address');
        const via = lookupOnLink(ns, gateway, dev);
        if (via === null) this.fail(family === 4 ? 'ENETUNREACH' : 'EHOSTUNREACH', op, target, 'Nexthop has invalid gateway');
        if (!via.up) this.fail('ENETDOWN', op, target, 'Nexthop device is not up');
        dev = via;
      }
    }
    if (ns.routes.some((r) => r.family === family && r.destination.text === destination.text && r.metric === metric)) {
      this.fail('EEXIST', op, target);
    }
    ns.routes.push({ family, destination, gateway, dev: dev!, metric, protocol: 'static', onlink, owner: null });
  }

  async deleteRoute(nsKey: NamespaceKey, spec: RouteSpec): Promise<void> {
    const op = 'deleteRoute';
    const target = `${nsKey} ${describeSpec(spec)}`;
    this.enter(op, target, [nsKey, spec]);
    const ns = this.ns(op, nsKey);
    const destination = this.parseDestination(op, target, spec.destination);
    const gateway = spec.gateway === undefined ? null : parseIp(spec.gateway);
    if (spec.gateway !== undefined && gateway === null) this.fail('EINVAL', op, target, `invalid gateway "${spec.gateway}"`);
    if (gateway !== null && gateway.family !== destination.family) this.fail('EINVAL', op, target, 'gateway and destination families differ');
    if (spec.metric !== undefined) this.parseMetric(op, target, destination.family, spec.metric);
    if (spec.dev !== undefined && !ns.links.has(spec.dev)) this.fail('ENODEV', op, target, `Cannot find device "${spec.dev}"`);
    const i = ns.routes.findIndex(
      (r) =>
        r.family === destination.family &&
        r.destination.text === destination.text &&
        (gateway === null || (r.gateway !== null && sameIp(r.gateway, gateway))) &&
        (spec.dev === undefined || r.dev.name === spec.dev) &&
        (spec.metric === undefined || spec.metric === 0 || r.metric === spec.metric),
    );
    if (i < 0) {
      // IPv6 finds its null entry at the root (::/0) and, unless a dev, gateway or metric
      // filter skips it, fib6_del refuses it: ENOENT (Linux 6.18).
      const unfiltered = spec.dev === undefined && spec.gateway === undefined && (spec.metric === undefined || spec.metric === 0);
      const ipv6Root = unfiltered && destination.family === 6 && destination.prefix === 0 && !ns.routes.some((r) => r.family === 6 && r.destination.prefix === 0);
      this.fail(ipv6Root ? 'ENOENT' : 'ESRCH', op, target);
    }
    ns.routes.splice(i, 1);
  }

  // ---- Backend: queries -------------------------------------------------------------

  async getLink(nsKey: NamespaceKey, name: string): Promise<LinkInfo> {
    this.enter('getLink', `${nsKey}/${name}`, [nsKey, name]);
    return info(this.link('getLink', nsKey, name));
  }

  async listLinks(nsKey: NamespaceKey): Promise<LinkInfo[]> {
    this.enter('listLinks', nsKey, [nsKey]);
    return sortedLinks(this.ns('listLinks', nsKey)).map(info);
  }

  async listAddresses(nsKey: NamespaceKey, linkName?: string): Promise<AddressInfo[]> {
    this.enter('listAddresses', linkName === undefined ? nsKey : `${nsKey}/${linkName}`, [nsKey, linkName]);
    const ns = this.ns('listAddresses', nsKey);
    const links = linkName === undefined ? sortedLinks(ns) : [this.link('listAddresses', nsKey, linkName)];
    return links.flatMap((l) => byFamily(l.addresses).map((a) => ({ link: l.name, cidr: a.text, family: a.family })));
  }

  async listRoutes(nsKey: NamespaceKey, family?: Family): Promise<RouteInfo[]> {
    this.enter('listRoutes', nsKey, [nsKey, family]);
    return sortedRoutes(this.ns('listRoutes', nsKey)).filter((r) => family === undefined || r.family === family).map(routeInfo);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- Extras: fault injection, snapshots, invariants ----------------------------------

  /**
   * Make the next call(s) of `op` fail with `errno` before changing anything,
   * as if the kernel refused. Faults queue in order; `match` narrows them to
   * calls with given arguments (`[ns, name, ...]` as passed).
   */
  failNext(op: BackendOp, errno: Errno, spec: FaultSpec = {}): void {
    const times = spec.times ?? 1;
    if (!Number.isSafeInteger(times) || times < 1) throw new RangeError(`failNext: times must be a positive integer, got ${times}`);
    this.faults.push({ op, errno, remaining: times, match: spec.match, detail: spec.detail ?? 'injected fault' });
  }

  /** Drop every pending injected fault. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Injected faults not yet triggered. */
  pendingFaults(): number {
    return this.faults.reduce((n, f) => n + f.remaining, 0);
  }

  /** Deep, immutable, JSON-able copy of the observable state (no counters, no generator state). */
  snapshot(): VirtualSnapshot {
    const namespaces: NamespaceSnapshot[] = [...this.namespaces.values()].map((ns) => ({
      key: ns.key,
      links: sortedLinks(ns).map(
        (l): LinkSnapshot => ({ ...info(l), addresses: byFamily(l.addresses).map((a) => a.text) }),
      ),
      routes: sortedRoutes(ns).map(routeInfo),
    }));
    return deepFreeze({ namespaces });
  }

  /** The current state as a readable tree (see `renderSnapshot`). */
  render(): string {
    return renderSnapshot(this.snapshot());
  }

  /** Every broken structural rule, as sentences; empty when the model is consistent. */
  checkInvariants(): string[] {
    const problems: string[] = [];
    const bad = (msg: string): void => {
      problems.push(msg);
    };
    if (!this.namespaces.has(HOST_NAMESPACE)) bad('the host namespace is missing');
    for (const ns of this.namespaces.values()) {
      const indices = new Set<number>();
      let loopbacks = 0;
      for (const [name, l] of ns.links) {
        const at = `${ns.key}/${name}`;
        if (l.name !== name) bad(`${at}: stored under a name that is not its own (${l.name})`);
        if (l.ns !== ns) bad(`${at}: link thinks it lives in ${l.ns.key}`);
        if (linkNameProblem(l.name) !== null || isNameTemplate(l.name)) bad(`${at}: invalid name`);
        if (indices.has(l.index)) bad(`${at}: ifindex ${l.index} used twice`);
        indices.add(l.index);
        if (l.kind === 'loopback') {
          loopbacks++;
          if (l.index !== 1) bad(`${at}: loopback must have ifindex 1`); // it may be renamed (the kernel allows it)
        } else {
          const mac = parseMac(l.mac);
          const zeroBridge = l.kind === 'bridge' && l.mac === ZERO_MAC && !l.macSetByUser && l.ports.size === 0;
          if (mac === null || (!isValidLinkMac(mac) && !zeroBridge) || formatMac(mac) !== l.mac) bad(`${at}: invalid MAC ${l.mac}`);
        }
        if (l.kind === 'bridge' && !l.macSetByUser && l.ports.size > 0) {
          const lowest = [...l.ports].map((p) => p.mac).sort()[0];
          if (l.mac !== lowest) bad(`${at}: bridge MAC ${l.mac} does not follow its lowest port ${lowest}`);
        }
        const [min, max] = mtuBounds(l.kind);
        if (!Number.isInteger(l.mtu) || l.mtu < min || l.mtu > max) bad(`${at}: MTU ${l.mtu} out of range`);
        if (l.kind === 'veth') {
          if (l.peer === null) bad(`${at}: veth without peer`);
          else if (l.peer.peer !== l) bad(`${at}: peer ${l.peer.name} does not point back`);
          else if (this.namespaces.get(l.peer.ns.key) !== l.peer.ns || l.peer.ns.links.get(l.peer.name) !== l.peer) {
            bad(`${at}: peer ${l.peer.ns.key}/${l.peer.name} is not in its namespace`);
          }
        } else if (l.peer !== null) bad(`${at}: ${l.kind} with a peer`);
        for (const p of l.ports) if (p.master !== l) bad(`${at}: lists ${p.name} as a port, which has another master`);
        if (l.master !== null) {
          if (!l.master.ports.has(l)) bad(`${at}: master ${l.master.name} does not list it as a port`);
          if (l.master.kind !== 'bridge') bad(`${at}: master ${l.master.name} is not a bridge`);
          if (l.master.ns !== ns || ns.links.get(l.master.name) !== l.master) bad(`${at}: master ${l.master.name} is not in the namespace`);
          if (l.kind === 'bridge' || l.kind === 'loopback') bad(`${at}: a ${l.kind} cannot be a port`);
        }
        if (l.kind === 'bridge' && !l.mtuSetByUser) {
          const ports = portsOf(l);
          if (ports.length > 0 && l.mtu !== Math.min(...ports.map((p) => p.mtu))) bad(`${at}: bridge MTU ${l.mtu} does not follow its ports`);
        }
        for (let i = 0; i < l.addresses.length; i++) {
          const a = l.addresses[i];
          if (l.addresses.some((b, j) => j < i && sameAddress(a, b))) bad(`${at}: address ${a.text} twice`);
          if (a.family === 6 && l.mtu < IPV6_MIN_MTU) bad(`${at}: IPv6 address ${a.text} with MTU ${l.mtu}`);
        }
      }
      if (loopbacks !== 1) bad(`${ns.key}: needs exactly one loopback`);
      if (ns.indices.size !== ns.links.size || [...ns.links.values()].some((l) => !ns.indices.has(l.index))) bad(`${ns.key}: ifindex set out of step`);
      for (const r of ns.routes) {
        const at = `${ns.key} route ${r.destination.text} dev ${r.dev.name}`;
        if (r.dev.ns !== ns || ns.links.get(r.dev.name) !== r.dev) bad(`${at}: device not in the namespace`);
        if (!r.dev.up) bad(`${at}: device is down`);
        if (r.gateway !== null && r.gateway.family !== r.family) bad(`${at}: gateway family`);
        if (r.protocol === 'kernel') {
          const a = r.dev.addresses.find((x) => r.owner !== null && sameIp(x.ip, r.owner) && x.net.text === r.destination.text);
          if (a === undefined) bad(`${at}: connected route without its address`);
        }
        if (ns.routes.some((o) => o !== r && o.protocol === 'static' && r.protocol === 'static' && o.family === r.family && o.destination.text === r.destination.text && o.metric === r.metric)) {
          bad(`${at}: duplicate static route`);
        }
      }
    }
    return problems;
  }

  /** Throws an Error listing every broken invariant. */
  assertInvariants(): void {
    const problems = this.checkInvariants();
    if (problems.length > 0) throw new Error(`virtual backend invariants broken:\n  ${problems.join('\n  ')}`);
  }

  // ---- internals ------------------------------------------------------------------

  private enter(op: BackendOp, target: string, args: readonly unknown[]): void {
    if (this.closed) throw new BackendError('EIO', op, target, 'backend is closed');
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i];
      if (f.op !== op || (f.match !== undefined && !f.match(args))) continue;
      if (--f.remaining === 0) this.faults.splice(i, 1);
      throw new BackendError(f.errno, op, target, f.detail);
    }
  }

  private fail(errno: Errno, op: string, target: string, detail?: string): never {
    throw new BackendError(errno, op, target, detail);
  }

  private ns(op: string, key: NamespaceKey): VNamespace {
    const ns = this.namespaces.get(key);
    if (ns === undefined) this.fail('ENOENT', op, String(key), `no namespace "${String(key)}"`);
    return ns;
  }

  private link(op: string, nsKey: NamespaceKey, name: string): VLink {
    const link = this.ns(op, nsKey).links.get(name);
    if (link === undefined) this.fail('ENODEV', op, `${nsKey}/${name}`, `Cannot find device "${name}"`);
    return link;
  }

  private addNamespace(key: NamespaceKey, hostLike: boolean): void {
    const ns: VNamespace = { key, links: new Map(), indices: new Set(), nextIndex: 1, routes: [] };
    this.namespaces.set(key, ns);
    const lo = this.addLink(ns, 'lo', 'loopback', LOOPBACK_MTU, '00:00:00:00:00:00');
    if (hostLike) {
      lo.up = true;
      lo.addresses.push(parseAddress('127.0.0.1/8')!, parseAddress('::1/128')!);
    }
  }

  private addLink(ns: VNamespace, name: string, kind: LinkKind, mtu: number, mac: string | undefined): VLink {
    const link: VLink = {
      ns,
      name,
      index: this.allocIndex(ns),
      kind,
      mac: mac ?? this.randomMac(),
      mtu,
      up: false,
      master: null,
      ports: new Set(),
      peer: null,
      mtuSetByUser: false,
      macSetByUser: mac !== undefined,
      addresses: [],
    };
    ns.links.set(name, link);
    ns.indices.add(link.index);
    return link;
  }

  private allocIndex(ns: VNamespace): number {
    while (ns.indices.has(ns.nextIndex)) ns.nextIndex++;
    return ns.nextIndex++;
  }

  private randomMac(): string {
    const bytes = new Uint8Array(6);
    for (let i = 0; i < 6; i++) {
      // xorshift32: deterministic per seed.
      let x = this.rng;
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      this.rng = x >>> 0;
      bytes[i] = this.rng & 0xff;
    }
    return randomLinkMac(bytes);
  }

  private checkNameSyntax(op: string, ns: VNamespace, name: string): void {
    const problem = typeof name === 'string' ? linkNameProblem(name) : 'name must be a string';
    if (problem !== null) this.fail('EINVAL', op, `${ns.key}/${String(name)}`, problem);
  }

  /** Validates a new name for `ns` (template expanded), EEXIST when taken or equal to `alsoTaken`. */
  private newName(op: string, ns: VNamespace, name: string, alsoTaken?: string): string {
    const target = `${ns.key}/${name}`;
    if (typeof name !== 'string') this.fail('EINVAL', op, target, 'name must be a string');
    const problem = linkNameProblem(name);
    if (problem !== null) this.fail('EINVAL', op, target, problem);
    const taken = (n: string): boolean => ns.links.has(n) || n === alsoTaken;
    if (!isNameTemplate(name)) {
      if (taken(name)) this.fail('EEXIST', op, target);
      return name;
    }
    for (let i = 0; i <= MAX_TEMPLATE_INDEX; i++) {
      const candidate = name.replace('%d', String(i));
      if (linkNameProblem(candidate) !== null) this.fail('EINVAL', op, target, 'expanded name too long');
      if (!taken(candidate)) return candidate;
    }
    return this.fail('ENFILE', op, target);
  }

  private rename(op: string, link: VLink, newName: string): void {
    const target = `${link.ns.key}/${link.name}`;
    if (link.up && !this.liveRename) this.fail('EBUSY', op, target, 'cannot rename a link that is up');
    if (newName === link.name) return;
    const finalName = this.newName(op, link.ns, newName);
    link.ns.links.delete(link.name);
    link.name = finalName;
    link.ns.links.set(finalName, link);
  }

  private checkMtu(op: string, target: string, kind: LinkKind, mtu: number): number {
    const [min, max] = mtuBounds(kind);
    if (!Number.isInteger(mtu)) this.fail('EINVAL', op, target, `MTU must be an integer, got ${String(mtu)}`);
    if (mtu < min) this.fail('EINVAL', op, target, `mtu less than device minimum (${min})`);
    if (mtu > max) this.fail('EINVAL', op, target, `mtu greater than device maximum (${max})`);
    return mtu;
  }

  private optionalMac(op: string, target: string, mac: string | undefined): string | undefined {
    return mac === undefined ? undefined : this.checkMac(op, target, mac);
  }

  private checkMac(op: string, target: string, mac: string): string {
    const bytes = typeof mac === 'string' ? parseMac(mac) : null;
    if (bytes === null) this.fail('EINVAL', op, target, `invalid MAC address "${String(mac)}"`);
    if (!isValidLinkMac(bytes)) this.fail('EADDRNOTAVAIL', op, target, `${mac} is not a unicast address`);
    return formatMac(bytes);
  }

  private parseDestination(op: string, target: string, text: string): Net {
    try {
      return readIpPrefix(text, { requireNetwork: true }).net;
    } catch (e) {
      if (!(e instanceof AddressError)) throw e;
      if (e.code === 'E_ADDR_PREFIX_LENGTH') this.fail('EINVAL', op, target, `invalid prefix length in "${text}"`);
      if (e.code === 'E_ADDR_HOST_BITS') this.fail('EINVAL', op, target, 'Invalid prefix for given prefix length');
      this.fail('EINVAL', op, target, `invalid destination "${String(text)}"`);
    }
  }

  private parseMetric(op: string, target: string, family: Family, metric: number | undefined): number {
    if (metric === undefined) return family === 4 ? 0 : IPV6_USER_METRIC;
    if (!Number.isInteger(metric) || metric < 0 || metric > 0xffffffff) this.fail('EINVAL', op, target, `invalid metric ${String(metric)}`);
    return family === 6 && metric === 0 ? IPV6_USER_METRIC : metric;
  }

  private addConnectedRoute(link: VLink, a: VAddress): void {
    // On the loopback only IPv6 prefixes reach the main table, and not ::1 (checked on Linux 6.18).
    if (link.kind === 'loopback' && (a.family === 4 || a.text === '::1/128')) return;
    if (a.family === 4 && a.prefix === 32) return; // no prefix route for a /32
    const metric = a.family === 4 ? 0 : IPV6_CONNECTED_METRIC;
    const exists = link.ns.routes.some((r) => r.protocol === 'kernel' && r.dev === link && r.destination.text === a.net.text);
    if (exists) return;
    link.ns.routes.push({ family: a.family, destination: a.net, gateway: null, dev: link, metric, protocol: 'kernel', onlink: false, owner: a.ip });
  }

  private dropRoutes(ns: VNamespace, pred: (r: VRoute) => boolean): void {
    // Most calls drop nothing (a veth in the host namespace has no routes): no copy then.
    if (ns.routes.some(pred)) ns.routes = ns.routes.filter((r) => !pred(r));
  }

  private bringDown(link: VLink): void {
    link.up = false;
    this.dropRoutes(link.ns, (r) => r.dev === link);
    // keep_addr_on_down=0: IPv6 addresses are flushed, the loopback's too (::1 returns on up).
    link.addresses = link.addresses.filter((a) => a.family !== 6);
  }

  private changeMtu(link: VLink, mtu: number): void {
    if (link.mtu === mtu) return;
    link.mtu = mtu;
    // Below the family minimum the kernel tears the family's configuration down (inetdev_destroy, addrconf_ifdown).
    for (const [family, min] of [[6, IPV6_MIN_MTU], [4, MIN_MTU]] as const) {
      if (mtu >= min || !link.addresses.some((a) => a.family === family)) continue;
      link.addresses = link.addresses.filter((a) => a.family !== family);
      this.dropRoutes(link.ns, (r) => r.dev === link && r.family === family);
    }
    if (link.master !== null) this.adjustBridgeMtu(link.master);
  }

  /** br_mtu_auto_adjust: a bridge whose MTU the user never set follows its smallest port. */
  private adjustBridgeMtu(bridge: VLink): void {
    if (bridge.mtuSetByUser) return;
    let min = Infinity;
    for (const p of bridge.ports) if (p.mtu < min) min = p.mtu;
    this.changeMtu(bridge, min === Infinity ? DEFAULT_MTU : min);
  }

  /**
   * br_stp_recalculate_bridge_id: a bridge whose MAC was never set takes the
   * lowest MAC of its ports, and 00:00:00:00:00:00 once the last port has left
   * (checked on Linux 6.18). A fresh bridge keeps its random MAC until then.
   */
  private recalcBridgeMac(bridge: VLink): void {
    if (bridge.macSetByUser) return;
    let lowest: string | null = null;
    for (const p of bridge.ports) if (lowest === null || p.mac < lowest) lowest = p.mac;
    bridge.mac = lowest ?? ZERO_MAC;
  }

  private release(link: VLink): void {
    const bridge = link.master;
    link.master = null;
    if (bridge !== null) {
      bridge.ports.delete(link);
      this.adjustBridgeMtu(bridge);
      this.recalcBridgeMac(bridge);
    }
  }

  /** Unregisters one link (not its peer): releases ports/master, drops its routes. */
  private removeLink(link: VLink): void {
    const ns = link.ns;
    if (link.master !== null) this.release(link);
    for (const port of link.ports) port.master = null;
    link.ports.clear();
    this.dropRoutes(ns, (r) => r.dev === link);
    ns.links.delete(link.name);
    ns.indices.delete(link.index);
    if (link.peer !== null) {
      link.peer.peer = null;
      link.peer = null;
    }
  }
}

// ---- helpers ------------------------------------------------------------------------

function mtuBounds(kind: LinkKind): [number, number] {
  // The loopback has no bounds but INT_MAX (Linux 6.18 takes 0).
  return kind === 'loopback' ? [0, LOOPBACK_MAX_MTU] : [MIN_MTU, MAX_MTU];
}

function portsOf(bridge: VLink): VLink[] {
  return [...bridge.ports];
}

function sortedLinks(ns: VNamespace): VLink[] {
  return [...ns.links.values()].sort((a, b) => a.index - b.index);
}

function compareValues(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedRoutes(ns: VNamespace): VRoute[] {
  return [...ns.routes].sort(
    (a, b) =>
      a.family - b.family ||
      compareValues(a.destination.base, b.destination.base) ||
      a.destination.prefix - b.destination.prefix ||
      a.metric - b.metric ||
      a.dev.index - b.dev.index,
  );
}

function info(l: VLink): LinkInfo {
  return {
    namespace: l.ns.key,
    name: l.name,
    index: l.index,
    kind: l.kind,
    mac: l.mac,
    mtu: l.mtu,
    up: l.up,
    master: l.master === null ? null : l.master.name,
    peer: l.peer === null ? null : { namespace: l.peer.ns.key, name: l.peer.name },
  };
}

function routeInfo(r: VRoute): RouteInfo {
  return {
    family: r.family,
    destination: r.destination.text,
    gateway: r.gateway === null ? null : formatIp(r.gateway),
    dev: r.dev.name,
    metric: r.metric,
    protocol: r.protocol,
    // IPv6 routes are all scope universe and carry no preferred source (`ip -6 route`).
    scope: r.family === 4 && r.gateway === null ? 'link' : 'global',
    source: r.family === 4 && r.owner !== null ? formatIp(r.owner) : null,
    onlink: r.onlink,
  };
}

function describeSpec(spec: RouteSpec): string {
  if (spec === null || typeof spec !== 'object') return String(spec);
  const parts = [String(spec.destination)];
  if (spec.gateway !== undefined) parts.push(`via ${spec.gateway}`);
  if (spec.dev !== undefined) parts.push(`dev ${spec.dev}`);
  if (spec.metric !== undefined) parts.push(`metric ${spec.metric}`);
  if (spec.onlink === true) parts.push('onlink');
  return parts.join(' ');
}

/** `10.0.0.2/24` or a bare IP (iproute2 reads it as /32 or /128). */
export function parseAddress(text: string): VAddress | null {
  const a = parseIpPrefix(text, { allowBare: true });
  return a === null ? null : { ...a, family: a.ip.family };
}

/** Kernel duplicate rules: IPv4 same local address and prefix; IPv6 same address. */
function sameAddress(a: VAddress, b: VAddress): boolean {
  if (!sameIp(a.ip, b.ip)) return false;
  return a.family === 6 || a.prefix === b.prefix;
}

/** IPv4: the first address of its subnet on the link (later ones are secondaries). IPv6: always. */
function isPrimary(link: VLink, a: VAddress): boolean {
  if (a.family === 6) return true;
  const first = link.addresses.find((x) => x.family === 4 && x.prefix === a.prefix && x.net.text === a.net.text);
  return first === a;
}

/** `ip addr` order: IPv4 addresses, then IPv6, each in insertion order. */
function byFamily(addresses: readonly VAddress[]): VAddress[] {
  // IPv4: primaries by scope (host before global), in order; secondaries at the end.
  const v4 = addresses.filter((a) => a.family === 4);
  const primaries = v4.filter((a) => !isSecondary(v4, a));
  const v4Scope = (a: VAddress): number => ((a.ip.value as number) >>> 24 === 127 ? 1 : 0);
  const orderedV4 = [...primaries.sort((x, y) => v4Scope(y) - v4Scope(x)), ...v4.filter((a) => isSecondary(v4, a))];
  // IPv6: by scope (global, link, host), newest first within a scope.
  const v6Scope = (a: VAddress): number => (a.text === '::1/128' ? 0 : isIpv6LinkLocal(a.ip) ? 1 : 2);
  const v6 = addresses.filter((a) => a.family === 6).reverse();
  return [...orderedV4, ...v6.sort((x, y) => v6Scope(y) - v6Scope(x))];
}

function isSecondary(v4: readonly VAddress[], a: VAddress): boolean {
  return v4.find((x) => x.prefix === a.prefix && x.net.text === a.net.text) !== a;
}

function isLocalAddress(ns: VNamespace, ip: Ip): boolean {
  for (const l of ns.links.values()) if (l.addresses.some((a) => sameIp(a.ip, ip))) return true;
  return false;
}

function isIpv6LinkLocal(ip: Ip): boolean {
  return ip.family === 6 && (ip.value as bigint) >> 118n === 0x3fan;
}

/** Longest-prefix on-link route (scope link) covering `ip`, through `dev` when given. */
function lookupOnLink(ns: VNamespace, ip: Ip, dev: VLink | null): VLink | null {
  let best: { prefix: number; dev: VLink } | null = null;
  const consider = (net: Net, via: VLink): void => {
    if ((dev !== null && via !== dev) || !netContains(net, ip)) return;
    if (best === null || net.prefix > best.prefix) best = { prefix: net.prefix, dev: via };
  };
  for (const r of ns.routes) {
    if (r.gateway !== null || r.family !== ip.family) continue;
    // IPv6 never resolves a next hop through the loopback (ip6_validate_gw: "No route to host").
    if (ip.family === 6 && r.dev.kind === 'loopback') continue;
    consider(r.destination, r.dev);
  }
  if (ip.family === 4) {
    // IPv4 prefixes on an up loopback are local routes (local table): a next hop there is accepted.
    for (const l of ns.links.values()) {
      if (l.kind !== 'loopback' || !l.up) continue;
      for (const a of l.addresses) if (a.family === 4) consider(a.net, l);
    }
  }
  return (best as { prefix: number; dev: VLink } | null)?.dev ?? null;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
