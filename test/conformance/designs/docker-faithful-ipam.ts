/**
 * Docker 20.10's default IPAM ("default" driver, libnetwork/ipam) served as a
 * remote plugin, written from ipam-semantics.md alone (not from src/ipam):
 * pool ids `<space>/<subnet>[/<subpool as given>]`, lowest-free allocation with
 * the per-master serial cursor, round-robin automatic pools from the predefined
 * lists, refusal of identical or overlapping masters, sub-pools exempt from
 * overlap checks and sharing their master's bitmap, reference counts from
 * sub-pools only, the exact 20.10 error texts, and its quirks: releasing a free
 * address succeeds and drifts the free counter (D32), releasing the network or
 * broadcast address frees it (D22), IPv6 /64-or-shorter bitmaps of 2^64-1 bits.
 * dockerd runs this allocator for every network; the checker must accept it.
 */
import { type FixtureMethods, refuse, serveFixture } from './serve.js';
import { flag, opts, type Fam, type Net, fmtAddr, fmtNet, inNet, netOf, netsOverlap, parseAddr, parseNet, str } from './shared-ipam.js';
import type { ListeningPlugin } from '../plugins/listen.js';

const LOCAL = 'LocalDefault';
const GLOBAL = 'GlobalDefault';
const U64 = (1n << 64n) - 1n;

const E = {
  overlap: 'Pool overlaps with other one on this address space',
  noPool: 'Address space does not contain specified address pool',
  noAddr: 'No available addresses on this pool',
  inUse: 'Address already in use',
  outOfRange: 'Requested address is out of range',
  nilAddr: 'invalid address: nil',
  noDefault: 'no default pool available for non-default address spaces',
  badId: (id: string) => `invalid pool id: ${id}`,
  noSpace: (s: string) => `cannot find address space ${s} (most likely the backing datastore is not configured)`,
  unknownPool: (id: string) => `cannot find address pool for poolID:${id}`,
  parse: (s: string, p: string, sp: string, inner: string) => `failed to parse pool request for address space "${s}" pool "${p}" subpool "${sp}": ${inner}`,
  exhausted: (v: 4 | 6) => `could not find an available, non-overlapping IPv${v} address pool among the defaults to assign to the network`,
};

/** One bitmap per master (bitseq): ordinals, a free counter that drifts as 20.10's does, the serial cursor. */
interface Bitmap {
  readonly size: bigint;
  readonly used: Set<bigint>;
  free: bigint;
  curr: bigint;
}

interface Master {
  readonly net: Net;
  readonly bitmap: Bitmap;
  refs: number;
}

interface SubPool {
  readonly masterKey: string;
  /** Ordinal range under the master mask (ipam-semantics.md §1.5). */
  readonly start: bigint;
  readonly end: bigint;
  refs: number;
}

interface Space {
  readonly masters: Map<string, Master>;
  readonly subs: Map<string, SubPool>;
  startIndex: number;
}

/** Predefined local pools (§1.2): 172.17-19/16, 172.20-31/16, 192.168.0.0/16 in /20s. */
function localDefaults(): Net[] {
  const out: Net[] = [];
  for (let b = 17; b <= 31; b++) out.push(netOf(4, (172n << 24n) | (BigInt(b) << 16n), 16));
  for (let i = 0n; i < 16n; i++) out.push(netOf(4, (192n << 24n) | (168n << 16n) | (i << 12n), 20));
  return out;
}

/** The global list is 10.0.0.0/8 in 65,536 /24s, produced on demand. */
const globalDefault = (i: number): Net => netOf(4, (10n << 24n) | (BigInt(i) << 8n), 24);

