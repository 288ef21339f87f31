/**
 * The semantics of Docker's default IPAM (ipam-semantics.md), in memory and
 * synchronous. Pool entries follow 20.10's RefCount tree keyed by
 * (space, master[, sub-pool as given]); one ordinal set per master; a serial
 * cursor per master and a round-robin start index per space.
 *
 * Every state change is reported to `journal` as a small record that
 * `apply()` replays exactly, so the durable layer never re-runs decisions.
 */
import { Options, LOCAL_DEFAULT, GLOBAL_DEFAULT } from '../protocol/constants.js';
import type * as m from '../protocol/messages.js';
import { formatIPv4, formatIPv6, netContains, netEnd, parseCidr, parseIp, type Ip, type Net } from '../net/index.js';
import { IpamErrors, type IpamProfile } from './errors.js';
import { MasterIndex } from './master-index.js';
import { BigOrdinalSet, SmallOrdinalSet } from './ordinal-set.js';
import { DOCKER_GLOBAL_POOLS, DOCKER_LOCAL_POOLS, PredefinedList, type AddressPoolSpec } from './predefined.js';

type Ord = number | bigint;

/** A mutation as written to the journal (JSON array). */
export type IpamRecord =
  /** Pool entry inserted: space, master CIDR, sub-pool as given ('' for a master), chosen automatically, new round-robin index ('' = unchanged). */
  | ['P', string, string, string, 0 | 1, string]
  /** ReleasePool of a pool ID. */
  | ['R', string]
  /** Address set in a master: master ID, ordinal (decimal), flags ('a' automatic: moves the cursor, 'g' gateway). */
  | ['A', string, string, string]
  /** Address cleared in a master. */
  | ['F', string, string];

export interface AllocatorOptions {
  profile?: IpamProfile;
  defaultAddressPools?: readonly AddressPoolSpec[];
  globalAddressPools?: readonly AddressPoolSpec[];
  customAddressSpaces?: boolean;
}

interface Master {
  readonly id: string;
  readonly net: Net;
  readonly big: boolean;
  readonly small: SmallOrdinalSet | null;
  readonly large: BigOrdinalSet | null;
  /** Serial cursor (20.10 bitseq `curr`): next ordinal after the last automatic allocation. */
  cursor: Ord;
  readonly reserveFirst: boolean;
  readonly reserveLast: boolean;
  /** Ordinals handed out for gateway requests (inspection only). */
  readonly gateways: Set<Ord>;
  /** Precomputed `/len` suffix and IPv4 base for the hot path. */
  readonly suffix: string;
}

interface Entry {
  readonly id: string;
  readonly space: string;
  readonly net: Net;
  /** Sub-pool text as given; '' for a master. */
  readonly child: string;
  readonly masterId: string;
  refCount: number;
  /** A master explicitly requested (holds its own reference); false for one created by a sub-pool. */
  own: boolean;
  /** Ordinal range of a sub-pool (inclusive). */
  readonly range: { start: Ord; end: Ord } | null;
  auto: boolean;
}

export interface PoolInfo {
  /** Pool ID as handed out. */
  id: string;
  space: string;
  /** Master network (canonical). */
  pool: string;
  /** Sub-pool (ip-range) as given, or null for a master. */
  subPool: string | null;
  /** First and last address of the sub-pool's range. */
  range: { first: string; last: string } | null;
  family: 4 | 6;
  refCount: number;
  /** Chosen from the predefined list. */
  auto: boolean;
  /** Addresses in the master (decimal; may exceed 2^53). */
  size: string;
  /** Addresses handed out in the master, reserved ones excluded. */
  allocated: number;
  /** Addresses reserved at creation (network, IPv4 broadcast). */
  reserved: string[];
  /** Addresses handed out for gateway requests. */
  gateways: string[];
  /** Free addresses left in the master (decimal). */
  free: string;
}

