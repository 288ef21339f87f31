/**
 * The simulation host: the daemon simulator (src/daemon) driving either the
 * in-process reference plugin (driver + IPAM on a virtual backend) or a
 * plugin behind a socket, with fault injection in front of the plugin, and
 * the translation of the daemon's, the IPAM's and the backend's views into
 * the trace's SimState.
 */
import { HOST_NAMESPACE, isBackendError, type LinkInfo } from '../backend/backend.js';
import { VirtualBackend } from '../backend/virtual/index.js';
import type { CallRecord, PluginCaller } from '../client/types.js';
import { connect } from '../client/connect.js';
import { UsageError } from '../errors.js';
import { createDaemon, faultyCaller, inProcessPlugin, type Daemon, type DaemonLeak, type DaemonView, type FaultyCaller } from '../daemon/index.js';
import { addressPart, netContains, parseCidr, parseIp } from '../net/index.js';
import { createIpam, type SyncReferenceIpam } from '../ipam/index.js';
import type { IpamApi } from '../protocol/api.js';
import type { Profile } from '../protocol/constants.js';
import { createReferencePlugin } from '../reference/plugin.js';
import type { SimHost } from './runner.js';
import type { FaultSpec, Scenario, ScenarioAction, SubnetSpec } from './scenario.js';
import type { AddressHolder, ContainerView, NamespaceView, NetworkView, PoolView, SimState } from './trace.js';

export interface HostOptions {
  readonly socket?: string;
  readonly profile?: Profile;
}

/** Runs of a pool listed in full up to this many (the map needs them all to be exact). */
const MAX_RUNS = 100_000;

/**
 * The daemon's side of the kernel when the plugin runs elsewhere (`--socket`):
 * the plugin's host-side links are not in this model, so the interface Join
 * names (SrcName) is stood in for by a veth pair when the daemon first looks
 * it up. The drawing then shows the sandboxes as the daemon builds them.
 */
class DaemonSideBackend extends VirtualBackend {
  private stubs = 0;
  override async getLink(ns: string, name: string): Promise<LinkInfo> {
    try {
      return await super.getLink(ns, name);
    } catch (e) {
      if (ns !== HOST_NAMESPACE || !isBackendError(e, 'ENODEV')) throw e;
      await this.createVethPair(HOST_NAMESPACE, name, `cnm-plugin${this.stubs++}`);
      return super.getLink(ns, name);
    }
  }
}

/**
 * The reference IPAM as Docker's built-in one: it lives in dockerd's process,
 * keeps its state in memory and loses it when the daemon restarts (the daemon
 * then replays pools and addresses, RequiresRequestReplay).
 */
class BuiltinIpam implements IpamApi {
  current: SyncReferenceIpam;
  constructor(private readonly make: () => SyncReferenceIpam) {
    this.current = make();
  }
  restart(): void {
    void this.current.close();
    this.current = this.make();
  }
  getCapabilities() {
    return this.current.getCapabilities();
  }
  getDefaultAddressSpaces() {
    return this.current.getDefaultAddressSpaces();
  }
  requestPool(req: Parameters<IpamApi['requestPool']>[0]) {
    return this.current.requestPool(req);
  }
  releasePool(req: Parameters<IpamApi['releasePool']>[0]) {
    return this.current.releasePool(req);
  }
  requestAddress(req: Parameters<IpamApi['requestAddress']>[0]) {
    return this.current.requestAddress(req);
  }
  releaseAddress(req: Parameters<IpamApi['releaseAddress']>[0]) {
    return this.current.releaseAddress(req);
  }
}

