/**
 * A plain stateful IPAM (pools remembered, addresses in sets), written from
 * protocol.md §2.3 alone, with the knobs in which real IPAM plugins differ:
 * PoolID format, address order, where address uniqueness lives (per pool, or one
 * set for every pool, so overlapping pools can be granted), a required
 * RequestPool option, a fixed gateway, the address spaces. Each design fixture
 * in this directory picks its knobs and says which real plugin it follows.
 */
import { type FixtureMethods, refuse } from './serve.js';
import { flag, type Fam, type Net, fmtAddr, fmtNet, inNet, isGatewayRequest, netOf, netsOverlap, opts, parseAddr, parseNet, str } from './shared-ipam.js';

export interface StatefulOptions {
  readonly spaces?: { readonly local: string; readonly global: string };
  /** PoolID of a new pool; `n` counts the pools granted so far. */
  readonly poolId?: (space: string, net: Net, sub: Net | null, n: number) => string;
  /** Automatic and free-address order: lowest first, or random (with this PRNG). */
  readonly random?: () => number;
  /** `per-address`: one address set for every pool, overlapping (and identical) pools granted. */
  readonly scope?: 'pool' | 'per-address';
  /** Grant overlapping pools even with per-pool address sets: a flaw, for the broken-plugin tests only. */
  readonly grantOverlap?: boolean;
  /** RequestPool refused unless Options carries this key (a macvlan-like `parent`). */
  readonly requiredOption?: string;
  /** The gateway is the pool's first host, served once per pool to the gateway request. */
  readonly fixedGateway?: boolean;
  /** Base range automatic pools are carved from (as /24s), e.g. 10.180.0.0/16. */
  readonly autoBase?: string;
}

interface Pool {
  readonly id: string;
  readonly space: string;
  readonly net: Net;
  readonly range: readonly [bigint, bigint];
  gateway: bigint | null;
}