export interface AddressRun {
  first: string;
  last: string;
  count: string;
  /** Set when the run is a single gateway address. */
  gateway?: boolean;
}

export interface IpamStats {
  pools: number;
  masters: number;
  allocated: number;
  bitmapBytes: number;
}

const ID_SEP = '/';

export class Allocator {
  readonly profile: IpamProfile;
  readonly errors: IpamErrors;
  private readonly lists = new Map<string, PredefinedList>();
  private readonly rr = new Map<string, bigint>();
  private readonly entries = new Map<string, Entry>();
  private readonly masters = new Map<string, Master>();
  private readonly index = new Map<string, MasterIndex>();
  private readonly custom: boolean;
  /** Receives every mutation; set by the durable layer. */
  journal: ((rec: IpamRecord) => void) | null = null;

  constructor(opts: AllocatorOptions = {}) {
    this.profile = opts.profile ?? 'docker-20.10';
    this.errors = new IpamErrors(this.profile);
    const local = opts.defaultAddressPools !== undefined && opts.defaultAddressPools.length > 0 ? opts.defaultAddressPools : DOCKER_LOCAL_POOLS;
    const global = opts.globalAddressPools !== undefined && opts.globalAddressPools.length > 0 ? opts.globalAddressPools : DOCKER_GLOBAL_POOLS;
    this.lists.set(LOCAL_DEFAULT, new PredefinedList(local));
    this.lists.set(GLOBAL_DEFAULT, new PredefinedList(global));
    this.custom = opts.customAddressSpaces === true;
  }

  private spaceExists(space: string): boolean {
    // A '/' in a space name would make its pool IDs unparsable (3 or 5 parts).
    return space === LOCAL_DEFAULT || space === GLOBAL_DEFAULT || (this.custom && space !== '' && !space.includes('/'));
  }

  private indexOf(space: string, family: 4 | 6): MasterIndex {
    const k = `${family}${space}`;
    let ix = this.index.get(k);
    if (ix === undefined) {
      ix = new MasterIndex();
      this.index.set(k, ix);
    }
    return ix;
  }

  // --- pools -------------------------------------------------------------------

  requestPool(req: m.RequestPoolRequest): m.RequestPoolResponse {
    const space = req.AddressSpace;
    const pool = req.Pool ?? '';
    const sub = req.SubPool ?? '';
    const E = this.errors;
    if (space === '') throw E.invalidPoolRequest(space, pool, sub, 'space');
    if (pool === '' && sub !== '') throw E.invalidPoolRequest(space, pool, sub, 'subpool');
    if (pool === '') return this.requestAutoPool(space, req.V6 === true);
    const net = parseCidr(pool);
    if (net === null) throw E.invalidPoolRequest(space, pool, sub, 'pool');
    if (sub !== '') {
      // Deviation (D12, D13): a range outside or larger than its pool is refused.
      const sn = parseCidr(sub);
      if (sn === null || sn.family !== net.family || sn.prefix < net.prefix || !netContains(net, { family: sn.family, value: sn.base })) {
        throw E.invalidPoolRequest(space, pool, sub, 'subpool');
      }
    }
    if (!this.spaceExists(space)) throw E.unknownSpace(space);
    const id = poolId(space, net.text, sub);
    if (this.entries.has(id)) throw E.poolOverlap();
    if (sub === '' && this.indexOf(space, net.family).findOverlap(net) !== null) throw E.poolOverlap();
    this.insert(space, net, sub, false);
    this.journal?.(['P', space, net.text, sub, 0, '']);
    return { PoolID: id, Pool: net.text, Data: {} };
  }