export async function createHost(scenario: Scenario, opts: HostOptions = {}): Promise<SimHost> {
  const profile: Profile = opts.profile ?? scenario.profile ?? 'docker-20.10';
  let caller: PluginCaller;
  let ipam: BuiltinIpam | null = null;
  let backend: VirtualBackend;
  let closePlugin: () => Promise<void>;
  if (opts.socket !== undefined) {
    const client = await connect({ socket: opts.socket }, { profile });
    // Fail fast, in one line, when nothing answers there (before any step runs).
    const probe = await client.tryCall('Activate', null);
    if (!probe.ok && (probe.error.kind === 'transport-error' || probe.error.kind === 'timeout')) {
      await client.close();
      throw new UsageError(`--socket ${opts.socket}: ${probe.error.message}`);
    }
    caller = client;
    const b = new DaemonSideBackend();
    backend = b;
    closePlugin = async () => {
      await client.close();
      await b.close();
    };
  } else {
    const b = new VirtualBackend();
    backend = b;
    const plugin = await createReferencePlugin({ backend: b, profile });
    const builtin = new BuiltinIpam(() =>
      createIpam({
        profile,
        requiresRequestReplay: true,
        ...(scenario.defaultAddressPools ? { defaultAddressPools: scenario.defaultAddressPools } : {}),
      }),
    );
    ipam = builtin;
    const inproc = await inProcessPlugin({ driver: plugin.driver, ipam: builtin, profile });
    caller = inproc.client;
    closePlugin = async () => {
      await inproc.close();
      await builtin.current.close();
      await plugin.close();
      await b.close();
    };
  }
  const faulty: FaultyCaller = faultyCaller(caller);
  const daemon: Daemon = createDaemon({ driver: faulty, ipam: faulty, backend, profile });
  const injected = new WeakSet<CallRecord>();
  let injectedBefore = 0;
  /** Leaks before this index died with a restarted built-in IPAM. */
  let leakBase = 0;
  faulty.onCall((r) => {
    if (faulty.injected.length > injectedBefore) {
      injectedBefore = faulty.injected.length;
      injected.add(r);
    }
  });

  return {
    target: opts.socket ?? 'reference',
    profile,
    async perform(action) {
      if (action.kind === 'daemon-restart') {
        await restart(daemon, action.startOrder, ipam, () => {
          // The built-in IPAM's memory went with the old process, and with it what dockerd leaked.
          if (ipam !== null) leakBase = daemon.leaks().length;
        });
        return;
      }
      await perform(daemon, action);
    },
    async state() {
      return buildState(daemon.inspect(), daemon.leaks().slice(leakBase), ipam?.current ?? null, backend);
    },
    async invariants(state) {
      return checkInvariants(state, backend);
    },
    injectFault(f: FaultSpec) {
      faulty.addRule({ method: f.call, occurrence: f.nth, fault: { kind: 'plugin-error', message: f.error } });
    },
    clearFaults() {
      faulty.clearRules();
    },
    wasInjected(r) {
      return injected.has(r);
    },
    onCall(listener) {
      return faulty.onCall(listener);
    },
    async close() {
      // A plugin behind a socket outlives the run: give back what the run took (best effort).
      if (opts.socket !== undefined) await tidyUp(daemon, faulty);
      daemon.close();
      await closePlugin();
    },
  };
}

async function tidyUp(daemon: Daemon, faulty: FaultyCaller): Promise<void> {
  faulty.clearRules();
  for (const c of daemon.inspect().containers) {
    try {
      await daemon.containerRm(c.name, { force: true });
    } catch {
      // Already gone or the plugin refuses: nothing more to do from here.
    }
  }
  for (const n of daemon.inspect().networks) {
    try {
      await daemon.networkRm(n.name);
    } catch {
      // As above.
    }
  }
}

/**
 * `systemctl restart docker`: running containers are stopped (their endpoints
 * torn down), the process exits - with the built-in IPAM its memory goes -,
 * the new daemon replays networks and endpoints, then the restart policy
 * starts the listed containers in order.
 */
