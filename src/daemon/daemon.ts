/**
 * createDaemon: a simulated dockerd that drives a network driver and an IPAM
 * through the call sequences of protocol.md §4 (20.10 by default, moby's
 * differences of §3 with `profile: 'moby'`), does the daemon's own part on the
 * Backend, and fails where dockerd fails, with dockerd's texts.
 *
 * Structure follows libnetwork so that every rollback falls out of the same
 * code path as in Go: network create = ipamAllocate + CreateNetwork with
 * deferred releases; container start = connectToNetwork per network
 * (CreateEndpoint with its address, sbJoin, updateJoinInfo) then the OCI hook
 * (populateNetworkResources); stop = sandbox delete (sbLeave + endpoint
 * delete per endpoint, in the sandbox's heap order).
 *
 * Operations are serialised: a call waits for the previous one to finish.
 */
import { HOST_NAMESPACE, type Backend } from '../backend/backend.js';
import { activate, type Activation } from '../client/activate.js';
import { PluginCallError, type CallOutcome, type CallRecord, type PluginCaller } from '../client/types.js';
import { Options, type Profile } from '../protocol/constants.js';
import type { JoinResponse } from '../protocol/messages.js';
import type { MethodKey, RequestOf, ResponseOf } from '../protocol/methods.js';
import { addressPart, canonicalGoMac, formatIp, type IpPrefix, isGlobalUnicast6, macBase64, type Net, netContains, netsOverlap, parseCidr, parseIp, parseIpPrefix } from '../net/index.js';
import { invalidCidr } from './addr.js';
import { DaemonError, DaemonUsageError, type DaemonOperation, type DaemonStep } from './errors.js';
import { heapPush, heapRemove } from './heap.js';
import { createIdGenerator, type IdGenerator } from './ids.js';
import type { AddrRec, AttachRec, ContainerRec, EndpointRec, JoinRec, NetworkRec, PoolRec, SandboxRec, StaticRouteRec } from './model.js';
import { SandboxFailure, addInterface, addStaticRoute, goErr, removeInterface, removeStaticRoute, updateGateway } from './sandbox.js';
import type {
  CallLogEntry,
  ContainerRunSpec,
  ContainerView,
  DaemonLeak,
  DaemonOptions,
  DaemonRestartSpec,
  DaemonView,
  EndpointView,
  IpamConfigSpec,
  NetworkAttachSpec,
  NetworkCreateSpec,
  NetworkView,
  PoolView,
} from './types.js';

export interface SimulatedDaemon {
  readonly profile: Profile;
  networkCreate(spec: NetworkCreateSpec): Promise<NetworkView>;
  networkRm(name: string): Promise<void>;
  /** `docker run -d`: create, start on the first network, connect the others. */
  containerRun(spec: ContainerRunSpec): Promise<ContainerView>;
  /** `docker create`: no plugin calls. */
  containerCreate(spec: ContainerRunSpec): Promise<ContainerView>;
  containerStart(name: string): Promise<ContainerView>;
  containerStop(name: string): Promise<void>;
  /** `docker rm [-f]`. */
  containerRm(name: string, opts?: { force?: boolean }): Promise<void>;
  networkConnect(container: string, network: string, opts?: Omit<NetworkAttachSpec, 'network'>): Promise<void>;
  networkDisconnect(container: string, network: string): Promise<void>;
  daemonRestart(spec?: DaemonRestartSpec): Promise<void>;
  inspect(): DaemonView;
  /** Every plugin call made so far, in order. */
  callLog(): readonly CallLogEntry[];
  clearCallLog(): void;
  /** What dockerd would have logged as warnings (errors it ignores). */
  warnings(): readonly string[];
  /** State left behind by documented dockerd behaviour (failed releases, the IPv6 address leak, ...). */
  leaks(): readonly DaemonLeak[];
  /**
   * Compare every sandbox with the backend: exactly lo plus the daemon's
   * interfaces (names, up, MAC, addresses) and the expected default routes.
   * Returns the problems as sentences (empty = consistent).
   */
  verifySandboxes(): Promise<string[]>;
  /** Stops listening to the callers (does not close them). */
  close(): void;
}

const GATEWAY_OPTS: Readonly<Record<string, string>> = { [Options.RequestAddressType]: Options.Gateway };
const NETNS_DIR = '/var/run/docker/netns/';
const PROTO: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };
const NO_SUBNET_IP = 'user specified IP address is supported only when connecting to networks with user configured subnets';

/** A call log entry: a view of the CallRecord; the request body is parsed on first access. */
class LogEntry implements CallLogEntry {
  private parsed: { v: unknown } | undefined = undefined;
  constructor(
    readonly index: number,
    readonly record: CallRecord,
    readonly operation: string,
  ) {}
  get call(): string {
    return this.record.path.slice(1);
  }
  get outcome(): CallRecord['outcome'] {
    return this.record.outcome;
  }
  get error(): string | undefined {
    return this.record.error;
  }
  get request(): unknown {
    if (this.parsed === undefined) {
      let v: unknown = null;
      if (this.record.request !== '') {
        try {
          v = JSON.parse(this.record.request);
        } catch {
          v = this.record.request;
        }
      }
      this.parsed = { v };
    }
    return this.parsed.v;
  }
  toJSON(): unknown {
    return { index: this.index, call: this.call, request: this.request, outcome: this.outcome, ...(this.error !== undefined ? { error: this.error } : {}), operation: this.operation };
  }
}

export function createDaemon(opts: DaemonOptions): SimulatedDaemon {
  return new Daemon(opts);
}

type Fail = (step: DaemonStep, message: string, extra?: { status?: number; callError?: PluginCallError }) => never;

class Daemon implements SimulatedDaemon {
  readonly profile: Profile;
  private readonly driver: PluginCaller;
  private readonly ipam: PluginCaller;
  private readonly backend: Backend;
  private readonly driverName: string;
  private readonly ipamName: string;
  private readonly ids: IdGenerator;
  private readonly hostRoutes: Net[];
  private readonly maxOverlap: number;
  private readonly managed: ReadonlyMap<PluginCaller, readonly string[]>;
  /** The IPAM is the built-in null IPAM: no address is not an error. */
  private readonly nullIpam: boolean;