  private requestAutoPool(space: string, v6: boolean): m.RequestPoolResponse {
    const E = this.errors;
    const list = this.lists.get(space);
    if (list === undefined) {
      if (this.profile === 'moby' && !this.spaceExists(space)) throw E.unknownSpace(space);
      throw E.noDefaultPoolForSpace();
    }
    const want = v6 ? 6 : 4;
    const n = list.length;
    const roundRobin = this.profile === 'docker-20.10';
    let i0 = roundRobin ? (this.rr.get(space) ?? 0n) : 0n;
    if (i0 >= n) i0 = 0n;
    const ix = this.indexOf(space, want);
    let pos = 0n;
    while (pos < n) {
      const idx = i0 + pos < n ? i0 + pos : i0 + pos - n;
      // The rotated walk ends at n (first part) or at i0 (wrapped part).
      const limit = idx >= i0 ? n : i0;
      if (list.familyAt(idx) !== want) {
        const to = list.segmentEnd(idx);
        pos += (to < limit ? to : limit) - idx;
        continue;
      }
      const cand = list.at(idx);
      const hit = ix.findOverlap(cand);
      if (hit === null) {
        let next = '';
        if (roundRobin) {
          let ni = i0 + pos + 1n;
          if (ni >= n) ni = 0n; // 20.10 quirk (D28): a wrapped pick resets the index to 0
          this.rr.set(space, ni);
          next = ni.toString();
        }
        this.insert(space, cand, '', true);
        this.journal?.(['P', space, cand.text, '', 1, next]);
        return { PoolID: poolId(space, cand.text, ''), Pool: cand.text, Data: {} };
      }
      if (hit.prefix <= cand.prefix) {
        const to = list.indexAfter(idx, netEnd(hit));
        pos += (to < limit ? to : limit) - idx;
      } else pos += 1n;
    }
    throw E.noPredefinedPool(v6);
  }

  /** Inserts a pool entry (no checks): master, or sub-pool with implicit master. */
  private insert(space: string, net: Net, sub: string, auto: boolean): void {
    const masterId = poolId(space, net.text, '');
    if (sub === '') {
      this.entries.set(masterId, { id: masterId, space, net, child: '', masterId, refCount: 1, own: true, range: null, auto });
      this.createMaster(space, masterId, net);
      return;
    }
    const sn = parseCidr(sub)!;
    const big = isBig(net);
    const range = { start: ordinalIn(net, big, sn.base), end: ordinalIn(net, big, netEnd(sn)) };
    const id = poolId(space, net.text, sub);
    this.entries.set(id, { id, space, net, child: sub, masterId, refCount: 1, own: true, range, auto: false });
    const parent = this.entries.get(masterId);
    if (parent !== undefined) parent.refCount++;
    else {
      this.entries.set(masterId, { id: masterId, space, net, child: '', masterId, refCount: 1, own: false, range: null, auto: false });
      this.createMaster(space, masterId, net);
    }
  }

  private createMaster(space: string, id: string, net: Net): void {
    const big = isBig(net);
    const { reserveFirst, reserveLast } = reservedEnds(net, this.profile);
    const master: Master = {
      id,
      net,
      big,
      small: big ? null : new SmallOrdinalSet(2 ** net.hostBits),
      large: big ? new BigOrdinalSet(1n << BigInt(net.hostBits)) : null,
      cursor: big ? 0n : 0,
      reserveFirst,
      reserveLast,
      gateways: new Set(),
      suffix: `/${net.prefix}`,
    };
    if (big) master.large!.add(0n);
    else {
      if (reserveFirst) master.small!.add(0);
      if (reserveLast) master.small!.add(2 ** net.hostBits - 1);
    }
    this.masters.set(id, master);
    this.indexOf(space, net.family).add(net);
  }

  releasePool(req: m.PoolIdRequest): m.EmptyResponse {
    const id = req.PoolID;
    const space = this.parseId(id);
    if (this.entries.get(id) === undefined) throw this.errors.badPool();
    void space;
    this.removeEntry(id);
    this.journal?.(['R', id]);
    return {};
  }