async function restart(daemon: Daemon, startOrder: readonly string[], ipam: BuiltinIpam | null, ipamRestarted: () => void): Promise<void> {
  for (const c of daemon.inspect().containers) if (c.running) await daemon.containerStop(c.name);
  ipam?.restart();
  ipamRestarted();
  await daemon.daemonRestart({});
  const errors: string[] = [];
  const known = new Set(daemon.inspect().containers.map((c) => c.name));
  // The restart policy brings back the listed containers that exist.
  for (const name of startOrder.filter((n) => known.has(n))) {
    try {
      await daemon.containerStart(name);
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message}`);
    }
  }
  if (errors.length > 0) throw new Error(`restart policy: ${errors.join('; ')}`);
}

function ipamConf(s: SubnetSpec): { subnet?: string; ipRange?: string; gateway?: string; auxAddresses?: Record<string, string> } {
  return { ...(s.subnet ? { subnet: s.subnet } : {}), ...(s.ipRange ? { ipRange: s.ipRange } : {}), ...(s.gateway ? { gateway: s.gateway } : {}), ...(s.aux ? { auxAddresses: { ...s.aux } } : {}) };
}

async function perform(daemon: Daemon, a: ScenarioAction): Promise<void> {
  switch (a.kind) {
    case 'network-create': {
      const v4 = a.subnets.filter((s) => s.subnet === undefined || parseCidr(s.subnet)?.family === 4);
      const v6 = a.subnets.filter((s) => s.subnet !== undefined && parseCidr(s.subnet)?.family === 6);
      await daemon.networkCreate({
        name: a.name,
        ...(v4.length > 0 && v4.some((s) => s.subnet !== undefined) ? { ipv4: v4.map(ipamConf) } : {}),
        ...(a.ipv6 ? { ipv6: v6.length > 0 ? v6.map(ipamConf) : true } : {}),
        ...(a.internal ? { internal: true } : {}),
        ...(Object.keys(a.ipamOptions).length > 0 ? { ipamOpts: a.ipamOptions } : {}),
      });
      return;
    }
    case 'network-rm':
      await daemon.networkRm(a.name);
      return;
    case 'run':
      await daemon.containerRun({
        name: a.name,
        networks: a.networks.map((n, i) => ({ network: n, ...(i === 0 && a.ip ? { ip: a.ip } : {}), ...(i === 0 && a.ip6 ? { ip6: a.ip6 } : {}) })),
      });
      return;
    case 'stop':
      await daemon.containerStop(a.name);
      return;
    case 'start':
      await daemon.containerStart(a.name);
      return;
    case 'network-connect':
      await daemon.networkConnect(a.container, a.network, { ...(a.ip ? { ip: a.ip } : {}), ...(a.ip6 ? { ip6: a.ip6 } : {}) });
      return;
    case 'network-disconnect':
      await daemon.networkDisconnect(a.container, a.network);
      return;
    case 'daemon-restart':
      throw new Error('daemon restart is performed by the host');
  }
}

function buildState(view: DaemonView, leaks: readonly DaemonLeak[], ipam: SyncReferenceIpam | null, backend: VirtualBackend | null): SimState {
  const networks: NetworkView[] = view.networks.map((n) => ({
    name: n.name,
    id: n.id,
    subnets: [...n.ipv4, ...n.ipv6].map((p) => ({ subnet: parseCidr(p.pool)?.text ?? p.pool, gateway: p.gateway === null ? null : addressPart(p.gateway), range: null })),
  }));
  const containers: ContainerView[] = view.containers.map((c) => {
    const addresses: Record<string, string[]> = {};
    for (const ep of c.sandbox?.endpoints ?? []) {
      const list = (addresses[ep.network] ??= []);
      if (ep.ipv4) list.push(addressPart(ep.ipv4));
      if (ep.ipv6) list.push(addressPart(ep.ipv6));
    }
    return { name: c.name, running: c.running, addresses };
  });
  // Holders per pool id, from the daemon's records.
  const holders = new Map<string, AddressHolder[]>();
  const add = (poolId: string, h: AddressHolder): void => {
    const list = holders.get(poolId);
    if (list) list.push(h);
    else holders.set(poolId, [h]);
  };
  const owner = new Map<string, string>();
  for (const n of view.networks) {
    for (const p of [...n.ipv4, ...n.ipv6]) {
      owner.set(p.poolId, n.name);
      if (p.gateway !== null) add(p.poolId, { address: addressPart(p.gateway), role: 'gateway', who: 'gateway' });
      for (const [k, a] of Object.entries(p.auxAddresses)) add(p.poolId, { address: addressPart(a), role: 'aux', who: k });
    }
    for (const ep of n.endpoints) {
      for (const a of [ep.ipv4, ep.ipv6]) {
        if (a === null) continue;
        const pool = [...n.ipv4, ...n.ipv6].find((p) => contains(p.pool, a));
        if (pool) add(pool.poolId, { address: addressPart(a), role: 'container', who: ep.name });
      }
    }
  }
  const heldBySomeone = new Set([...holders].flatMap(([id, hs]) => hs.map((h) => `${id} ${h.address}`)));
  for (const l of leaks) {
    if (l.kind !== 'address' || l.poolId === undefined || l.address === undefined) continue;
    const a = addressPart(l.address);
    // A leak lasts while the IPAM still has the address (a released pool takes it along).
    if (heldBySomeone.has(`${l.poolId} ${a}`)) continue;
    if (ipam !== null && (ipam.pool(l.poolId) === undefined || !ipam.isAllocated(l.poolId, a))) continue;
    heldBySomeone.add(`${l.poolId} ${a}`);
    add(l.poolId, { address: addressPart(l.address), role: 'leaked', who: `leaked by dockerd (${l.operation}): ${l.detail}` });
  }
  const leakedPools = new Map<string, string>();
  for (const l of leaks) if (l.kind === 'pool' && l.poolId !== undefined) leakedPools.set(l.poolId, `leaked by dockerd (${l.operation}): ${l.detail}`);
  const pools: PoolView[] = [];
  if (ipam !== null) {
    for (const info of ipam.pools()) {
      const runs = ipam.addresses(info.id, MAX_RUNS).map((r) => ({ first: r.first, last: r.last, count: r.count }));
      const allocated = runs.reduce((n, r) => n + BigInt(r.count), 0n);
      pools.push({
        id: info.id,
        network: owner.get(info.id) ?? null,
        family: info.family,
        pool: info.pool,
        range: info.subPool,
        size: info.size,
        reserved: info.reserved,
        holders: holders.get(info.id) ?? [],
        runs,
        allocated: allocated.toString(),
        ...(!owner.has(info.id) && leakedPools.has(info.id) ? { leak: leakedPools.get(info.id)! } : {}),
      });
    }
    // A master created implicitly by a sub-pool (--ip-range) shares its bitmap: one map (the sub-pool's), not two.
    const held = new Set(pools.filter((p) => p.network !== null || p.range !== null).map((p) => p.pool));
    for (let i = pools.length - 1; i >= 0; i--) if (pools[i].network === null && pools[i].range === null && held.has(pools[i].pool)) pools.splice(i, 1);
  } else {
    for (const n of view.networks) {
      for (const p of [...n.ipv4, ...n.ipv6]) {
        const net = parseCidr(p.pool);
        if (net === null) continue;
        const size = 1n << BigInt(net.hostBits);
        const reserved = net.family === 4 && net.hostBits >= 2 ? [addressPart(net.text), lastAddress(net.text)] : [addressPart(net.text)];
        const hs = holders.get(p.poolId) ?? [];
        pools.push({ id: p.poolId, network: n.name, family: net.family, pool: net.text, range: null, size: size.toString(), reserved, holders: hs, runs: null, allocated: String(new Set(hs.map((h) => h.address)).size) });
      }
    }
  }
  const tree = backend === null ? null : buildTree(backend, view);
  return { networks, containers, pools, tree };
}

function lastAddress(cidr: string): string {
  const net = parseCidr(cidr)!;
  const v = BigInt(net.base) + (1n << BigInt(net.hostBits)) - 1n;
  return net.family === 4 ? [Number(v >> 24n) & 255, Number(v >> 16n) & 255, Number(v >> 8n) & 255, Number(v) & 255].join('.') : v.toString();
}

function contains(cidr: string, address: string): boolean {
  const net = parseCidr(cidr);
  const ip = parseIp(addressPart(address));
  return net !== null && ip !== null && netContains(net, ip);
}

function buildTree(backend: VirtualBackend, view: DaemonView): NamespaceView[] {
  const labels = new Map<string, string>();
  for (const c of view.containers) if (c.sandbox) labels.set(c.sandbox.key, c.name);
  return backend.snapshot().namespaces.map((ns) => ({
    key: ns.key,
    label: labels.get(ns.key) ?? ns.key,
    links: ns.links.map((l) => ({ name: l.name, kind: l.kind, up: l.up, master: l.master, peer: l.peer, addresses: l.addresses })),
  }));
}

/** The invariants checked after every fuzzing step. */
function checkInvariants(st: SimState, backend: VirtualBackend): string[] {
  const out: string[] = [...backend.checkInvariants().map((m) => `backend: ${m}`)];
  // No address held twice within one network.
  for (const n of st.networks) {
    const seen = new Map<string, string>();
    for (const c of st.containers) {
      for (const a of c.addresses[n.name] ?? []) {
        const prev = seen.get(a);
        if (prev !== undefined) out.push(`duplicate address ${a} on network ${n.name}: ${prev} and ${c.name}`);
        seen.set(a, c.name);
      }
    }
    for (const p of st.pools.filter((x) => x.network === n.name)) {
      for (const h of p.holders) if (!contains(p.pool, h.address)) out.push(`${h.who} holds ${h.address} outside pool ${p.pool} of ${n.name}`);
    }
  }
  // Every container address inside one of its network's pools.
  for (const c of st.containers) {
    for (const [net, addrs] of Object.entries(c.addresses)) {
      const pools = st.pools.filter((p) => p.network === net);
      for (const a of addrs) if (pools.length > 0 && !pools.some((p) => contains(p.pool, a))) out.push(`container ${c.name} holds ${a}, outside every pool of ${net}`);
    }
  }
  // IPAM allocations == what networks and containers hold (+ documented daemon leaks).
  for (const p of st.pools) {
    if (p.runs === null) continue;
    if (p.network === null) {
      if (p.leak !== undefined) continue;
      out.push(`pool ${p.id} is allocated in the IPAM but no network holds it`);
      continue;
    }
    const held = new Set(p.holders.map((h) => h.address));
    let allocated = 0n;
    for (const r of p.runs) allocated += BigInt(r.count);
    const inRuns = (a: string): boolean => p.runs!.some((r) => cmp(r.first, a) <= 0 && cmp(a, r.last) <= 0);
    for (const h of p.holders) if (!inRuns(h.address)) out.push(`${h.who} holds ${h.address} in ${p.pool}, but the IPAM has it free`);
    if (allocated !== BigInt([...held].filter(inRuns).length)) out.push(`pool ${p.pool} of ${p.network}: the IPAM has ${allocated} addresses allocated, the daemon accounts for ${held.size}`);
  }
  return out;
}

function cmp(a: string, b: string): number {
  const x = BigInt(parseIp(a)!.value);
  const y = BigInt(parseIp(b)!.value);
  return x < y ? -1 : x > y ? 1 : 0;
}
