/**
 * IPAM instances "on several hosts", each on its own socket, written from
 * protocol.md §2.3/§4.9 alone. Where the state lives is the design:
 *
 * - `shared`: every instance reads and writes one state (two front-ends over one
 *   linearizable store, as instances on one etcd cluster are). Correct.
 * - `independent`: each instance has its own state (a single-host IPAM started
 *   twice, no shared store). Must fail the multi suite.
 * - `shared-pools`: pools are shared but each instance keeps its own address
 *   set (a cache never written back). Hands out addresses twice across hosts.
 * - `local-only`: shared state, but no global address space at all.
 * - `lagging`: each instance has its own replica and sees the other instances'
 *   writes `lagMs` later (an eventually consistent store): every sequential
 *   history looks right, yet two hosts starting containers at once get one address.
 * - `startup-gc`: shared state, but an instance that starts again releases every
 *   address it handed out before ("the host rebooted, its containers are gone"),
 *   though its containers still run.
 *
 * `restart(i)` closes instance i's server and serves it again: with a shared
 * store the state survives; per-instance state (addresses in `shared-pools`,
 * everything in `independent`) is lost as with kill -9 of a host's plugin.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { type FixtureMethods, refuse, serveFixture } from './serve.js';
import { flag, fmtAddr, fmtNet, inNet, type Net, netOf, netsOverlap, parseAddr, parseNet, str } from './shared-ipam.js';

/** 10.181.0.0 as a number: where automatic pools are carved. */
const AUTO_BASE = (10n << 24n) | (181n << 16n);

export type MultiIpamMode = 'shared' | 'independent' | 'shared-pools' | 'local-only' | 'lagging' | 'startup-gc';

interface Pool {
  readonly space: string;
  readonly net: Net;
  readonly range: readonly [bigint, bigint];
}

interface State {
  readonly pools: Map<string, Pool>;
  /** Per pool id: allocated addresses. */
  readonly used: Map<string, Set<bigint>>;
}

const newState = (): State => ({ pools: new Map(), used: new Map() });

export interface MultiIpamOptions {
  /** Automatic address order: lowest free (default) or random (this PRNG). */
  readonly random?: () => number;
  /** Opaque PoolIDs (`p-<n>-<hex>`) instead of `<space>/<cidr>`. */
  readonly opaqueIds?: boolean;
  /** `lagging`: how late the other replicas see a write (default 40 ms). */
  readonly lagMs?: number;
}

function copyState(s: State): State {
  return { pools: new Map(s.pools), used: new Map([...s.used].map(([id, set]) => [id, new Set(set)])) };
}

/** What a handler changed in a replica: applied to the other replicas later. */
function changeOf(before: State, after: State): ((s: State) => void) | null {
  const ops: ((s: State) => void)[] = [];
  for (const [id, p] of after.pools) if (!before.pools.has(id)) ops.push((s) => s.pools.set(id, p));
  for (const id of before.pools.keys()) if (!after.pools.has(id)) ops.push((s) => (s.pools.delete(id), s.used.delete(id)));
  for (const [id, set] of after.used) {
    const old = before.used.get(id) ?? new Set<bigint>();
    for (const v of set) if (!old.has(v)) ops.push((s) => (s.used.get(id) ?? s.used.set(id, new Set()).get(id)!).add(v));
    for (const v of old) if (!set.has(v)) ops.push((s) => s.used.get(id)?.delete(v));
  }
  for (const [id, old] of before.used) if (!after.used.has(id) && after.pools.has(id)) for (const v of old) ops.push((s) => s.used.get(id)?.delete(v));
  return ops.length === 0 ? null : (s) => ops.forEach((op) => op(s));
}