  /**
   * 20.10 updatePoolDBOnRemoval: a sub-pool drops its reference on the master,
   * a master its own; at 0 the entry goes and a master's bitmap with it.
   * Deviation: releasing the ID of a master that holds no own reference (one
   * created by a sub-pool) while sub-pools use it changes nothing; 20.10 would
   * delete it under its sub-pools, leaving them dangling (a nil dereference).
   */
  private removeEntry(id: string): void {
    const e = this.entries.get(id)!;
    let master: Entry | undefined;
    if (e.child === '') {
      if (!e.own) return;
      e.own = false;
      master = e;
    } else {
      this.entries.delete(id);
      master = this.entries.get(e.masterId);
    }
    if (master === undefined) return;
    master.refCount--;
    if (master.refCount !== 0) return;
    this.entries.delete(master.id);
    const bitmap = this.masters.get(master.id)!;
    this.masters.delete(master.id);
    this.indexOf(master.space, master.net.family).remove(bitmap.net);
  }

  /** Checks the ID shape and its address space; returns the space. */
  private parseId(id: string): string {
    const first = id.indexOf(ID_SEP);
    if (first < 0) throw this.errors.invalidPoolId(id);
    let parts = 1;
    for (let i = first; i >= 0; i = id.indexOf(ID_SEP, i + 1)) parts++;
    if (parts !== 3 && parts !== 5) throw this.errors.invalidPoolId(id);
    const space = id.slice(0, first);
    if (!this.spaceExists(space)) throw this.errors.unknownSpace(space);
    return space;
  }

  private lookup(id: string): { entry: Entry; master: Master } {
    const entry = this.entries.get(id);
    if (entry === undefined) {
      this.parseId(id);
      throw this.errors.poolNotFound(id);
    }
    return { entry, master: this.masters.get(entry.masterId)! };
  }

  // --- addresses ---------------------------------------------------------------

  requestAddress(req: m.RequestAddressRequest): m.RequestAddressResponse {
    const { entry, master } = this.lookup(req.PoolID);
    const E = this.errors;
    const pref = req.Address ?? '';
    const opts = req.Options;
    const gateway = opts != null && opts[Options.RequestAddressType] === Options.Gateway;
    if (pref !== '') {
      const ip = parseAddressFor(master.net, pref);
      if (ip === null) throw E.invalidAddress(pref);
      if (!netContains(master.net, ip)) throw E.outOfRange();
      // 20.10 checks "pool full" before the preferred address (D06); moby 28 does not.
      if (this.profile === 'docker-20.10' && this.isFull(master)) throw E.noAddresses();
      const ord = ordinalOf(master, ip.value);
      if (!(master.big ? master.large!.add(ord as bigint) : master.small!.add(ord as number))) throw E.addressInUse();
      if (gateway) master.gateways.add(ord);
      this.journal?.(['A', master.id, ord.toString(), gateway ? 'g' : '']);
      return { Address: this.format(master, ord), Data: {} };
    }
    if (this.isFull(master)) throw E.noAddresses();
    const serial = opts != null && opts[Options.Serial] === 'true';
    let ord: Ord;
    if (master.big) {
      const set = master.large!;
      const start = entry.range === null ? 0n : (entry.range.start as bigint);
      const end = entry.range === null ? set.size - 1n : (entry.range.end as bigint);
      const curr = master.cursor as bigint;
      ord = serial && curr !== 0n && curr > start ? set.firstFree(curr, end) : -1n;
      if (ord < 0n) ord = set.firstFree(start, end);
      if (ord < 0n) throw E.noAddresses();
      set.add(ord);
      master.cursor = ord + 1n;
    } else {
      const set = master.small!;
      const start = entry.range === null ? 0 : (entry.range.start as number);
      const end = entry.range === null ? set.size - 1 : (entry.range.end as number);
      const curr = master.cursor as number;
      ord = serial && curr !== 0 && curr > start ? set.firstFree(curr, end) : -1;
      if (ord < 0) ord = set.firstFree(start, end);
      if (ord < 0) throw E.noAddresses();
      set.add(ord);
      master.cursor = ord + 1;
    }
    if (gateway) master.gateways.add(ord);
    this.journal?.(['A', master.id, ord.toString(), gateway ? 'ag' : 'a']);
    return { Address: this.format(master, ord), Data: {} };
  }