/** mulberry32: a small seeded PRNG, so a failing run can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function statefulIpamMethods(o: StatefulOptions = {}): FixtureMethods {
  const spaces = o.spaces ?? { local: 'StatefulLocal', global: 'StatefulGlobal' };
  const scope = o.scope ?? 'pool';
  const pools = new Map<string, Pool>();
  /** Allocated addresses: per pool id, or all under one key (per-address scope). */
  const used = new Map<string, Set<string>>();
  const autoBase = parseNet(o.autoBase ?? '10.180.0.0/16')!;
  let granted = 0;

  const setOf = (p: Pool): Set<string> => {
    const key = scope === 'per-address' ? '*' : p.id;
    let s = used.get(key);
    if (!s) used.set(key, (s = new Set()));
    return s;
  };
  const keyOf = (family: Fam, v: bigint): string => `${family}:${v}`;
  const reserved = (p: Pool, v: bigint): boolean => v === p.net.base || (p.net.family === 4 && p.net.prefix < 31 && v === p.net.last);
  const answer = (p: Pool, v: bigint) => ({ Address: `${fmtAddr(p.net.family, v)}/${p.net.prefix}`, Data: {} });
  const overlapsHeld = (space: string, net: Net): boolean => [...pools.values()].some((p) => p.space === space && netsOverlap(p.net, net));
  const free = (p: Pool, v: bigint): boolean => !reserved(p, v) && !setOf(p).has(keyOf(p.net.family, v));

  const pickFree = (p: Pool): bigint | null => {
    const [start, end] = p.range;
    const span = end - start + 1n;
    if (o.random && span <= 65536n) {
      const candidates: bigint[] = [];
      for (let v = start; v <= end; v++) if (free(p, v)) candidates.push(v);
      return candidates.length === 0 ? null : candidates[Math.floor(o.random() * candidates.length)]!;
    }
    for (let v = start; v <= end; v++) if (free(p, v)) return v; // at most |used|+3 steps
    return null;
  };

  const autoPool = (space: string, v6: boolean): Net => {
    if (v6) refuse('no automatic IPv6 pools: give --subnet');
    const count = Number(autoBase.size >> 8n);
    const start = o.random ? Math.floor(o.random() * count) : 0;
    for (let i = 0; i < count; i++) {
      const net = netOf(4, autoBase.base + (BigInt((start + i) % count) << 8n), 24);
      if (!overlapsHeld(space, net)) return net;
    }
    refuse('automatic pools exhausted');
  };

  return {
    '/IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: spaces.local, GlobalDefaultAddressSpace: spaces.global }),
    '/IpamDriver.RequestPool': (b) => {
      const space = str(b, 'AddressSpace');
      if (space !== spaces.local && (space !== spaces.global || spaces.global === '')) refuse(`unknown address space ${JSON.stringify(space)}`);
      if (o.requiredOption && !str(opts(b), o.requiredOption)) refuse(`the ${o.requiredOption} option is required (docker network create --ipam-opt ${o.requiredOption}=...)`);
      const poolText = str(b, 'Pool');
      const subText = str(b, 'SubPool');
      if (poolText === '' && subText !== '') refuse('SubPool needs Pool');
      const net = poolText === '' ? autoPool(space, flag(b, 'V6')) : parseNet(poolText);
      if (!net) refuse(`invalid pool ${JSON.stringify(poolText)}`);
      let range: [bigint, bigint] = [net.base, net.last];
      let sub: Net | null = null;
      if (subText !== '') {
        sub = parseNet(subText);
        if (!sub || sub.family !== net.family || sub.base < net.base || sub.last > net.last) refuse(`SubPool ${subText} is not inside ${fmtNet(net)}`);
        range = [sub.base, sub.last];
      }
      if (scope === 'pool' && !o.grantOverlap && overlapsHeld(space, net)) refuse(`pool ${fmtNet(net)} overlaps a pool in use`);
      const id = (o.poolId ?? ((s, n, sp) => `${s}/${fmtNet(n)}${sp ? `/${fmtNet(sp)}` : ''}`))(space, net, sub, granted++);
      if (pools.has(id)) refuse(`pool ${id} exists`);
      pools.set(id, { id, space, net, range, gateway: null });
      return { PoolID: id, Pool: fmtNet(net), Data: {} };
    },
    '/IpamDriver.ReleasePool': (b) => {
      const id = str(b, 'PoolID');
      if (!pools.delete(id)) refuse(`unknown pool ${id}`);
      if (scope === 'pool') used.delete(id);
      return {};
    },
    '/IpamDriver.RequestAddress': (b) => {
      const p = pools.get(str(b, 'PoolID'));
      if (!p) refuse('unknown pool');
      const family = p.net.family;
      const pref = str(b, 'Address');
      const gateway = isGatewayRequest(b);
      if (gateway && o.fixedGateway && p.gateway !== null) refuse(`pool ${fmtNet(p.net)} has its gateway already`);
      let v: bigint | null;
      if (pref !== '') {
        const ip = parseAddr(pref);
        if (!ip || !inNet(p.net, ip.family, ip.value)) refuse(`${pref} is not in ${fmtNet(p.net)}`);
        if (!free(p, ip.value)) refuse(`${pref} is in use`);
        v = ip.value;
      } else if (gateway && o.fixedGateway) {
        v = p.net.base + 1n; // always the first host: the gateway is requested first (protocol.md §4.1)
        if (!free(p, v)) refuse(`gateway ${fmtAddr(family, v)} is in use`);
      } else {
        v = pickFree(p);
        if (v === null) refuse('no free address in the pool');
      }
      setOf(p).add(keyOf(family, v));
      if (gateway) p.gateway = v;
      return answer(p, v);
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const p = pools.get(str(b, 'PoolID'));
      if (!p) refuse('unknown pool');
      const ip = parseAddr(str(b, 'Address'));
      if (!ip || !inNet(p.net, ip.family, ip.value)) refuse(`${str(b, 'Address')} is not in ${fmtNet(p.net)}`);
      setOf(p).delete(keyOf(ip.family, ip.value));
      if (p.gateway === ip.value) p.gateway = null;
      return {};
    },
  };
}