export function dockerFaithfulIpamMethods(): FixtureMethods {
  const spaces = new Map<string, Space>([
    [LOCAL, { masters: new Map(), subs: new Map(), startIndex: 0 }],
    [GLOBAL, { masters: new Map(), subs: new Map(), startIndex: 0 }],
  ]);
  const local = localDefaults();

  const newBitmap = (net: Net): Bitmap => {
    // IPv6 /64 and shorter overflow to 2^64-1 bits in 20.10 (§1.7).
    const size = net.family === 6 && net.prefix <= 64 ? U64 : net.size;
    const used = new Set<bigint>([0n]);
    if (net.family === 4) used.add(size - 1n);
    return { size, used, free: size - BigInt(used.size), curr: 0n };
  };
  const ordinalOf = (m: Master, v: bigint): bigint => {
    const host = v - m.net.base;
    return m.net.family === 6 && m.net.prefix <= 64 ? host & U64 : host; // silent truncation (D24)
  };

  const requestAuto = (s: Space, space: string, v6: boolean): Net => {
    if (space !== LOCAL && space !== GLOBAL) refuse(E.noDefault);
    const count = space === LOCAL ? local.length : 65536;
    const at = (i: number): Net => (space === LOCAL ? local[i]! : globalDefault(i));
    const start = s.startIndex >= count ? 0 : s.startIndex;
    if (!v6) {
      for (let i = 0; i < count; i++) {
        const c = at((start + i) % count);
        if (s.masters.has(fmtNet(c))) continue;
        if ([...s.masters.values()].some((m) => netsOverlap(m.net, c))) continue;
        const next = start + i + 1;
        s.startIndex = next >= count ? 0 : next;
        return c;
      }
    }
    refuse(E.exhausted(v6 ? 6 : 4));
  };

  const parsePoolId = (id: string): { space: Space; key: string; sub: boolean } => {
    const parts = id.split('/');
    if (parts.length !== 3 && parts.length !== 5) refuse(E.badId(id));
    const space = spaces.get(parts[0]!);
    if (!space) refuse(E.noSpace(parts[0]!));
    return { space, key: parts.slice(1).join('/'), sub: parts.length === 5 };
  };

  const lookup = (id: string): { master: Master; range: [bigint, bigint] | null } => {
    const { space, key, sub } = parsePoolId(id);
    if (sub) {
      const sp = space.subs.get(key);
      const master = sp ? space.masters.get(sp.masterKey) : undefined;
      if (!sp || !master) refuse(E.unknownPool(id));
      return { master, range: [sp.start, sp.end] };
    }
    const master = space.masters.get(key);
    if (!master) refuse(E.unknownPool(id));
    return { master, range: null };
  };

  const firstFree = (b: Bitmap, from: bigint, to: bigint): bigint | null => {
    // Terminates after at most |used|+1 steps, also for 2^64-bit bitmaps.
    for (let o = from; o <= to; o++) if (!b.used.has(o)) return o;
    return null;
  };

  return {
    '/IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false, RequiresRequestReplay: true }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: LOCAL, GlobalDefaultAddressSpace: GLOBAL }),
    '/IpamDriver.RequestPool': (b) => {
      const spaceName = str(b, 'AddressSpace');
      const pool = str(b, 'Pool');
      const subText = str(b, 'SubPool');
      const v6 = flag(b, 'V6');
      // parsePoolRequest (§1.4/§1.5), wrapped in the "failed to parse pool request" text.
      if (spaceName === '') refuse(E.parse(spaceName, pool, subText, 'Invalid Address Space'));
      if (pool === '' && subText !== '') refuse(E.parse(spaceName, pool, subText, 'Invalid Address SubPool'));
      let net: Net | null = null;
      if (pool !== '') {
        net = parseNet(pool);
        if (!net) refuse(E.parse(spaceName, pool, subText, 'Invalid Address Pool'));
      }
      let subNet: Net | null = null;
      if (subText !== '') {
        subNet = parseNet(subText);
        if (!subNet || subNet.family !== net!.family) refuse(E.parse(spaceName, pool, subText, 'Invalid Address SubPool'));
      }
      const s = spaces.get(spaceName);
      if (net === null) {
        if (!s) refuse(E.noDefault);
        net = requestAuto(s, spaceName, v6);
      }
      if (!s) refuse(E.noSpace(spaceName));
      const masterKey = fmtNet(net);
      if (subNet === null) {
        if (s.masters.has(masterKey) || [...s.masters.values()].some((m) => netsOverlap(m.net, net))) refuse(E.overlap);
        s.masters.set(masterKey, { net, bitmap: newBitmap(net), refs: 1 });
        return { PoolID: `${spaceName}/${masterKey}`, Pool: masterKey, Data: {} };
      }
      // Sub-pools: keyed by the text as given, no overlap checks, the master created or referenced (§1.5).
      const subKey = `${masterKey}/${subText}`;
      if (s.subs.has(subKey)) refuse(E.overlap);
      let master = s.masters.get(masterKey);
      if (master) master.refs++;
      else s.masters.set(masterKey, (master = { net, bitmap: newBitmap(net), refs: 1 }));
      const hostMask = net.size - 1n;
      const start = subNet.base & hostMask;
      const end = subNet.size >= net.size ? hostMask : subNet.last & hostMask;
      s.subs.set(subKey, { masterKey, start, end, refs: 1 });
      return { PoolID: `${spaceName}/${subKey}`, Pool: masterKey, Data: {} };
    },
    '/IpamDriver.ReleasePool': (b) => {
      const id = str(b, 'PoolID');
      const { space, key, sub } = parsePoolId(id);
      const release = (masterKey: string): void => {
        const m = space.masters.get(masterKey);
        if (m && --m.refs <= 0) space.masters.delete(masterKey); // the bitmap goes with it (D31)
      };
      if (sub) {
        const sp = space.subs.get(key);
        if (!sp) refuse(E.noPool);
        if (--sp.refs <= 0) space.subs.delete(key);
        release(sp.masterKey);
      } else {
        if (!space.masters.has(key)) refuse(E.noPool);
        release(key);
      }
      return {};
    },
    '/IpamDriver.RequestAddress': (b) => {
      const id = str(b, 'PoolID');
      const { master, range } = lookup(id);
      const bm = master.bitmap;
      const options = opts(b);
      const pref = str(b, 'Address');
      const family: Fam = master.net.family;
      if (pref !== '') {
        const ip = parseAddr(pref);
        if (!ip || !inNet(master.net, ip.family, ip.value)) refuse(E.outOfRange);
        if (bm.free <= 0n) refuse(E.noAddr); // checked before the preferred address (D06)
        const o = ordinalOf(master, ip.value);
        if (o >= bm.size) refuse('bit does not belong to the sequence');
        if (bm.used.has(o)) refuse(E.inUse);
        bm.used.add(o);
        bm.free--;
        return { Address: `${fmtAddr(family, master.net.base + o)}/${master.net.prefix}`, Data: {} };
      }
      if (bm.free <= 0n) refuse(E.noAddr);
      const [start, end] = range ?? [0n, bm.size - 1n];
      let o: bigint | null;
      if (options['com.docker.network.ipam.serial'] === 'true' && bm.curr > start && bm.curr !== 0n) {
        o = firstFree(bm, bm.curr, end) ?? firstFree(bm, start, end);
      } else {
        o = firstFree(bm, start, end);
      }
      if (o === null) refuse(E.noAddr);
      bm.used.add(o);
      bm.free--;
      bm.curr = o + 1n; // every automatic allocation moves the cursor (§2.3)
      return { Address: `${fmtAddr(family, master.net.base + o)}/${master.net.prefix}`, Data: {} };
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const id = str(b, 'PoolID');
      const { master } = lookup(id);
      const text = str(b, 'Address');
      if (text === '') refuse(E.nilAddr);
      const ip = parseAddr(text);
      if (!ip) refuse(E.nilAddr); // net.ParseIP gives nil
      if (!inNet(master.net, ip.family, ip.value)) refuse(E.outOfRange);
      // No ownership check, a free address "released" too (counter drift, D32), reserved ones freed (D22).
      const o = ordinalOf(master, ip.value);
      master.bitmap.used.delete(o);
      master.bitmap.free++;
      return {};
    },
  };
}

export async function startDockerFaithfulIpam(socketPath: string): Promise<ListeningPlugin> {
  return serveFixture(socketPath, dockerFaithfulIpamMethods(), { implements: ['IpamDriver'] });
}