  releaseAddress(req: m.ReleaseAddressRequest): m.EmptyResponse {
    const { master } = this.lookup(req.PoolID);
    const E = this.errors;
    const text = req.Address ?? '';
    if (text === '') throw E.invalidAddress('');
    const ip = parseAddressFor(master.net, text);
    if (ip === null) throw E.invalidAddress(text);
    if (!netContains(master.net, ip)) throw E.outOfRange();
    const ord = ordinalOf(master, ip.value);
    // Deviation (D22): network/broadcast stay reserved. Deviation (D32): releasing a free address changes nothing.
    if (this.isReserved(master, ord)) return {};
    if (master.big ? master.large!.delete(ord as bigint) : master.small!.delete(ord as number)) {
      master.gateways.delete(ord);
      this.journal?.(['F', master.id, ord.toString()]);
    }
    return {};
  }

  private isReserved(master: Master, ord: Ord): boolean {
    if (master.big) return ord === 0n;
    return (master.reserveFirst && ord === 0) || (master.reserveLast && ord === master.small!.size - 1);
  }

  private isFull(master: Master): boolean {
    // A big set (>= 2^53 addresses) cannot be filled in memory.
    return !master.big && master.small!.count >= master.small!.size;
  }

  private format(master: Master, ord: Ord): string {
    if (master.net.family === 4) return formatIPv4((master.net.base as number) + (ord as number)) + master.suffix;
    return formatIPv6((master.net.base as bigint) + BigInt(ord)) + master.suffix;
  }

  getDefaultAddressSpaces(): m.AddressSpacesResponse {
    return { LocalDefaultAddressSpace: LOCAL_DEFAULT, GlobalDefaultAddressSpace: GLOBAL_DEFAULT };
  }

  // --- replay ------------------------------------------------------------------

  /** Applies a journal record (recovery). Throws on a record that does not fit the state. */
  apply(rec: IpamRecord): void {
    switch (rec[0]) {
      case 'P': {
        const [, space, pool, sub, auto, rr] = rec;
        const net = parseCidr(pool);
        if (net === null) throw new Error(`bad pool ${pool}`);
        this.insert(space, net, sub, auto === 1);
        if (rr !== '') this.rr.set(space, BigInt(rr));
        return;
      }
      case 'R':
        if (!this.entries.has(rec[1])) throw new Error(`release of unknown pool ${rec[1]}`);
        this.removeEntry(rec[1]);
        return;
      case 'A': {
        const master = this.masterFor(rec[1]);
        const ord: Ord = master.big ? BigInt(rec[2]) : Number(rec[2]);
        if (master.big) master.large!.add(ord as bigint);
        else master.small!.add(ord as number);
        if (rec[3].includes('a')) master.cursor = master.big ? (ord as bigint) + 1n : (ord as number) + 1;
        if (rec[3].includes('g')) master.gateways.add(ord);
        return;
      }
      case 'F': {
        const master = this.masterFor(rec[1]);
        const ord: Ord = master.big ? BigInt(rec[2]) : Number(rec[2]);
        if (master.big) master.large!.delete(ord as bigint);
        else master.small!.delete(ord as number);
        master.gateways.delete(ord);
        return;
      }
      default:
        throw new Error(`unknown record ${JSON.stringify(rec)}`);
    }
  }

  private masterFor(id: string): Master {
    const master = this.masters.get(id);
    if (master === undefined) throw new Error(`record for unknown master ${id}`);
    return master;
  }