  private readonly activations = new Map<PluginCaller, Activation>();
  private readonly networks = new Map<string, NetworkRec>();
  private readonly containers = new Map<string, ContainerRec>();
  private readonly log: CallLogEntry[] = [];
  private readonly warns: string[] = [];
  private readonly leakList: DaemonLeak[] = [];
  private readonly leakedNamespaces = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];
  private queue: Promise<unknown> = Promise.resolve();
  private operation = 'idle';
  private logIndex = 0;

  constructor(o: DaemonOptions) {
    if (o.driver === undefined || o.ipam === undefined || o.backend === undefined) throw new DaemonUsageError('createDaemon: driver, ipam and backend are required');
    this.profile = o.profile ?? 'docker-20.10';
    if (this.profile !== 'docker-20.10' && this.profile !== 'moby') throw new DaemonUsageError(`createDaemon: unknown profile ${JSON.stringify(this.profile)}`);
    this.driver = o.driver;
    this.ipam = o.ipam;
    this.backend = o.backend;
    this.driverName = o.driverName ?? 'cnmkit';
    this.ipamName = o.ipamName ?? this.driverName;
    this.ids = typeof o.ids === 'object' ? o.ids : createIdGenerator(o.ids ?? 1);
    this.hostRoutes = (o.hostRoutes ?? []).map((t) => {
      const n = parseCidr(t);
      if (n === null) throw new DaemonUsageError(`createDaemon: hostRoutes: ${invalidCidr(t)}`);
      return n;
    });
    this.maxOverlap = o.maxOverlapRetries ?? 64;
    this.managed = o.managed ?? new Map();
    this.nullIpam = o.builtinIpam === 'null';
    const listen = (c: PluginCaller): void => {
      this.unsubscribe.push(c.onCall((r) => this.record(r)));
    };
    listen(this.driver);
    if (this.ipam !== this.driver) listen(this.ipam);
  }

  // ---- bookkeeping -------------------------------------------------------------------

  private record(r: CallRecord): void {
    this.log.push(new LogEntry(this.logIndex++, r, this.operation));
  }

  callLog(): readonly CallLogEntry[] {
    return this.log;
  }

  clearCallLog(): void {
    this.log.length = 0;
  }

  warnings(): readonly string[] {
    return this.warns;
  }

  leaks(): readonly DaemonLeak[] {
    return this.leakList;
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe.length = 0;
  }

  private warn(msg: string): void {
    this.warns.push(msg);
  }

  private leak(l: Omit<DaemonLeak, 'operation'>): void {
    this.leakList.push({ ...l, operation: this.operation });
  }

  /** Run one operation after the previous ones. */
  private exclusive<T>(op: DaemonOperation, fn: (fail: Fail) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.operation = op;
      const fail: Fail = (step, message, extra = {}) => {
        throw new DaemonError(op, step, message, extra);
      };
      try {
        return await fn(fail);
      } finally {
        this.operation = 'idle';
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private tryCall<K extends MethodKey>(caller: PluginCaller, key: K, req: RequestOf<K>): Promise<CallOutcome<ResponseOf<K>>> {
    return caller.tryCall(key, req);
  }

  /** A call whose failure dockerd only logs. */
  private async logged<K extends MethodKey>(caller: PluginCaller, key: K, req: RequestOf<K>, what: string, on404Ok = false): Promise<boolean> {
    const r = await this.tryCall(caller, key, req);
    if (r.ok || (on404Ok && r.error.kind === 'not-implemented')) return true;
    this.warn(`${what}: ${r.error.message}`);
    return false;
  }

  // ---- plugin resolution (protocol.md §1.7) -----------------------------------------

  private async activation(caller: PluginCaller, fail: Fail): Promise<Activation> {
    const cached = this.activations.get(caller);
    if (cached !== undefined) return cached;
    let act: Activation;
    try {
      const types = this.managed.get(caller);
      act = await activate(caller, types !== undefined ? { managed: true, implements: types } : {});
    } catch (e) {
      // A failed Plugin.Activate is forgotten: the next use tries again.
      if (e instanceof PluginCallError) fail('activate', `legacy plugin: ${e.message}`, { callError: e });
      throw e;
    }
    this.activations.set(caller, act);
    return act;
  }

  private async resolveDriver(fail: Fail): Promise<Activation> {
    const act = await this.activation(this.driver, fail);
    if (!act.implements.includes('NetworkDriver')) fail('activate', 'legacy plugin: Plugin does not implement the requested driver', { status: 404 });
    if (!act.networkDriver) fail('activate', `could not resolve driver ${this.driverName} in registry`);
    return act;
  }

  private async resolveIpam(fail: Fail): Promise<Activation> {
    const act = await this.activation(this.ipam, fail);
    if (!act.implements.includes('IpamDriver')) fail('activate', 'legacy plugin: Plugin does not implement the requested driver', { status: 404 });
    if (!act.ipamDriver) fail('activate', `invalid ipam driver: ${JSON.stringify(this.ipamName)}`, { status: 400 });
    return act;
  }

  /** Resolution where dockerd only logs a failure (teardown paths). */
  private async quietResolve(kind: 'driver' | 'ipam'): Promise<boolean> {
    try {
      const fail: Fail = (step, message) => {
        throw new DaemonError('daemonRestart', step, message);
      };
      if (kind === 'driver') await this.resolveDriver(fail);
      else await this.resolveIpam(fail);
      return true;
    } catch (e) {
      this.warn(`failed to resolve ${kind}: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  private ipamCaps(): { mac: boolean; replay: boolean } {
    const caps = this.activations.get(this.ipam)?.ipamCapabilities;
    return { mac: caps?.RequiresMACAddress === true, replay: caps?.RequiresRequestReplay === true };
  }

  // ---- lookups -------------------------------------------------------------------------

  private findNetwork(idOrName: string): NetworkRec | undefined {
    const byId = this.networks.get(idOrName);
    if (byId !== undefined) return byId;
    for (const n of this.networks.values()) if (n.name === idOrName) return n;
    if (idOrName.length >= 1) {
      const pre = [...this.networks.values()].filter((n) => n.id.startsWith(idOrName));
      if (pre.length === 1) return pre[0];
    }
    return undefined;
  }

  private needNetwork(idOrName: string, fail: Fail): NetworkRec {
    const n = this.findNetwork(idOrName);
    if (n === undefined) fail('validate', `network ${idOrName} not found`, { status: 404 });
    return n;
  }

  private needContainer(name: string, fail: Fail): ContainerRec {
    const c = this.containers.get(name) ?? [...this.containers.values()].find((x) => x.id === name || (name.length >= 1 && x.id.startsWith(name)));
    if (c === undefined) fail('validate', `No such container: ${name}`, { status: 404 });
    return c;
  }

  // ---- network create (protocol.md §4.1, §4.2) ----------------------------------------

  networkCreate(spec: NetworkCreateSpec): Promise<NetworkView> {
    return this.exclusive('networkCreate', (fail) => this.doNetworkCreate(spec, fail));
  }

  private checkIpamConfs(confs: readonly IpamConfigSpec[], family: 4 | 6, fail: Fail): void {
    const subnets: Net[] = [];
    for (const c of confs) {
      let subnet: Net | null = null;
      if (c.subnet !== undefined && c.subnet !== '') {
        subnet = parseCidr(c.subnet);
        if (subnet === null) fail('validate', invalidCidr(c.subnet), { status: 400 });
        if (subnet.family !== family) fail('validate', `invalid ${family === 4 ? 'IPv4' : 'IPv6'} subnet ${c.subnet}`, { status: 400 });
        for (const o of subnets) if (netsOverlap(o, subnet)) fail('validate', 'multiple overlapping subnet configuration is not supported', { status: 400 });
        subnets.push(subnet);
      }
      if (c.ipRange !== undefined && c.ipRange !== '') {
        const r = parseCidr(c.ipRange);
        if (r === null) fail('validate', invalidCidr(c.ipRange), { status: 400 });
        if (subnet === null || r.family !== subnet.family || r.prefix < subnet.prefix || !netContains(subnet, { family: r.family, value: r.base })) fail('validate', `no matching subnet for range ${c.ipRange}`, { status: 400 });
      }
      if (c.gateway !== undefined && c.gateway !== '') {
        const g = parseIp(c.gateway);
        if (g === null) fail('validate', `invalid gateway address ${c.gateway} in Ipam configuration`, { status: 400 });
        if (subnet === null || !netContains(subnet, g)) fail('validate', `no matching subnet for gateway ${c.gateway}`, { status: 400 });
      }
      for (const [, v] of Object.entries(c.auxAddresses ?? {})) {
        const a = parseIp(v);
        if (a === null || subnet === null || !netContains(subnet, a)) fail('validate', `no matching subnet for aux-address ${v}`, { status: 400 });
      }
    }
  }

  private async doNetworkCreate(spec: NetworkCreateSpec, fail: Fail): Promise<NetworkView> {
    if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string') throw new DaemonUsageError('networkCreate: a spec with a name is required');
    const name = spec.name;
    if (name.trim() === '') fail('validate', `invalid name: ${JSON.stringify(name)}`, { status: 400 });
    if (this.findNetworkByName(name) !== undefined) fail('validate', `network with name ${name} already exists`, { status: 409 });
    const v4Conf = [...(spec.ipv4 ?? [])];
    const v6Conf = spec.ipv6 === true ? [] : spec.ipv6 === false || spec.ipv6 === undefined ? [] : [...spec.ipv6];
    // `ipv6: true` or a list (an empty list = one automatic IPv6 pool, like `--ipv6` alone).
    const enableIPv6 = spec.ipv6 === true || Array.isArray(spec.ipv6);
    this.checkIpamConfs(v4Conf, 4, fail);
    this.checkIpamConfs(v6Conf, 6, fail);
    const internal = spec.internal === true;

    const drv = await this.resolveDriver(fail);
    const scope = drv.driverCapabilities!.Scope === 'global' ? 'global' : 'local';
    const ipamAct = await this.resolveIpam(fail);
    const spaces = ipamAct.addressSpaces!;
    const addrSpace = scope === 'global' ? spaces.GlobalDefaultAddressSpace : spaces.LocalDefaultAddressSpace;

    const id = this.ids.id();
    const options: Record<string, unknown> = {
      [Options.Generic]: { ...(spec.driverOpts ?? {}) },
      [Options.EnableIPv6]: enableIPv6,
    };
    if (this.profile === 'moby') options[Options.EnableIPv4] = true;
    if (internal) options[Options.Internal] = true;

    let skip4 = false;
    let skip6 = false;
    if (this.profile === 'moby' && drv.driverCapabilities!.GwAllocChecker === true) {
      const r = await this.tryCall(this.driver, 'GwAllocCheck', { Options: options });
      if (!r.ok) fail('GwAllocCheck', r.error.message, { callError: r.error });
      skip4 = r.value.SkipIPv4 === true;
      skip6 = r.value.SkipIPv6 === true;
    }

    const n: NetworkRec = {
      id,
      name,
      internal,
      enableIPv6,
      scope,
      addrSpace,
      driverOpts: { ...(spec.driverOpts ?? {}) },
      ipamOpts: { ...(spec.ipamOpts ?? {}) },
      v4Conf,
      v6Conf,
      v4: [],
      v6: [],
      endpoints: new Map(),
      endpointNames: new Set(),
    };
    await this.ipamAllocate(n, fail, skip4, skip6);

    const ipData = (pools: PoolRec[]) =>
      pools.map((p) => ({
        AddressSpace: addrSpace,
        ...(p.aux.length > 0 ? { AuxAddresses: Object.fromEntries(p.aux.map(([k, v]) => [k, v.text])) } : {}),
        ...(p.gateway !== null ? { Gateway: p.gateway.text } : {}),
        Pool: p.pool.text,
      }));
    const created = await this.tryCall(this.driver, 'CreateNetwork', { NetworkID: id, Options: options, IPv4Data: ipData(n.v4), IPv6Data: ipData(n.v6) });
    if (!created.ok) {
      await this.ipamRelease(n);
      fail('CreateNetwork', created.error.message, { callError: created.error });
    }
    if (scope === 'global') {
      // A global-scope driver outside swarm: the store refuses it after CreateNetwork.
      await this.logged(this.driver, 'DeleteNetwork', { NetworkID: id }, `driver error deleting network ${name}`);
      await this.ipamRelease(n);
      fail('scope', 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.', { status: 503 });
    }
    this.networks.set(id, n);
    return this.networkView(n);
  }

  private findNetworkByName(name: string): NetworkRec | undefined {
    for (const n of this.networks.values()) if (n.name === name) return n;
    return undefined;
  }

  /** libnetwork ipamAllocate: IPv4 pools, then IPv6 (if enabled); an IPv6 failure releases IPv4 entirely. */
  private async ipamAllocate(n: NetworkRec, fail: Fail, skip4 = false, skip6 = false): Promise<void> {
    n.v4 = await this.ipamAllocateVersion(n, 4, fail, skip4);
    if (!n.enableIPv6) return;
    try {
      n.v6 = await this.ipamAllocateVersion(n, 6, fail, skip6);
    } catch (e) {
      await this.ipamReleaseVersion(n, 4);
      throw e;
    }
  }

  private async ipamAllocateVersion(n: NetworkRec, v: 4 | 6, fail: Fail, skipGateway: boolean): Promise<PoolRec[]> {
    const confs: IpamConfigSpec[] = (v === 4 ? n.v4Conf : n.v6Conf).length === 0 ? [{}] : v === 4 ? n.v4Conf : n.v6Conf;
    const out: PoolRec[] = [];
    try {
      for (const cfg of confs) {
        const req = await this.requestPool(n, cfg, v === 6, fail);
        const rec: PoolRec = { poolId: req.poolId, pool: req.pool, meta: req.meta, gateway: null, aux: [] };
        out.push(rec);
        const metaGw = rec.meta[Options.Gateway];
        if (metaGw !== undefined) {
          const g = parseIpPrefix(metaGw);
          if (g === null) fail('GatewayAddress', `failed to parse gateway address (${metaGw}) returned by ipam driver: ${invalidCidr(metaGw)}`, { status: 400 });
          rec.gateway = g;
        }
        const userGw = cfg.gateway ?? '';
        if (userGw !== '' || (rec.gateway === null && !skipGateway)) {
          const r = await this.tryCall(this.ipam, 'RequestAddress', { PoolID: rec.poolId, Address: userGw, Options: { ...GATEWAY_OPTS } });
          let inner: string | null = null;
          if (!r.ok) inner = r.error.message;
          else if (r.value.Address === '' && this.nullIpam) {
            // The built-in null IPAM answers nil without an error: the network has no gateway.
          } else if (r.value.Address === '') inner = 'No address returned';
          else {
            const g = parseIpPrefix(r.value.Address);
            if (g === null) inner = invalidCidr(r.value.Address);
            else rec.gateway = g;
          }
          if (inner !== null) fail('GatewayAddress', `failed to allocate gateway (${userGw}): ${inner}`, r.ok ? {} : { callError: r.error });
        }
        for (const [k, val] of Object.entries(cfg.auxAddresses ?? {})) {
          const ip = parseIp(val);
          if (ip === null) fail('AuxAddress', `non parsable secondary ip address (${k}:${val}) passed for network ${n.name}`, { status: 400 });
          if (!netContains(rec.pool.net, ip)) fail('AuxAddress', `auxiliary address: (${k}:${val}) must belong to the master pool: ${rec.pool.text}`, { status: 403 });
          const r = await this.tryCall(this.ipam, 'RequestAddress', { PoolID: rec.poolId, Address: val, Options: null });
          let inner: string | null = null;
          if (!r.ok) inner = r.error.message;
          else if (r.value.Address === '') inner = 'No address returned';
          else {
            const a = parseIpPrefix(r.value.Address);
            if (a === null) inner = invalidCidr(r.value.Address);
            else rec.aux.push([k, a]);
          }
          if (inner !== null) fail('AuxAddress', `failed to allocate secondary ip address (${k}:${val}): ${inner}`, r.ok ? {} : { callError: r.error });
        }
      }
    } catch (e) {
      // The deferred ReleasePool of every pool of this version, last first; gateways and aux stay (dockerd's behaviour).
      for (const p of [...out].reverse()) {
        const ok = await this.logged(this.ipam, 'ReleasePool', { PoolID: p.poolId }, `Failed to release address pool ${p.poolId} after failure to create network ${n.name} (${n.id})`);
        if (!ok) this.leak({ kind: 'pool', poolId: p.poolId, detail: `pool ${p.pool.text} not released (ReleasePool failed)` });
      }
      throw e;
    }
    return out;
  }

  /** requestPoolHelper: the overlap loop for automatic local pools (protocol.md §2.3). */
  private async requestPool(n: NetworkRec, cfg: IpamConfigSpec, v6: boolean, fail: Fail): Promise<{ poolId: string; pool: IpPrefix; meta: Record<string, string> }> {
    const held: string[] = [];
    const preferred = cfg.subnet ?? '';
    try {
      for (;;) {
        if (this.profile === 'moby') {
          // moby 27+: the remote IPAM proxy asks for the address spaces before every RequestPool.
          const s = await this.tryCall(this.ipam, 'GetDefaultAddressSpaces', undefined);
          if (!s.ok) fail('RequestPool', s.error.message, { callError: s.error });
        }
        const r = await this.tryCall(this.ipam, 'RequestPool', { AddressSpace: n.addrSpace, Pool: preferred, SubPool: cfg.ipRange ?? '', Options: { ...n.ipamOpts }, V6: v6 });
        if (!r.ok) fail('RequestPool', r.error.message, { callError: r.error });
        const pool = parseIpPrefix(r.value.Pool);
        if (pool === null) {
          // The pool id is lost with the error: dockerd never releases it.
          this.leak({ kind: 'pool', poolId: r.value.PoolID, detail: `RequestPool answered an invalid pool ${JSON.stringify(r.value.Pool)}; the pool is never released` });
          fail('RequestPool', invalidCidr(r.value.Pool));
        }
        const meta = r.value.Data ?? {};
        const unspecified = (pool.ip.value === 0 || pool.ip.value === 0n) && pool.prefix === 0;
        if (n.scope === 'global' || preferred !== '' || unspecified || !this.hostRoutes.some((h) => netsOverlap(h, pool.net))) {
          return { poolId: r.value.PoolID, pool, meta };
        }
        held.push(r.value.PoolID);
        if (held.length > this.maxOverlap) {
          fail('RequestPool', `the IPAM returned ${held.length} pools overlapping host routes in a row (dockerd would keep asking forever)`);
        }
      }
    } finally {
      for (const id of held) {
        const ok = await this.logged(this.ipam, 'ReleasePool', { PoolID: id }, `Failed to release overlapping pool ${id} while returning from pool request helper for network ${n.name}`);
        if (!ok) this.leak({ kind: 'pool', poolId: id, detail: 'overlapping pool not released (ReleasePool failed)' });
      }
    }
  }

  private async ipamRelease(n: NetworkRec): Promise<void> {
    await this.ipamReleaseVersion(n, 4);
    await this.ipamReleaseVersion(n, 6);
  }

  /** Per pool: gateway, aux addresses inside the pool, the pool. Errors are only logged. */
  private async ipamReleaseVersion(n: NetworkRec, v: 4 | 6): Promise<void> {
    const pools = v === 4 ? n.v4 : n.v6;
    for (const p of pools) {
      if (p.gateway !== null) {
        const ok = await this.logged(this.ipam, 'ReleaseAddress', { PoolID: p.poolId, Address: formatIp(p.gateway.ip) }, `Failed to release gateway ip address ${formatIp(p.gateway.ip)} on delete of network ${n.name} (${n.id})`);
        if (!ok) this.leak({ kind: 'address', poolId: p.poolId, address: formatIp(p.gateway.ip), detail: 'gateway not released (ReleaseAddress failed)' });
      }
      for (const [k, a] of p.aux) {
        if (!netContains(p.pool.net, a.ip)) continue;
        const ok = await this.logged(this.ipam, 'ReleaseAddress', { PoolID: p.poolId, Address: formatIp(a.ip) }, `Failed to release secondary ip address ${k} (${formatIp(a.ip)}) on delete of network ${n.name} (${n.id})`);
        if (!ok) this.leak({ kind: 'address', poolId: p.poolId, address: formatIp(a.ip), detail: `aux address ${k} not released (ReleaseAddress failed)` });
      }
      const ok = await this.logged(this.ipam, 'ReleasePool', { PoolID: p.poolId }, `Failed to release address pool ${p.poolId} on delete of network ${n.name} (${n.id})`);
      if (!ok) this.leak({ kind: 'pool', poolId: p.poolId, detail: `pool ${p.pool.text} not released (ReleasePool failed)` });
    }
    if (v === 4) n.v4 = [];
    else n.v6 = [];
  }

  // ---- network rm (§4.6) ----------------------------------------------------------------

  networkRm(name: string): Promise<void> {
    return this.exclusive('networkRm', async (fail) => {
      const n = this.needNetwork(name, fail);
      if (n.endpoints.size > 0) fail('validate', `error while removing network: network ${n.name} id ${n.id} has active endpoints`, { status: 403 });
      await this.resolveDriver(fail);
      if (await this.quietResolve('ipam')) await this.ipamRelease(n);
      else this.leak({ kind: 'pool', detail: `IPAM not resolvable: pools of network ${n.name} not released` });
      const ok = await this.logged(this.driver, 'DeleteNetwork', { NetworkID: n.id }, `driver error deleting network ${n.name}`);
      if (!ok) this.leak({ kind: 'network', detail: `DeleteNetwork of ${n.name} (${n.id}) failed; the driver may keep its state` });
      this.networks.delete(n.id);
    });
  }

  // ---- containers -----------------------------------------------------------------------

  containerCreate(spec: ContainerRunSpec): Promise<ContainerView> {
    return this.exclusive('containerCreate', async (fail) => this.containerView(this.doCreate(spec, fail)));
  }

  private doCreate(spec: ContainerRunSpec, fail: Fail): ContainerRec {
    if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string' || !Array.isArray(spec.networks)) throw new DaemonUsageError('containerRun: a spec with a name and networks is required');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(spec.name)) fail('validate', `Invalid container name (${spec.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, { status: 400 });
    const clash = this.containers.get(spec.name);
    if (clash !== undefined) fail('validate', `Conflict. The container name "/${spec.name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`, { status: 409 });
    if (spec.networks.length === 0) fail('validate', 'a container needs at least one network', { status: 400 });
    const first = spec.networks[0]!;
    const n = this.needNetwork(first.network, fail);
    this.checkAttach(first, fail);
    const c: ContainerRec = { id: this.ids.id(), name: spec.name, running: false, attachments: [{ ...first, networkId: n.id }], ports: [...(spec.ports ?? [])], sandbox: null };
    this.containers.set(c.name, c);
    return c;
  }

  /** Syntax checks of `--ip`, `--ip6`, `--mac-address` (docker create / connect). */
  private checkAttach(a: NetworkAttachSpec, fail: Fail): void {
    if (a.ip !== undefined && a.ip !== '') {
      const ip = parseIp(a.ip);
      if (ip === null || ip.family !== 4) fail('validate', `invalid IPv4 address: ${a.ip}`, { status: 400 });
    }
    if (a.ip6 !== undefined && a.ip6 !== '') {
      const ip = parseIp(a.ip6);
      if (ip === null || ip.family !== 6) fail('validate', `invalid IPv6 address: ${a.ip6}`, { status: 400 });
    }
    if (a.mac !== undefined && a.mac !== '' && canonicalGoMac(a.mac) === null) fail('validate', `invalid MAC address: ${a.mac}`, { status: 400 });
  }

  containerRun(spec: ContainerRunSpec): Promise<ContainerView> {
    const created = this.exclusive('containerCreate', async (fail) => this.doCreate(spec, fail));
    return created.then(async (c) => {
      await this.exclusive('containerStart', (fail) => this.doStart(c, fail));
      for (const extra of spec.networks.slice(1)) {
        const { network, ...rest } = extra;
        await this.networkConnect(c.name, network, rest);
      }
      return this.containerView(c);
    });
  }

  containerStart(name: string): Promise<ContainerView> {
    return this.exclusive('containerStart', async (fail) => {
      const c = this.needContainer(name, fail);
      await this.doStart(c, fail);
      return this.containerView(c);
    });
  }

  private async doStart(c: ContainerRec, fail: Fail): Promise<void> {
    if (c.running) return;
    try {
      for (const a of c.attachments) await this.connectToNetwork(c, a, fail);
      await this.ociHook(c, fail);
      c.running = true;
    } catch (e) {
      // daemon.Cleanup: release everything the failed start set up.
      await this.releaseNetwork(c);
      throw e;
    }
  }

  containerStop(name: string): Promise<void> {
    return this.exclusive('containerStop', async (fail) => {
      const c = this.needContainer(name, fail);
      if (!c.running) return;
      await this.releaseNetwork(c);
      c.running = false;
    });
  }

  containerRm(name: string, opts: { force?: boolean } = {}): Promise<void> {
    return this.exclusive('containerRm', async (fail) => {
      const c = this.needContainer(name, fail);
      if (c.running) {
        if (opts.force !== true) fail('validate', `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`, { status: 409 });
        await this.releaseNetwork(c);
        c.running = false;
      }
      this.containers.delete(c.name);
    });
  }

  networkConnect(container: string, network: string, opts: Omit<NetworkAttachSpec, 'network'> = {}): Promise<void> {
    return this.exclusive('networkConnect', async (fail) => {
      const c = this.needContainer(container, fail);
      const n = this.needNetwork(network, fail);
      if (c.attachments.some((a) => a.networkId === n.id)) fail('validate', `endpoint with name ${c.name} already exists in network ${n.name}`, { status: 403 });
      const att: AttachRec = { ...opts, network, networkId: n.id };
      this.checkAttach(att, fail);
      if (c.running) await this.connectToNetwork(c, att, fail);
      else this.checkSubnetForIp(n, att, fail);
      c.attachments.push(att);
    });
  }

  networkDisconnect(container: string, network: string): Promise<void> {
    return this.exclusive('networkDisconnect', async (fail) => {
      const c = this.needContainer(container, fail);
      const n = this.needNetwork(network, fail);
      const i = c.attachments.findIndex((a) => a.networkId === n.id);
      if (i < 0) fail('validate', `container ${c.id} is not connected to network ${n.name}`, { status: 400 });
      const sb = c.sandbox;
      if (c.running && sb !== null) {
        const ep = sb.endpoints.find((e) => e.network === n);
        if (ep !== undefined) {
          await this.sbLeave(sb, ep);
          await this.portMapInfo(sb);
          await this.endpointDelete(ep);
        }
      }
      c.attachments.splice(i, 1);
    });
  }

  // ---- connect (daemon connectToNetwork + libnetwork CreateEndpoint / Join) ---------------

  private checkSubnetForIp(n: NetworkRec, a: NetworkAttachSpec, fail: Fail): void {
    const has = (confs: IpamConfigSpec[]) => confs.some((c) => c.subnet !== undefined && c.subnet !== '');
    if ((a.ip !== undefined && a.ip !== '' && !has(n.v4Conf)) || (a.ip6 !== undefined && a.ip6 !== '' && !has(n.v6Conf))) {
      fail('validate', NO_SUBNET_IP, { status: 400 });
    }
  }

  private sandboxLabels(c: ContainerRec): Record<string, unknown> {
    return {
      [Options.ExposedPorts]: c.ports.map((p) => ({ Proto: PROTO[p.proto ?? 'tcp'], Port: p.port })),
      [Options.PortMap]: c.ports
        .filter((p) => p.hostPort !== undefined)
        .map((p) => ({ Proto: PROTO[p.proto ?? 'tcp'], IP: '', Port: p.port, HostIP: p.hostIp ?? '', HostPort: p.hostPort, HostPortEnd: p.hostPort })),
    };
  }

  private async connectToNetwork(c: ContainerRec, a: AttachRec, fail: Fail): Promise<void> {
    const n = this.networks.get(a.networkId) ?? this.needNetwork(a.network, fail);
    this.checkSubnetForIp(n, a, fail);
    let sb = c.sandbox;
    // buildCreateEndpointOptions looks at the sandbox's port mappings first.
    if (sb !== null) await this.portMapInfo(sb);
    const epOptions: Record<string, unknown> = {};
    if (!n.internal) {
      const labels = this.sandboxLabels(c);
      epOptions[Options.ExposedPorts] = labels[Options.ExposedPorts];
      epOptions[Options.PortMap] = labels[Options.PortMap];
    }
    const mac = a.mac !== undefined && a.mac !== '' ? canonicalGoMac(a.mac) : null;
    if (mac !== null) epOptions[Options.MacAddress] = macBase64(mac);
    for (const [k, v] of Object.entries(a.driverOpts ?? {})) epOptions[k] = v;
    if (n.endpointNames.has(c.name)) fail('validate', `endpoint with name ${c.name} already exists in network ${n.name}`, { status: 403 });
    const ep = await this.createEndpoint(n, c, a, mac, epOptions, fail);
    try {
      if (sb === null) {
        const id = this.ids.id();
        sb = {
          id,
          key: NETNS_DIR + id.slice(0, 12),
          container: c,
          endpoints: [],
          osCreated: false,
          ifaces: [],
          nextIfIndex: new Map(),
          programmedRoutes: new Map(),
          defaultRoute4: null,
          defaultRoute6: null,
          inDelete: false,
          gwBridge: false,
          stray: new Set(),
          gatewayStale: false,
          labels: this.sandboxLabels(c),
        };
        c.sandbox = sb;
      }
      await this.sbJoin(sb, ep, fail);
      // updateJoinInfo: fatal in 20.10 (and moby < 28.0.2), ignored later.
      const info = await this.tryCall(this.driver, 'EndpointOperInfo', { NetworkID: n.id, EndpointID: ep.id });
      if (!info.ok) {
        if (this.profile === 'docker-20.10') fail('EndpointOperInfo', `Updating join info failed: ${info.error.message}`, { callError: info.error });
        this.warn(`EndpointOperInfo: ${info.error.message}`);
      }
      await this.portMapInfo(sb);
    } catch (e) {
      await this.endpointDelete(ep);
      throw e;
    }
  }

  /** getPortMapInfo: EndpointOperInfo for each endpoint of the sandbox, errors ignored. */
  private async portMapInfo(sb: SandboxRec): Promise<void> {
    for (const ep of [...sb.endpoints]) {
      await this.tryCall(this.driver, 'EndpointOperInfo', { NetworkID: ep.network.id, EndpointID: ep.id });
    }
  }

  /** libnetwork network.createEndpoint: addresses, then the driver's CreateEndpoint. */
  private async createEndpoint(n: NetworkRec, c: ContainerRec, a: NetworkAttachSpec, mac: string | null, epOptions: Record<string, unknown>, fail: Fail): Promise<EndpointRec> {
    await this.resolveIpam(fail);
    const ep: EndpointRec = { id: this.ids.id(), name: c.name, network: n, v4: null, v6: null, mac, ipamOptions: null, join: null, sandbox: null };
    if (this.ipamCaps().mac) {
      if (ep.mac === null) ep.mac = this.ids.mac();
      ep.ipamOptions = { [Options.MacAddress]: ep.mac };
    }
    if (this.profile === 'moby') ep.ipamOptions = { ...(ep.ipamOptions ?? {}), [Options.EndpointName]: c.name };
    const pref4 = a.ip !== undefined && a.ip !== '' ? parseIp(a.ip) : null;
    const pref6 = a.ip6 !== undefined && a.ip6 !== '' ? parseIp(a.ip6) : null;
    await this.assignAddressVersion(ep, 4, pref4, fail);
    if (n.enableIPv6) {
      try {
        await this.assignAddressVersion(ep, 6, pref6, fail);
      } catch (e) {
        // dockerd returns without releasing the IPv4 address (still so in HEAD).
        if (ep.v4 !== null) this.leak({ kind: 'address', poolId: ep.v4.poolId, address: formatIp(ep.v4.addr.ip), detail: 'IPv4 address of an endpoint whose IPv6 allocation failed is never released' });
        throw e;
      }
    }
    try {
      await this.resolveDriver(fail);
    } catch (e) {
      await this.releaseAddress(ep);
      throw e;
    }
    const r = await this.tryCall(this.driver, 'CreateEndpoint', {
      NetworkID: n.id,
      EndpointID: ep.id,
      Interface: { Address: ep.v4?.addr.text ?? '', AddressIPv6: ep.v6?.addr.text ?? '', MacAddress: ep.mac ?? '' },
      Options: epOptions,
    });
    if (!r.ok) {
      await this.releaseAddress(ep);
      fail('CreateEndpoint', r.error.message, { callError: r.error });
    }
    const problem = await this.applyCreateEndpointReply(ep, r.value.Interface ?? null);
    if (problem !== null) {
      await this.releaseAddress(ep);
      fail('CreateEndpoint', problem);
    }
    n.endpoints.set(ep.id, ep);
    n.endpointNames.add(ep.name);
    return ep;
  }

  /** The remote driver proxy's reading of CreateEndpoint's reply; returns the error text or null. */
  private async applyCreateEndpointReply(ep: EndpointRec, iface: { Address?: string; AddressIPv6?: string; MacAddress?: string } | null): Promise<string | null> {
    if (iface === null) return null;
    let addr: IpPrefix | null = null;
    let addr6: IpPrefix | null = null;
    let mac: string | null = null;
    if (iface.Address !== undefined && iface.Address !== '') {
      addr = parseIpPrefix(iface.Address);
      if (addr === null) return invalidCidr(iface.Address);
    }
    if (iface.AddressIPv6 !== undefined && iface.AddressIPv6 !== '') {
      addr6 = parseIpPrefix(iface.AddressIPv6);
      if (addr6 === null) return invalidCidr(iface.AddressIPv6);
    }
    if (iface.MacAddress !== undefined && iface.MacAddress !== '') {
      mac = canonicalGoMac(iface.MacAddress);
      if (mac === null) return `address ${iface.MacAddress}: invalid MAC address`;
    }
    const rollback = async (msg: string): Promise<string> => {
      const r = await this.tryCall(this.driver, 'DeleteEndpoint', { NetworkID: ep.network.id, EndpointID: ep.id });
      if (!r.ok) this.leak({ kind: 'endpoint', detail: `DeleteEndpoint rollback of ${ep.id} failed` });
      if (this.profile === 'docker-20.10') return msg;
      return r.ok ? `${msg}; rolled back` : `${msg}; failed to roll back: ${r.error.message}`;
    };
    if (mac !== null) {
      if (ep.mac !== null) return rollback(`driver modified interface MAC address: endpoint interface MAC address present (${ep.mac}). Cannot be modified with ${mac}.`);
      ep.mac = mac;
    }
    for (const a of [addr, addr6]) {
      if (a === null) continue;
      const slot = a.ip.family === 4 ? 'v4' : 'v6';
      const cur = ep[slot];
      if (cur !== null) return rollback(`driver modified interface address: endpoint interface IP present (${cur.addr.text}). Cannot be modified with (${a.text}).`);
      // The driver chose the address (IPAM gave none): it has no pool, nothing is released later.
      ep[slot] = { poolId: '', addr: a };
    }
    return null;
  }

  /** endpoint.assignAddressVersion with a remote IPAM: the first pool's answer is final. */
  private async assignAddressVersion(ep: EndpointRec, v: 4 | 6, pref: ReturnType<typeof parseIp>, fail: Fail): Promise<void> {
    const pools = v === 4 ? ep.network.v4 : ep.network.v6;
    if (pools.length === 0 && v === 6) return;
    const step: DaemonStep = v === 4 ? 'RequestAddress' : 'RequestAddressIPv6';
    for (const p of pools) {
      if (pref !== null && !netContains(p.pool.net, pref)) continue;
      const r = await this.tryCall(this.ipam, 'RequestAddress', { PoolID: p.poolId, Address: pref === null ? '' : formatIp(pref), Options: ep.ipamOptions === null ? null : { ...ep.ipamOptions } });
      if (!r.ok) fail(step, r.error.message, { callError: r.error });
      // The built-in null IPAM gives no address and no error: the driver's CreateEndpoint reply may supply one.
      if (r.value.Address === '' && this.nullIpam) return;
      if (r.value.Address === '') fail(step, 'No address returned');
      const a = parseIpPrefix(r.value.Address);
      if (a === null) fail(step, invalidCidr(r.value.Address));
      const rec: AddrRec = { poolId: p.poolId, addr: a };
      if (v === 4) ep.v4 = rec;
      else ep.v6 = rec;
      return;
    }
    if (pref !== null) fail(step, `Invalid address ${formatIp(pref)}: It does not belong to any of this network's subnets`, { status: 400 });
    fail(step, `no available IPv${v} addresses on this network's address pools: ${ep.network.name} (${ep.network.id})`);
  }

  private async releaseAddress(ep: EndpointRec): Promise<void> {
    if (!(await this.quietResolve('ipam'))) {
      for (const a of [ep.v4, ep.v6]) {
        if (a !== null && a.poolId !== '') this.leak({ kind: 'address', poolId: a.poolId, address: formatIp(a.addr.ip), detail: `IPAM not resolvable: address of endpoint ${ep.id} not released` });
      }
      return;
    }
    const rel = async (a: AddrRec | null): Promise<void> => {
      if (a === null || a.poolId === '') return;
      if (a.addr.ip.family === 6 && !isGlobalUnicast6(a.addr.ip)) return;
      const ip = formatIp(a.addr.ip);
      const ok = await this.logged(this.ipam, 'ReleaseAddress', { PoolID: a.poolId, Address: ip }, `Failed to release ip address ${ip} on delete of endpoint ${ep.name} (${ep.id})`);
      if (!ok) this.leak({ kind: 'address', poolId: a.poolId, address: ip, detail: 'endpoint address not released (ReleaseAddress failed)' });
    };
    await rel(ep.v4);
    await rel(ep.v6);
  }

  // ---- join / leave (libnetwork sbJoin / sbLeave) ---------------------------------------

  /** The remote driver proxy's Join: the call, then the reply read into join info. */
  private async driverJoin(sb: SandboxRec, ep: EndpointRec, fail: Fail): Promise<JoinRec> {
    const n = ep.network;
    const r = await this.tryCall(this.driver, 'Join', { NetworkID: n.id, EndpointID: ep.id, SandboxKey: sb.key, Options: sb.labels });
    if (!r.ok) fail('Join', r.error.message, { callError: r.error });
    const res: JoinResponse = r.value;
    const bad = async (msg: string): Promise<never> => {
      if (this.profile === 'docker-20.10') fail('Join', msg);
      // moby 27+: a reply the proxy cannot apply is rolled back with Leave.
      const l = await this.tryCall(this.driver, 'Leave', { NetworkID: n.id, EndpointID: ep.id });
      fail('Join', l.ok ? `${msg}; rolled back` : `${msg}; failed to roll back: ${l.error.message}`);
    };
    const join: JoinRec = { srcName: '', dstPrefix: '', gw: null, gw6: null, staticRoutes: [], ifaceRoutes: [], disableGatewayService: false };
    if (res.InterfaceName !== undefined && res.InterfaceName !== null) {
      join.srcName = res.InterfaceName.SrcName ?? '';
      join.dstPrefix = res.InterfaceName.DstPrefix ?? '';
    }
    if (res.Gateway !== undefined && res.Gateway !== '') {
      const g = parseIp(res.Gateway);
      if (g === null) await bad(`unable to parse Gateway "${res.Gateway}"`);
      join.gw = formatIp(g!);
    }
    if (res.GatewayIPv6 !== undefined && res.GatewayIPv6 !== '') {
      const g = parseIp(res.GatewayIPv6);
      if (g === null) await bad(`unable to parse GatewayIPv6 "${res.GatewayIPv6}"`);
      join.gw6 = formatIp(g!);
    }
    const routes: StaticRouteRec[] = [];
    for (const sr of res.StaticRoutes ?? []) {
      let dest = '0.0.0.0/0';
      if (sr.Destination !== '') {
        const d = parseIpPrefix(sr.Destination);
        if (d === null) await bad(invalidCidr(sr.Destination));
        dest = d!.text;
      }
      let nh: string | null = null;
      if (sr.NextHop !== undefined && sr.NextHop !== '') {
        const ip = parseIp(sr.NextHop);
        if (ip === null) await bad(`failed to parse nexthop IP ${sr.NextHop}`);
        nh = formatIp(ip!);
      }
      routes.push({ destination: dest, routeType: sr.RouteType, nextHop: nh });
    }
    for (const rt of routes) {
      if (rt.routeType === 0) join.staticRoutes.push(rt);
      else join.ifaceRoutes.push(rt.destination);
    }
    join.disableGatewayService = res.DisableGatewayService === true;
    return join;
  }

  /** Endpoints that provide external connectivity (get ProgramExternalConnectivity). */
  private gatewaySet(sb: SandboxRec): EndpointRec[] {
    const v4 = sb.endpoints.find((e) => e.join !== null && e.join.gw !== null) ?? null;
    if (this.profile === 'docker-20.10') return v4 === null ? [] : [v4];
    // moby 29: the IPv4 and the IPv6 gateway endpoints are chosen separately.
    const v6 = sb.endpoints.find((e) => e.join !== null && e.join.gw6 !== null) ?? null;
    const out = v4 === null ? [] : [v4];
    if (v6 !== null && v6 !== v4) out.push(v6);
    return out;
  }

  private gatewayEndpoint(sb: SandboxRec): EndpointRec | null {
    return sb.endpoints.find((e) => e.join !== null && e.join.gw !== null) ?? null;
  }

  private needDefaultGW(sb: SandboxRec): boolean {
    let need = false;
    for (const ep of sb.endpoints) {
      if (ep.network.internal) continue;
      if (ep.join !== null && ep.join.disableGatewayService) continue;
      if (ep.join !== null && ep.join.gw !== null) return false;
      if (ep.join !== null && ep.join.staticRoutes.some((r) => r.destination === '0.0.0.0/0')) return false;
      need = true;
    }
    return need;
  }

  /** libnetwork's epHeap Less (no gateway network, no priorities). */
  private readonly less = (a: EndpointRec, b: EndpointRec): boolean => {
    if (a.network.internal) return false;
    if (b.network.internal) return true;
    if (a.join !== null && b.join !== null) {
      const full = (e: EndpointRec) => e.join!.gw !== null && e.join!.gw6 !== null;
      if (full(a) && !full(b)) return true;
      if (full(b) && !full(a)) return false;
    }
    return a.network.name < b.network.name;
  };

  private async program(sb: SandboxRec, ep: EndpointRec): Promise<CallOutcome<ResponseOf<'ProgramExternalConnectivity'>>> {
    let options: Record<string, unknown> = sb.labels;
    if (this.profile === 'moby') {
      // moby 29: the IPv4 gateway endpoint is told not to proxy 6to4 when another endpoint is the IPv6 gateway.
      const v6 = sb.endpoints.find((e) => e.join !== null && e.join.gw6 !== null) ?? null;
      if (v6 !== null && v6 !== ep && this.gatewayEndpoint(sb) === ep) options = { ...sb.labels, [Options.NoProxy6to4]: true };
    }
    return this.tryCall(this.driver, 'ProgramExternalConnectivity', { NetworkID: ep.network.id, EndpointID: ep.id, Options: options });
  }

  private async sbJoin(sb: SandboxRec, ep: EndpointRec, fail: Fail): Promise<void> {
    await this.resolveDriver(fail);
    ep.sandbox = sb;
    try {
      ep.join = await this.driverJoin(sb, ep, fail);
    } catch (e) {
      ep.sandbox = null;
      throw e;
    }
    const before = this.gatewaySet(sb);
    heapPush(sb.endpoints, ep, this.less);
    const revoked: EndpointRec[] = [];
    try {
      if (sb.osCreated) await this.populate(sb, ep, fail);
      if (this.needDefaultGW(sb)) {
        // docker_gwbridge would be attached here; Program is skipped (dockerd returns early).
        sb.gwBridge = true;
        return;
      }
      const after = this.gatewaySet(sb);
      for (const old of before) {
        if (after.includes(old)) continue;
        const r = await this.tryCall(this.driver, 'RevokeExternalConnectivity', { NetworkID: old.network.id, EndpointID: old.id });
        if (!r.ok && r.error.kind !== 'not-implemented') fail('RevokeExternalConnectivity', `driver failed revoking external connectivity on endpoint ${old.name} (${old.id}): ${r.error.message}`, { callError: r.error });
        revoked.push(old);
      }
      for (const nw of after) {
        if (before.includes(nw) || nw.network.internal) continue;
        const r = await this.program(sb, nw);
        if (!r.ok && r.error.kind !== 'not-implemented') fail('ProgramExternalConnectivity', `driver failed programming external connectivity on endpoint ${nw.name} (${nw.id}): ${r.error.message}`, { callError: r.error });
      }
      if (!this.needDefaultGW(sb)) sb.gwBridge = false;
    } catch (e) {
      for (const old of revoked.reverse()) {
        const r = await this.program(sb, old);
        if (!r.ok && r.error.kind !== 'not-implemented') this.warn(`Failed to roll-back external connectivity on endpoint ${old.name} (${old.id}): ${r.error.message}`);
      }
      const i = sb.endpoints.indexOf(ep);
      if (i >= 0) heapRemove(sb.endpoints, i, this.less);
      // dockerd does not move a populated interface back here, nor restore the default route.
      for (const f of sb.ifaces.filter((x) => x.ep === ep)) {
        sb.ifaces.splice(sb.ifaces.indexOf(f), 1);
        sb.stray.add(f.dstName);
        sb.gatewayStale = true;
      }
      sb.programmedRoutes.delete(ep.id);
      await this.logged(this.driver, 'Leave', { NetworkID: ep.network.id, EndpointID: ep.id }, 'driver leave failed while rolling back join');
      ep.sandbox = null;
      throw e;
    }
  }

  /** populateNetworkResources: interface, static routes, gateway (when this is the gateway endpoint). */
  private async populate(sb: SandboxRec, ep: EndpointRec, fail: Fail): Promise<void> {
    try {
      if (ep.join !== null && ep.join.srcName !== '') await addInterface(this.backend, sb, ep);
      const programmed: StaticRouteRec[] = [];
      sb.programmedRoutes.set(ep.id, programmed);
      for (const r of ep.join?.staticRoutes ?? []) {
        await addStaticRoute(this.backend, sb, r, ep);
        programmed.push(r);
      }
      if (ep === this.gatewayEndpoint(sb)) await updateGateway(this.backend, sb, ep);
    } catch (e) {
      if (e instanceof SandboxFailure) fail('sandbox', e.message, { status: 500 });
      throw e;
    }
  }

  /** The OCI prestart hook (libnetwork-setkey): the netns appears, every endpoint is populated. */
  private async ociHook(c: ContainerRec, fail: Fail): Promise<void> {
    const sb = c.sandbox;
    if (sb === null) return;
    try {
      await this.backend.createNamespace(sb.key);
    } catch (e) {
      fail('sandbox', `failed to create network namespace ${sb.key}: ${goErr(e)}`);
    }
    sb.osCreated = true;
    for (const ep of [...sb.endpoints]) await this.populate(sb, ep, fail);
  }

  private async sbLeave(sb: SandboxRec, ep: EndpointRec): Promise<void> {
    const haveDriver = await this.quietResolve('driver');
    ep.sandbox = null;
    const before = this.gatewaySet(sb);
    if (haveDriver) {
      if (before.includes(ep)) await this.logged(this.driver, 'RevokeExternalConnectivity', { NetworkID: ep.network.id, EndpointID: ep.id }, `driver failed revoking external connectivity on endpoint ${ep.name} (${ep.id})`, true);
      await this.logged(this.driver, 'Leave', { NetworkID: ep.network.id, EndpointID: ep.id }, `driver error disconnecting container ${ep.name}`);
    }
    await this.clearNetworkResources(sb, ep);
    if (!sb.inDelete && this.needDefaultGW(sb)) {
      sb.gwBridge = true;
      return;
    }
    if (before.includes(ep)) {
      for (const nw of this.gatewaySet(sb)) {
        // 20.10's sbLeave programs the new gateway endpoint without looking at --internal.
        if (before.includes(nw) || (this.profile === 'moby' && nw.network.internal)) continue;
        const r = await this.program(sb, nw);
        if (!r.ok && r.error.kind !== 'not-implemented') this.warn(`driver failed programming external connectivity on endpoint ${nw.name}: (${nw.id}) ${r.error.message}`);
      }
    }
    if (!this.needDefaultGW(sb)) sb.gwBridge = false;
  }

  /** Move the endpoint's interface out, drop its routes, take it out of the heap, move the default route on. */
  private async clearNetworkResources(sb: SandboxRec, ep: EndpointRec): Promise<void> {
    let linkGone = true;
    if (sb.osCreated) {
      for (const f of sb.ifaces.filter((x) => x.ep === ep)) {
        try {
          await removeInterface(this.backend, sb, f);
        } catch (e) {
          linkGone = false;
          // osl keeps it; nothing will touch it again until the netns goes.
          sb.ifaces.splice(sb.ifaces.indexOf(f), 1);
          sb.stray.add(f.dstName).add(f.srcName);
          sb.gatewayStale = true;
          this.warn(`Remove interface ${f.srcName} failed: ${goErr(e)}`);
        }
      }
      for (const r of sb.programmedRoutes.get(ep.id) ?? []) {
        // Usually gone with the link already; dockerd ignores the error.
        await removeStaticRoute(this.backend, sb, r).catch(() => undefined);
      }
      sb.programmedRoutes.delete(ep.id);
    }
    const gwBefore = this.gatewayEndpoint(sb);
    const i = sb.endpoints.indexOf(ep);
    if (i < 0) return;
    heapRemove(sb.endpoints, i, this.less);
    const gwAfter = this.gatewayEndpoint(sb);
    if (sb.osCreated && gwAfter !== null && gwAfter !== gwBefore) {
      await updateGateway(this.backend, sb, gwAfter).catch((e: unknown) => this.warn(`updating gateway: ${goErr(e)}`));
    } else if (sb.osCreated && gwAfter === null && gwBefore === ep) {
      if (linkGone) {
        // The kernel dropped the default route with the link.
        sb.defaultRoute4 = null;
        sb.defaultRoute6 = null;
      } else await updateGateway(this.backend, sb, null);
    }
  }

  /** endpoint.Delete(false): leave if still joined, DeleteEndpoint, release the addresses. */
  private async endpointDelete(ep: EndpointRec): Promise<void> {
    if (ep.sandbox !== null) await this.sbLeave(ep.sandbox, ep);
    ep.network.endpoints.delete(ep.id);
    ep.network.endpointNames.delete(ep.name);
    if (await this.quietResolve('driver')) {
      const ok = await this.logged(this.driver, 'DeleteEndpoint', { NetworkID: ep.network.id, EndpointID: ep.id }, `driver error deleting endpoint ${ep.name}`);
      if (!ok) this.leak({ kind: 'endpoint', detail: `DeleteEndpoint of ${ep.id} failed; the driver may keep its state` });
    } else {
      // dockerd keeps such an endpoint in its store; cnmkit forgets it and reports the driver-side leftover.
      this.leak({ kind: 'endpoint', detail: `driver not resolvable: endpoint ${ep.id} never deleted in the driver` });
    }
    await this.releaseAddress(ep);
  }

  /** releaseNetwork / sandbox.delete: every endpoint leaves and is deleted, then the netns goes. */
  private async releaseNetwork(c: ContainerRec): Promise<void> {
    const sb = c.sandbox;
    if (sb === null) return;
    sb.inDelete = true;
    for (const ep of [...sb.endpoints]) {
      await this.sbLeave(sb, ep);
      await this.endpointDelete(ep);
    }
    if (sb.osCreated) {
      try {
        await this.backend.deleteNamespace(sb.key);
      } catch (e) {
        this.warn(`failed to delete sandbox ${sb.key}: ${goErr(e)}`);
        this.leakedNamespaces.add(sb.key);
        this.leak({ kind: 'sandbox', namespace: sb.key, detail: `netns ${sb.key} not deleted (${goErr(e)})` });
      }
    }
    c.sandbox = null;
  }

  // ---- daemon restart (§4.7) -------------------------------------------------------------

  daemonRestart(spec: DaemonRestartSpec = {}): Promise<void> {
    return this.exclusive('daemonRestart', async () => {
      const crash = spec.crash === true;
      const live = spec.liveRestore === true;
      const running = [...this.containers.values()].filter((c) => c.running);
      if (!crash && !live) {
        for (const c of running) {
          await this.releaseNetwork(c);
          c.running = false;
        }
      }
      // A new daemon process: nothing is activated any more.
      this.activations.clear();
      await this.replay();
      if (crash && !live) {
        for (const c of running) {
          await this.releaseNetwork(c);
          c.running = false;
        }
      }
    });
  }

  /** reservePools: with RequiresRequestReplay, pools, gateways, aux and endpoint addresses are requested again. */
  private async replay(): Promise<void> {
    const nets = [...this.networks.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const n of nets) {
      if (!(await this.quietResolve('ipam'))) continue;
      if (!this.ipamCaps().replay) continue;
      // An automatic pool is replayed as an explicit subnet, the old gateway as an explicit gateway.
      const v4Conf = n.v4Conf.length === 0 || (n.v4Conf.length === 1 && (n.v4Conf[0]!.subnet ?? '') === '') ? (n.v4.length > 0 ? [{ ...(n.v4Conf[0] ?? {}), subnet: n.v4[0]!.pool.text }] : n.v4Conf) : n.v4Conf.map((c) => ({ ...c }));
      const v6Conf = n.v6Conf.length === 0 || (n.v6Conf.length === 1 && (n.v6Conf[0]!.subnet ?? '') === '') ? (n.v6.length > 0 ? [{ ...(n.v6Conf[0] ?? {}), subnet: n.v6[0]!.pool.text }] : n.v6Conf) : n.v6Conf.map((c) => ({ ...c }));
      v4Conf.forEach((c, i) => {
        const gw = n.v4[i]?.gateway;
        if ((c.gateway ?? '') === '' && gw) (c as { gateway?: string }).gateway = formatIp(gw.ip);
      });
      v6Conf.forEach((c, i) => {
        const gw = n.v6[i]?.gateway;
        if ((c.gateway ?? '') === '' && gw) (c as { gateway?: string }).gateway = formatIp(gw.ip);
      });
      n.v4Conf = v4Conf;
      n.v6Conf = v6Conf;
      const old4 = n.v4;
      const old6 = n.v6;
      try {
        await this.ipamAllocate(n, (step, message) => {
          throw new DaemonError('daemonRestart', step, message);
        });
      } catch (e) {
        // dockerd logs and carries on; the network keeps what it had (cnmkit keeps the old pool records).
        this.warn(`Failed to allocate ipam pool(s) for network ${JSON.stringify(n.name)} (${n.id}): ${e instanceof Error ? e.message : String(e)}`);
        n.v4 = old4;
        n.v6 = old6;
      }
      const eps = [...n.endpoints.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      for (const ep of eps) {
        for (const v of [4, 6] as const) {
          const cur = v === 4 ? ep.v4 : ep.v6;
          if (cur === null) continue;
          const pools = v === 4 ? n.v4 : n.v6;
          const p = pools.find((x) => netContains(x.pool.net, cur.addr.ip));
          if (p === undefined) continue;
          const r = await this.tryCall(this.ipam, 'RequestAddress', { PoolID: p.poolId, Address: addressPart(cur.addr.text), Options: null });
          if (r.ok && r.value.Address !== '') cur.poolId = p.poolId;
          else this.warn(`failed to reserve current address for endpoint ${JSON.stringify(ep.name)} (${ep.id}) on network ${JSON.stringify(n.name)} (${n.id})`);
        }
      }
    }
  }

  // ---- views ------------------------------------------------------------------------------

  inspect(): DaemonView {
    return {
      profile: this.profile,
      networks: [...this.networks.values()].map((n) => this.networkView(n)),
      containers: [...this.containers.values()].map((c) => this.containerView(c)),
    };
  }

  private poolView(p: PoolRec): PoolView {
    return { poolId: p.poolId, pool: p.pool.text, gateway: p.gateway?.text ?? null, auxAddresses: Object.fromEntries(p.aux.map(([k, v]) => [k, v.text])) };
  }

  private endpointView(ep: EndpointRec): EndpointView {
    return {
      id: ep.id,
      name: ep.name,
      network: ep.network.name,
      ipv4: ep.v4?.addr.text ?? null,
      ipv6: ep.v6?.addr.text ?? null,
      mac: ep.mac,
      join:
        ep.join === null
          ? null
          : { srcName: ep.join.srcName, dstPrefix: ep.join.dstPrefix, gateway: ep.join.gw, gatewayIPv6: ep.join.gw6, disableGatewayService: ep.join.disableGatewayService },
    };
  }

  private networkView(n: NetworkRec): NetworkView {
    return {
      id: n.id,
      name: n.name,
      driver: this.driverName,
      ipamDriver: this.ipamName,
      internal: n.internal,
      enableIPv6: n.enableIPv6,
      ipv4: n.v4.map((p) => this.poolView(p)),
      ipv6: n.v6.map((p) => this.poolView(p)),
      endpoints: [...n.endpoints.values()].map((e) => this.endpointView(e)),
    };
  }

  private containerView(c: ContainerRec): ContainerView {
    const sb = c.sandbox;
    return {
      id: c.id,
      name: c.name,
      running: c.running,
      networks: c.attachments.map((a) => this.networks.get(a.networkId)?.name ?? a.network),
      sandbox:
        sb === null
          ? null
          : {
              id: sb.id,
              key: sb.key,
              endpoints: sb.endpoints.map((e) => this.endpointView(e)),
              interfaces: sb.ifaces.map((f) => ({ endpoint: f.ep.id, network: f.ep.network.name, name: f.dstName, srcName: f.srcName })),
              gatewayEndpoint: this.gatewayEndpoint(sb)?.id ?? null,
              defaultGatewayBridge: sb.gwBridge,
            },
    };
  }

  // ---- verification -------------------------------------------------------------------------

  async verifySandboxes(): Promise<string[]> {
    const problems: string[] = [];
    const namespaces = new Set(await this.backend.listNamespaces());
    const expectedNs = new Set<string>([HOST_NAMESPACE]);
    for (const c of this.containers.values()) {
      const sb = c.sandbox;
      if (sb === null || !sb.osCreated) continue;
      expectedNs.add(sb.key);
      const where = `container ${c.name} (${sb.key})`;
      if (!namespaces.has(sb.key)) {
        problems.push(`${where}: namespace missing`);
        continue;
      }
      const links = await this.backend.listLinks(sb.key);
      const want = new Map(sb.ifaces.map((f) => [f.dstName, f]));
      for (const l of links) {
        if (l.name === 'lo') continue;
        const f = want.get(l.name);
        if (f === undefined) {
          if (!sb.stray.has(l.name)) problems.push(`${where}: unexpected link ${l.name}`);
          continue;
        }
        want.delete(l.name);
        if (!l.up) problems.push(`${where}: ${l.name} is down`);
        if (f.ep.mac !== null && l.mac !== f.ep.mac) problems.push(`${where}: ${l.name} has MAC ${l.mac}, expected ${f.ep.mac}`);
        const addrs = (await this.backend.listAddresses(sb.key, l.name)).map((a) => a.cidr).sort();
        const expAddrs = [f.ep.v4?.addr.text, f.ep.v6?.addr.text].filter((x): x is string => x !== undefined).sort();
        if (JSON.stringify(addrs) !== JSON.stringify(expAddrs)) problems.push(`${where}: ${l.name} has addresses [${addrs.join(', ')}], expected [${expAddrs.join(', ')}]`);
      }
      for (const name of want.keys()) problems.push(`${where}: interface ${name} missing`);
      const routes = await this.backend.listRoutes(sb.key);
      for (const f of sb.ifaces) {
        for (const r of f.ep.join?.ifaceRoutes ?? []) {
          if (!routes.some((x) => x.destination === (parseCidr(r)?.text ?? r) && x.dev === f.dstName && x.gateway === null)) problems.push(`${where}: connected route ${r} dev ${f.dstName} missing`);
        }
      }
      for (const ep of sb.endpoints) {
        for (const r of sb.programmedRoutes.get(ep.id) ?? []) {
          if (!routes.some((x) => x.destination === (parseCidr(r.destination)?.text ?? r.destination) && x.gateway === r.nextHop)) problems.push(`${where}: route ${r.destination} via ${r.nextHop} missing`);
        }
      }
      // Every joined endpoint with a SrcName has its interface.
      for (const ep of sb.endpoints) {
        if (ep.join !== null && ep.join.srcName !== '' && !sb.ifaces.some((f) => f.ep === ep)) problems.push(`${where}: endpoint ${ep.id} has no interface`);
      }
      const gwEp = this.gatewayEndpoint(sb);
      const defaults4 = routes.filter((r) => r.family === 4 && r.destination === '0.0.0.0/0');
      const defaults6 = routes.filter((r) => r.family === 6 && r.destination === '::/0');
      const exp4 = gwEp?.join?.gw ?? null;
      const exp6 = gwEp?.join?.gw6 ?? null;
      const fromStatic4 = sb.endpoints.some((e) => e.join?.staticRoutes.some((r) => r.destination === '0.0.0.0/0'));
      if (sb.gatewayStale) continue;
      if (!fromStatic4) {
        if (exp4 === null && defaults4.length > 0) problems.push(`${where}: unexpected default route via ${defaults4[0]!.gateway ?? defaults4[0]!.dev}`);
        if (exp4 !== null && (defaults4.length !== 1 || defaults4[0]!.gateway !== exp4)) problems.push(`${where}: default route ${defaults4.map((r) => r.gateway).join(',') || 'none'}, expected via ${exp4}`);
      }
      if (exp6 !== null && (defaults6.length !== 1 || defaults6[0]!.gateway !== exp6)) problems.push(`${where}: IPv6 default route ${defaults6.map((r) => r.gateway).join(',') || 'none'}, expected via ${exp6}`);
      if (exp6 === null && defaults6.length > 0) problems.push(`${where}: unexpected IPv6 default route`);
    }
    for (const ns of namespaces) {
      if (!expectedNs.has(ns) && ns.startsWith(NETNS_DIR) && !this.leakedNamespaces.has(ns)) problems.push(`stale sandbox namespace ${ns}`);
    }
    return problems;
  }
}