function methods(mode: MultiIpamMode, pools: () => State, addresses: () => State, o: MultiIpamOptions, counter: { n: number }, handedOut: (id: string, v: bigint) => void = () => {}): FixtureMethods {
  const spaces = mode === 'local-only' ? { local: 'MultiLocal', global: '' } : { local: 'MultiLocal', global: 'MultiGlobal' };
  const setOf = (id: string): Set<bigint> => {
    const used = addresses().used;
    let s = used.get(id);
    if (!s) used.set(id, (s = new Set()));
    return s;
  };
  const reserved = (p: Pool, v: bigint): boolean => v === p.net.base || (p.net.family === 4 && p.net.prefix < 31 && v === p.net.last);
  const pick = (id: string, p: Pool): bigint | null => {
    const used = setOf(id);
    const free: bigint[] = [];
    for (let v = p.range[0]; v <= p.range[1] && free.length < 4096; v++) if (!reserved(p, v) && !used.has(v)) free.push(v);
    if (free.length === 0) return null;
    return o.random ? free[Math.floor(o.random() * free.length)]! : free[0]!;
  };
  return {
    '/IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: spaces.local, GlobalDefaultAddressSpace: spaces.global }),
    '/IpamDriver.RequestPool': (b) => {
      const space = str(b, 'AddressSpace');
      if (space !== spaces.local && (space !== spaces.global || spaces.global === '')) refuse(`unknown address space ${JSON.stringify(space)}`);
      const state = pools();
      const overlaps = (net: Net): boolean => [...state.pools.values()].some((p) => p.space === space && netsOverlap(p.net, net));
      const poolText = str(b, 'Pool');
      if (str(b, 'SubPool') !== '') refuse('no --ip-range support');
      let net: Net | null;
      if (poolText === '') {
        // Automatic pools: the first free /24 of 10.181.0.0/16 (IPv4 only).
        if (flag(b, 'V6')) refuse('no automatic IPv6 pools: give --subnet');
        net = null;
        for (let i = 0n; i < 256n && net === null; i++) {
          const candidate = netOf(4, AUTO_BASE + (i << 8n), 24);
          if (!overlaps(candidate)) net = candidate;
        }
        if (net === null) refuse('automatic pools exhausted');
      } else {
        net = parseNet(poolText);
        if (!net) refuse(`invalid pool ${JSON.stringify(poolText)}`);
      }
      if (overlaps(net)) refuse(`pool ${fmtNet(net)} overlaps a pool in use`);
      const id = o.opaqueIds ? `p-${counter.n++}-${Math.floor((o.random ?? Math.random)() * 2 ** 32).toString(16)}` : `${space}/${fmtNet(net)}`;
      state.pools.set(id, { space, net, range: [net.base, net.last] });
      return { PoolID: id, Pool: fmtNet(net), Data: {} };
    },
    '/IpamDriver.ReleasePool': (b) => {
      const id = str(b, 'PoolID');
      if (!pools().pools.delete(id)) refuse(`unknown pool ${id}`);
      addresses().used.delete(id);
      return {};
    },
    '/IpamDriver.RequestAddress': (b) => {
      const id = str(b, 'PoolID');
      const p = pools().pools.get(id);
      if (!p) refuse(`unknown pool ${id}`);
      const pref = str(b, 'Address');
      let v: bigint | null;
      if (pref !== '') {
        const ip = parseAddr(pref);
        if (!ip || !inNet(p.net, ip.family, ip.value)) refuse(`${pref} is not in ${fmtNet(p.net)}`);
        if (reserved(p, ip.value) || setOf(id).has(ip.value)) refuse(`${pref} is in use`);
        v = ip.value;
      } else {
        v = pick(id, p);
        if (v === null) refuse('no free address in the pool');
      }
      setOf(id).add(v);
      handedOut(id, v);
      return { Address: `${fmtAddr(p.net.family, v)}/${p.net.prefix}`, Data: {} };
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const id = str(b, 'PoolID');
      const p = pools().pools.get(id);
      if (!p) refuse(`unknown pool ${id}`);
      const ip = parseAddr(str(b, 'Address'));
      if (!ip || !inNet(p.net, ip.family, ip.value)) refuse(`${str(b, 'Address')} is not in ${fmtNet(p.net)}`);
      setOf(id).delete(ip.value);
      return {};
    },
  };
}

export interface MultiIpam {
  readonly sockets: readonly string[];
  /** Kill instance i (0-based) and serve it again. */
  restart(i: number): Promise<void>;
  close(): Promise<void>;
}

export async function startMultiIpam(sockets: readonly string[], mode: MultiIpamMode, o: MultiIpamOptions = {}): Promise<MultiIpam> {
  const shared = newState();
  const own = sockets.map(newState);
  const counter = { n: 0 };
  const ownPools = mode === 'independent' || mode === 'lagging';
  const ownAddresses = ownPools || mode === 'shared-pools';
  const plain = (i: number): FixtureMethods =>
    methods(
      mode,
      () => (ownPools ? own[i]! : shared),
      () => (ownAddresses ? own[i]! : shared),
      o,
      counter,
      (id, v) => mine[i]!.push([id, v]),
    );
  /** Per instance: what it handed out (startup-gc releases it on restart). */
  const mine: [string, bigint][][] = sockets.map(() => []);
  const timers = new Set<NodeJS.Timeout>();
  // Lagging replicas: every write shows on the other replicas lagMs later.
  const lagging = (i: number): FixtureMethods =>
    Object.fromEntries(
      Object.entries(plain(i)).map(([path, handler]) => [
        path,
        (b: Record<string, unknown>) => {
          const before = copyState(own[i]!);
          const out = handler(b);
          const change = changeOf(before, own[i]!);
          if (change !== null) {
            own.forEach((_, j) => {
              if (j === i) return;
              const t = setTimeout(() => (timers.delete(t), change(own[j]!)), o.lagMs ?? 40);
              timers.add(t);
            });
          }
          return out;
        },
      ]),
    );
  const table = (i: number): FixtureMethods => (mode === 'lagging' ? lagging(i) : plain(i));
  const servers: ListeningPlugin[] = await Promise.all(sockets.map((s, i) => serveFixture(s, table(i), { implements: ['IpamDriver'] })));
  return {
    sockets,
    async restart(i) {
      await servers[i]!.close();
      // What lived only in the instance's memory is gone (a lagging replica resyncs from another).
      own[i] = mode === 'lagging' ? copyState(own[(i + 1) % own.length]!) : newState();
      if (mode === 'startup-gc') for (const [id, v] of mine[i]!) shared.used.get(id)?.delete(v);
      mine[i] = [];
      servers[i] = await serveFixture(sockets[i]!, table(i), { implements: ['IpamDriver'] });
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