  /** Whole state as plain data (snapshot). */
  exportState(): StateSnapshot {
    const entries: StateSnapshot['entries'] = [];
    // Masters first so sub-pools find their parent on import.
    for (const e of this.entries.values()) if (e.child === '') entries.push([e.space, e.net.text, '', e.refCount, e.auto ? 1 : 0, e.own ? 1 : 0]);
    for (const e of this.entries.values()) if (e.child !== '') entries.push([e.space, e.net.text, e.child, e.refCount, 0, 1]);
    const masters: StateSnapshot['masters'] = [];
    for (const mst of this.masters.values()) {
      const runs = mst.big ? mst.large!.runs() : mst.small!.runs();
      masters.push({
        id: mst.id,
        cursor: mst.cursor.toString(),
        gateways: [...mst.gateways].map(String),
        runs: runs.map((r) => [r.first.toString(), r.last.toString()]),
      });
    }
    const rr: Record<string, string> = {};
    for (const [k, v] of this.rr) rr[k] = v.toString();
    return { v: 1, profile: this.profile, rr, entries, masters };
  }

  importState(s: StateSnapshot): void {
    for (const [space, pool, child, refCount, auto, own] of s.entries) {
      const net = parseCidr(pool);
      if (net === null) throw new Error(`bad pool ${pool}`);
      const id = poolId(space, net.text, child);
      if (child === '') this.insert(space, net, '', auto === 1);
      else if (this.entries.has(poolId(space, net.text, ''))) {
        this.insert(space, net, child, false);
        // insert() bumped the parent; the snapshot carries the final counts.
        this.entries.get(poolId(space, net.text, ''))!.refCount--;
      } else this.insert(space, net, child, false);
      const entry = this.entries.get(id)!;
      entry.refCount = refCount;
      entry.own = own === 1;
    }
    for (const ms of s.masters) {
      const master = this.masterFor(ms.id);
      for (const [a, b] of ms.runs) {
        if (master.big) for (let o = BigInt(a); o <= BigInt(b); o++) master.large!.add(o);
        else for (let o = Number(a), end = Number(b); o <= end; o++) master.small!.add(o);
      }
      master.cursor = master.big ? BigInt(ms.cursor) : Number(ms.cursor);
      for (const g of ms.gateways) master.gateways.add(master.big ? BigInt(g) : Number(g));
    }
    for (const [k, v] of Object.entries(s.rr)) this.rr.set(k, BigInt(v));
  }

  // --- inspection --------------------------------------------------------------

  /** All pool entries, sorted by ID. */
  pools(): PoolInfo[] {
    return [...this.entries.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((e) => this.info(e));
  }

  pool(id: string): PoolInfo | undefined {
    const e = this.entries.get(id);
    return e === undefined ? undefined : this.info(e);
  }

  private info(e: Entry): PoolInfo {
    const mst = this.masters.get(e.masterId)!;
    const size = mst.big ? mst.large!.size : BigInt(mst.small!.size);
    const reservedOrds: Ord[] = mst.big ? [0n] : !mst.reserveFirst ? [] : mst.reserveLast && mst.small!.size > 1 ? [0, mst.small!.size - 1] : [0];
    const count = mst.big ? mst.large!.count : mst.small!.count;
    return {
      id: e.id,
      space: e.space,
      pool: e.net.text,
      subPool: e.child === '' ? null : e.child,
      range: e.range === null ? null : { first: this.bare(mst, e.range.start), last: this.bare(mst, e.range.end) },
      family: e.net.family,
      refCount: e.refCount,
      auto: e.auto,
      size: size.toString(),
      allocated: count - reservedOrds.length,
      reserved: reservedOrds.map((o) => this.bare(mst, o)),
      gateways: [...mst.gateways].map((o) => this.bare(mst, o)),
      free: (size - BigInt(count)).toString(),
    };
  }

  private bare(mst: Master, ord: Ord): string {
    return mst.net.family === 4 ? formatIPv4((mst.net.base as number) + Number(ord)) : formatIPv6((mst.net.base as bigint) + BigInt(ord));
  }

  /** Allocated addresses of a pool's master as runs (reserved addresses left out), at most `limit` runs. */
  addresses(id: string, limit = 1000): AddressRun[] {
    const { master } = this.lookup(id);
    const out: AddressRun[] = [];
    const runs: { first: Ord; last: Ord }[] = master.big ? master.large!.runs() : master.small!.runs();
    for (const r of runs) {
      let first = r.first;
      let last = r.last;
      if (this.isReserved(master, first)) first = master.big ? (first as bigint) + 1n : (first as number) + 1;
      if (this.isReserved(master, last) && last !== 0 && last !== 0n) last = master.big ? (last as bigint) - 1n : (last as number) - 1;
      if (first > last) continue;
      const count = BigInt(last) - BigInt(first) + 1n;
      const run: AddressRun = { first: this.bare(master, first), last: this.bare(master, last), count: count.toString() };
      if (count === 1n && master.gateways.has(first)) run.gateway = true;
      out.push(run);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Whether an address is held in a pool's master (reserved addresses count as held). */
  isAllocated(id: string, address: string): boolean {
    const { master } = this.lookup(id);
    const ip = parseAddressFor(master.net, address);
    if (ip === null || !netContains(master.net, ip)) return false;
    const ord = ordinalOf(master, ip.value);
    return master.big ? master.large!.has(ord as bigint) : master.small!.has(ord as number);
  }

  stats(): IpamStats {
    let allocated = 0;
    let bytes = 0;
    for (const mst of this.masters.values()) {
      allocated += mst.big ? mst.large!.count : mst.small!.count;
      bytes += mst.big ? mst.large!.bytes : mst.small!.bytes;
    }
    return { pools: this.entries.size, masters: this.masters.size, allocated, bitmapBytes: bytes };
  }
}

export interface StateSnapshot {
  v: 1;
  profile: IpamProfile;
  rr: Record<string, string>;
  /** [space, master CIDR, sub-pool as given or '', refCount, auto, own reference]. */
  entries: [string, string, string, number, 0 | 1, 0 | 1][];
  masters: { id: string; cursor: string; gateways: string[]; runs: [string, string][] }[];
}

/** `<space>/<subnet>` or `<space>/<subnet>/<sub-pool as given>` (20.10 SubnetKey.String). */
export function poolId(space: string, subnet: string, child: string): string {
  return child === '' ? `${space}/${subnet}` : `${space}/${subnet}/${child}`;
}

/** Which ends of a master pool are reserved at creation: the network address, and the IPv4 broadcast. */
export function reservedEnds(net: Net, profile: IpamProfile): { reserveFirst: boolean; reserveLast: boolean } {
  // moby 23+ reserves nothing in IPv4 /31 and /32 (RFC 3021).
  const reserveNone = net.family === 4 && profile === 'moby' && net.prefix >= 31;
  return { reserveFirst: !reserveNone, reserveLast: net.family === 4 && !reserveNone };
}

/** Ordinal sets switch to bigint above 2^52 addresses. */
export function isBig(net: Net): boolean {
  return net.hostBits > 52;
}

const V4_MAPPED = 0xffffn << 32n;

/** Parses an address; an IPv4-mapped IPv6 text counts as IPv4 for an IPv4 pool (Go's 16-byte net.IP). */
export function parseAddressFor(net: Net, text: string): Ip | null {
  const ip = parseIp(text);
  if (ip !== null && net.family === 4 && ip.family === 6 && (ip.value as bigint) >> 32n === 0xffffn) {
    return { family: 4, value: Number((ip.value as bigint) - V4_MAPPED) };
  }
  return ip;
}

/** Host part of an address of `net` (bigint for big sets, exact number otherwise). */
function ordinalIn(net: Net, big: boolean, value: number | bigint): Ord {
  if (typeof value === 'number') return value - (net.base as number);
  const d = value - (net.base as bigint);
  return big ? d : Number(d);
}

function ordinalOf(master: Master, value: number | bigint): Ord {
  return ordinalIn(master.net, master.big, value);
}
