/**
 * One address space kept in a shared store (etcd) so that several instances
 * act as one IPAM. Layout and concurrency: ./README.md.
 *
 * Every call is computed against this instance's cache of store keys, and its
 * answer (success or Docker error alike) is released only once one store
 * transaction has confirmed that every key the computation read still has the
 * modification revision it was read at, and has applied its writes. A failed
 * compare returns the current values; the batch is computed again. So every
 * answer is the one a single IPAM would give at the transaction's point in the
 * store's order (linearizable), and a stale cache costs a retry, never a
 * wrong answer.
 *
 * Calls queue per lane (the space's pool table, or one master pool) and are
 * committed in batches: one transaction for many calls of one instance.
 */
import { randomBytes } from 'node:crypto';
import { Options } from '../../protocol/constants.js';
import type * as m from '../../protocol/messages.js';
import { formatIPv4, formatIPv6, netContains, netEnd, parseCidr, type Net } from '../../net/index.js';
import { Allocator, isBig, parseAddressFor, poolId, reservedEnds, type StateSnapshot } from '../allocator.js';
import { IpamError, IpamErrors, type IpamProfile } from '../errors.js';
import type { AddressPoolSpec } from '../predefined.js';
import { Chunk, CHUNK_BITS, CHUNK_BITS_N } from './chunk.js';
import { StoreError } from './errors.js';
import type { KvEntry, KvTxnStore } from './kv.js';

export interface SharedSpaceOptions {
  profile: IpamProfile;
  defaultAddressPools?: readonly AddressPoolSpec[];
  globalAddressPools?: readonly AddressPoolSpec[];
  customAddressSpaces?: boolean;
  /** Names this instance's lane keys (ambiguous-outcome detection). */
  instanceId: string;
  /** A call not confirmed by the store within this many ms fails with E_STORE_UNAVAILABLE. */
  deadlineMs: number;
  /** Calls of one lane per transaction (default 64): writes are the distinct chunks touched + 3 keys, under etcd's 128-operation limit. */
  maxBatch?: number;
}

/** Thrown inside a computation when a key is not in the cache yet (caught by the batch runner, which fetches it). */
class Need extends Error {
  constructor(readonly key: string) {
    super(`store key ${key} not cached`);
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: IpamError };

/** Calls waiting on one lane, and what every batch of it reads first and writes to name its attempt. */
interface Lane {
  readonly queue: Pending[];
  readonly prefetch: string[];
  readonly laneKey: string;
  readonly max: number;
}

interface Pending {
  run(v: View): unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  deadline: number;
}

/** One attempt's reads (with the revision seen) and writes over the cache. */
class View {
  readonly reads = new Map<string, string>();
  private readonly memo = new Map<string, unknown>();
  private readonly dirty = new Map<string, () => Buffer>();
  readonly deletePrefixes: string[] = [];
  constructor(private readonly cache: Map<string, KvEntry>) {}

  /** The batch's working object for a key: decoded once from the cache (recorded for the compare), shared by the batch's calls. */
  obj<T>(key: string, decode: (b: Buffer | null) => T): T {
    if (this.memo.has(key)) return this.memo.get(key) as T;
    const e = this.cache.get(key);
    if (e === undefined) throw new Need(key);
    this.reads.set(key, e.rev);
    const o = decode(e.value);
    this.memo.set(key, o);
    return o;
  }

  /** Sets a key without reading it (no compare: a blind write). */
  set<T>(key: string, o: T, encode: (o: T) => Buffer): void {
    this.memo.set(key, o);
    this.dirty.set(key, () => encode(o));
  }

  changed<T>(key: string, encode: (o: T) => Buffer): void {
    const o = this.memo.get(key) as T;
    this.dirty.set(key, () => encode(o));
  }

  deletePrefix(prefix: string): void {
    this.deletePrefixes.push(prefix);
  }

  puts(): { key: string; value: Buffer }[] {
    return [...this.dirty].map(([key, enc]) => ({ key, value: enc() }));
  }
}

/** Chunk indices whose chunk is full, as sorted inclusive runs. */
class FullRuns {
  constructor(readonly runs: [bigint, bigint][]) {}

  static decode(b: Buffer | null): FullRuns {
    if (b === null) return new FullRuns([]);
    const raw = JSON.parse(b.toString()) as [string, string][];
    return new FullRuns(raw.map(([a, z]) => [BigInt(a), BigInt(z)]));
  }

  encode(): Buffer {
    return Buffer.from(JSON.stringify(this.runs.map(([a, z]) => [a.toString(), z.toString()])));
  }

  /** Smallest chunk index >= c that is not full. */
  nextNotFull(c: bigint): bigint {
    for (const [a, z] of this.runs) {
      if (z < c) continue;
      if (a > c) return c;
      c = z + 1n;
    }
    return c;
  }

  covers(first: bigint, last: bigint): boolean {
    return this.runs.some(([a, z]) => a <= first && z >= last);
  }

  add(c: bigint): void {
    const r = this.runs;
    let i = 0;
    while (i < r.length && r[i]![1] < c - 1n) i++;
    if (i < r.length && r[i]![0] <= c + 1n) {
      const run = r[i]!;
      if (c < run[0]) run[0] = c;
      if (c > run[1]) run[1] = c;
      // Merge with the next run when they now touch.
      const next = r[i + 1];
      if (next !== undefined && next[0] <= run[1] + 1n) {
        run[1] = next[1] > run[1] ? next[1] : run[1];
        r.splice(i + 1, 1);
      }
    } else r.splice(i, 0, [c, c]);
  }

  remove(c: bigint): void {
    const r = this.runs;
    const i = r.findIndex(([a, z]) => a <= c && c <= z);
    if (i < 0) return;
    const [a, z] = r[i]!;
    const parts: [bigint, bigint][] = [];
    if (a < c) parts.push([a, c - 1n]);
    if (c < z) parts.push([c + 1n, z]);
    r.splice(i, 1, ...parts);
  }
}

/** What the store says about one master pool (its `meta` key). */
interface Meta {
  net: string;
  subs: string[];
}

interface Geometry {
  readonly id: string;
  readonly net: Net;
  readonly size: bigint;
  readonly chunks: bigint;
  /** >= 2^53 addresses: never "full" (as the in-memory reference). */
  readonly big: boolean;
  readonly reserveFirst: boolean;
  readonly reserveLast: boolean;
  readonly suffix: string;
}

interface PoolTable {
  rr: Record<string, string>;
  entries: StateSnapshot['entries'];
}

const CURSOR_ENC = (o: { v: bigint }): Buffer => Buffer.from(o.v.toString());

export class SharedSpace {
  private readonly errors: IpamErrors;
  private readonly cache = new Map<string, KvEntry>();
  private readonly lanes = new Map<string, Lane>();
  private closed = false;
  /** Names write attempts in lane keys: only this instance writes its lane keys, so a counter is unique. */
  private attemptSeq = 0;

  constructor(
    private readonly store: KvTxnStore,
    readonly space: string,
    private readonly opts: SharedSpaceOptions,
  ) {
    this.errors = new IpamErrors(opts.profile);
  }

  // --- keys ----------------------------------------------------------------------

  private spaceKey(): string {
    return `space/${this.space}`;
  }
  private masterPrefix(mid: string): string {
    return `m/${mid}/`;
  }
  private chunkKey(mid: string, c: bigint): string {
    return `m/${mid}/c/${c.toString(16).padStart(30, '0')}`;
  }

  // --- calls ---------------------------------------------------------------------

  requestPool(req: m.RequestPoolRequest): Promise<m.RequestPoolResponse> {
    return this.enqueuePool((a) => a.requestPool(req));
  }

  releasePool(req: m.PoolIdRequest): Promise<m.EmptyResponse> {
    return this.enqueuePool((a) => a.releasePool(req));
  }

  /** `masterId` and `child` come from a pool ID already checked for shape (3 or 5 parts). */
  requestAddress(req: m.RequestAddressRequest, masterId: string, child: string): Promise<m.RequestAddressResponse> {
    return this.enqueueMaster(masterId, (v) => this.allocate(v, req, masterId, child));
  }

  releaseAddress(req: m.ReleaseAddressRequest, masterId: string, child: string): Promise<m.EmptyResponse> {
    return this.enqueueMaster(masterId, (v) => this.release(v, req, masterId, child));
  }

  close(): void {
    this.closed = true;
  }

  private enqueuePool<T>(op: (a: Allocator) => T): Promise<T> {
    const key = `pool/${this.space}`;
    const laneKey = `lane/${this.space}/${this.opts.instanceId}`;
    // One pool call per transaction: a batch never deletes and re-creates one master.
    return this.enqueue(key, [this.spaceKey(), laneKey], laneKey, 1, (v) => this.poolOp(v, op));
  }

  private enqueueMaster<T>(mid: string, run: (v: View) => T): Promise<T> {
    const p = this.masterPrefix(mid);
    const laneKey = `${p}lane/${this.opts.instanceId}`;
    return this.enqueue(`m/${mid}`, [`${p}meta`, `${p}full`, laneKey], laneKey, this.opts.maxBatch ?? 64, run);
  }

  private enqueue<T>(lane: string, prefetch: string[], laneKey: string, max: number, run: (v: View) => T): Promise<T> {
    if (this.closed) return Promise.reject(this.errors.closed());
    return new Promise<T>((resolve, reject) => {
      let l = this.lanes.get(lane);
      const start = l === undefined;
      if (l === undefined) {
        l = { queue: [], prefetch, laneKey, max };
        this.lanes.set(lane, l);
      }
      l.queue.push({ run, resolve: resolve as (v: unknown) => void, reject, deadline: Date.now() + this.opts.deadlineMs });
      if (start) void this.drain(lane);
    });
  }

  private async drain(name: string): Promise<void> {
    const l = this.lanes.get(name)!;
    // Let calls that arrive in the same tick join the first batch.
    await Promise.resolve();
    while (l.queue.length > 0) {
      const batch = l.queue.splice(0, l.max);
      try {
        await this.commit(l, batch);
      } catch (e) {
        for (const p of batch) p.reject(e);
      }
    }
    this.lanes.delete(name);
  }

  private remember(entries: ReadonlyMap<string, KvEntry>): void {
    for (const [k, e] of entries) this.cache.set(k, e);
  }

  private async fetch(keys: string[], deadline: number): Promise<void> {
    this.remember(await this.store.get([...new Set(keys)], this.callDeadline(deadline)));
  }

  private callDeadline(deadline: number): number {
    return Math.min(deadline, Date.now() + 3000);
  }

  /** Computes the batch, commits it with compares on everything read, retries on conflicts and store errors until the deadline. */
  private async commit(lane: Lane, batch: Pending[]): Promise<void> {
    const { prefetch, laneKey } = lane;
    const attempts = new Map<string, Outcome[]>();
    const deadline = Math.min(...batch.map((p) => p.deadline));
    /** An attempt's outcome is unknown: the batch must stay as it was then. */
    let ambiguous = false;
    let backoff = 10;
    let lastProblem = '';
    const deliver = (outcomes: Outcome[]): void => {
      outcomes.forEach((o, i) => (o.ok ? batch[i]!.resolve(o.value) : batch[i]!.reject(o.error)));
      // Calls that joined after the applied attempt was computed go back to the lane.
      if (outcomes.length < batch.length) lane.queue.unshift(...batch.splice(outcomes.length));
    };
    const storeTrouble = async (e: unknown): Promise<void> => {
      if (!(e instanceof StoreError)) throw e;
      lastProblem = e.message;
      await new Promise((r) => setTimeout(r, Math.min(backoff, Math.max(0, deadline - Date.now()))));
      backoff = Math.min(backoff * 2, 400);
    };
    for (;;) {
      if (Date.now() >= deadline) {
        const err = new StoreError(
          'E_STORE_UNAVAILABLE',
          `IPAM store (etcd) unavailable: no confirmed answer within ${this.opts.deadlineMs} ms (nothing answered from unconfirmed state; a change etcd had already received may still apply)${lastProblem === '' ? '' : ` (${lastProblem})`}`,
        );
        for (const p of batch) p.reject(err);
        return;
      }
      // After a lost race, calls that queued meanwhile join the retry: the winner of the next round carries more.
      if (!ambiguous && batch.length < lane.max && lane.queue.length > 0) batch.push(...lane.queue.splice(0, lane.max - batch.length));
      const view = new View(this.cache);
      let outcomes: Outcome[];
      try {
        outcomes = batch.map((p): Outcome => {
          try {
            return { ok: true, value: p.run(view) };
          } catch (e) {
            if (e instanceof IpamError) return { ok: false, error: e };
            throw e;
          }
        });
      } catch (e) {
        if (!(e instanceof Need)) throw e;
        try {
          await this.fetch([e.key, ...prefetch.filter((k) => !this.cache.has(k))], deadline);
        } catch (err) {
          await storeTrouble(err);
        }
        continue;
      }
      const puts = view.puts();
      const writing = puts.length > 0 || view.deletePrefixes.length > 0;
      const compares = [...view.reads].map(([key, rev]) => ({ key, rev }));
      let token = '';
      if (writing) {
        const laneEntry = this.cache.get(laneKey);
        if (laneEntry === undefined) {
          try {
            await this.fetch([laneKey], deadline);
          } catch (err) {
            await storeTrouble(err);
          }
          continue;
        }
        // The lane key names the attempt: after an unknown outcome, reading it tells whether this attempt applied.
        token = String(++this.attemptSeq);
        compares.push({ key: laneKey, rev: laneEntry.rev });
        puts.push({ key: laneKey, value: Buffer.from(token) });
        attempts.set(token, outcomes);
      }
      let res;
      try {
        res = await this.store.txn({ compares, puts, deletes: [], deletePrefixes: view.deletePrefixes }, this.callDeadline(deadline));
      } catch (err) {
        await storeTrouble(err);
        if (attempts.size === 0) continue;
        ambiguous = true;
        // Unknown outcome: find out whether one of our attempts applied.
        try {
          await this.fetch([laneKey, ...compares.map((c) => c.key)], deadline);
        } catch (err2) {
          await storeTrouble(err2);
          continue;
        }
        const applied = attempts.get(this.cache.get(laneKey)?.value?.toString() ?? '');
        if (applied !== undefined) {
          deliver(applied);
          return;
        }
        continue;
      }
      if (res.ok) {
        for (const prefix of view.deletePrefixes) for (const k of this.cache.keys()) if (k.startsWith(prefix)) this.cache.set(k, { value: null, rev: '0' });
        for (const p of puts) this.cache.set(p.key, { value: p.value, rev: res.revision });
        deliver(outcomes);
        return;
      }
      this.remember(res.current);
      const applied = attempts.get(res.current.get(laneKey)?.value?.toString() ?? '');
      if (applied !== undefined) {
        deliver(applied);
        return;
      }
    }
  }

  // --- pools ---------------------------------------------------------------------

  /** Runs a pool call on an allocator built from the stored pool table; writes the new table and the masters it created, changed or removed. */
  private poolOp<T>(view: View, op: (a: Allocator) => T): T {
    const key = this.spaceKey();
    const table = view.obj(key, (b): PoolTable => (b === null ? { rr: {}, entries: [] } : (JSON.parse(b.toString()) as PoolTable)));
    const alloc = new Allocator({
      profile: this.opts.profile,
      defaultAddressPools: this.opts.defaultAddressPools,
      globalAddressPools: this.opts.globalAddressPools,
      customAddressSpaces: this.opts.customAddressSpaces,
    });
    alloc.importState({ v: 1, profile: this.opts.profile, rr: table.rr, entries: table.entries, masters: [] });
    const result = op(alloc);
    const state = alloc.exportState();
    const next: PoolTable = { rr: state.rr, entries: state.entries };
    const before = mastersOf(table.entries);
    const after = mastersOf(next.entries);
    if (JSON.stringify(next) === JSON.stringify(table)) return result;
    view.set(key, next, (t) => Buffer.from(JSON.stringify(t)));
    // (Master keys written here are only encoded: a pool batch never reads them back; address batches decode them afresh.)
    for (const mid of before.keys()) if (!after.has(mid)) view.deletePrefix(this.masterPrefix(mid));
    for (const [mid, meta] of after) {
      const old = before.get(mid);
      if (old === undefined) this.createMaster(view, mid, meta);
      else if (old.subs.join('\n') !== meta.subs.join('\n')) view.set(`${this.masterPrefix(mid)}meta`, meta, encodeJson);
    }
    return result;
  }

  /** Writes a new master's keys: meta, the chunks holding its reserved addresses, and which of those chunks are full. */
  private createMaster(view: View, mid: string, meta: Meta): void {
    const p = this.masterPrefix(mid);
    view.set(`${p}meta`, meta, encodeJson);
    const g = this.geometry(mid, meta);
    const full = new FullRuns([]);
    const reserved: bigint[] = [];
    if (g.reserveFirst) reserved.push(0n);
    if (g.reserveLast && g.size > 1n) reserved.push(g.size - 1n);
    const chunks = new Map<bigint, Chunk>();
    for (const ord of reserved) {
      const c = ord / CHUNK_BITS_N;
      let ch = chunks.get(c);
      if (ch === undefined) {
        ch = Chunk.empty(chunkLen(g, c));
        chunks.set(c, ch);
      }
      ch.add(Number(ord - c * CHUNK_BITS_N));
    }
    for (const [c, ch] of chunks) {
      view.set(this.chunkKey(mid, c), ch, (x) => x.encode());
      if (ch.full) full.add(c);
    }
    view.set(`${p}full`, full, (f) => f.encode());
  }

  // --- addresses -----------------------------------------------------------------

  private geometry(mid: string, meta: Meta): Geometry {
    const net = parseCidr(meta.net);
    if (net === null) throw new StoreError('E_STORE_CORRUPT', `stored master ${mid} has pool "${meta.net}"`);
    const size = 1n << BigInt(net.hostBits);
    return {
      id: mid,
      net,
      size,
      chunks: (size + CHUNK_BITS_N - 1n) / CHUNK_BITS_N,
      big: isBig(net),
      ...reservedEnds(net, this.opts.profile),
      suffix: `/${net.prefix}`,
    };
  }

  /** The pool entry behind an ID: master geometry and the ordinal range it allocates from. */
  private lookup(view: View, id: string, mid: string, child: string): { g: Geometry; start: bigint; end: bigint } {
    // Decoded once per batch, with its geometry (the hot path of every call).
    const found = view.obj(`${this.masterPrefix(mid)}meta`, (b) => {
      if (b === null) return null;
      const meta = JSON.parse(b.toString()) as Meta;
      return { meta, g: this.geometry(mid, meta) };
    });
    if (found === null || (child !== '' && !found.meta.subs.includes(child))) throw this.errors.poolNotFound(id);
    const g = found.g;
    if (child === '') return { g, start: 0n, end: g.size - 1n };
    const sn = parseCidr(child);
    if (sn === null) throw new StoreError('E_STORE_CORRUPT', `stored sub-pool "${child}" of ${mid}`);
    return { g, start: ordinal(g.net, sn.base), end: ordinal(g.net, netEnd(sn)) };
  }

  private full(view: View, mid: string): FullRuns {
    return view.obj(`${this.masterPrefix(mid)}full`, FullRuns.decode);
  }

  private chunk(view: View, g: Geometry, c: bigint): Chunk {
    return view.obj(this.chunkKey(g.id, c), (b) => Chunk.decode(chunkLen(g, c), b));
  }

  private isFull(view: View, g: Geometry): boolean {
    return !g.big && this.full(view, g.id).covers(0n, g.chunks - 1n);
  }

  /** Lowest free ordinal in [s, end], or -1. */
  private firstFree(view: View, g: Geometry, s: bigint, end: bigint): bigint {
    const full = this.full(view, g.id);
    let c = s / CHUNK_BITS_N;
    for (;;) {
      c = full.nextNotFull(c);
      const base = c * CHUNK_BITS_N;
      if (base > end) return -1n;
      const ch = this.chunk(view, g, c);
      const last = base + BigInt(ch.len) - 1n;
      const i = ch.firstFree(s > base ? Number(s - base) : 0, Number((end < last ? end : last) - base));
      if (i >= 0) return base + BigInt(i);
      c++;
    }
  }

  /** Sets an ordinal; false when taken. Keeps the full-chunk runs in step. */
  private take(view: View, g: Geometry, ord: bigint, gateway: boolean): boolean {
    const c = ord / CHUNK_BITS_N;
    const ch = this.chunk(view, g, c);
    const i = Number(ord - c * CHUNK_BITS_N);
    if (!ch.add(i)) return false;
    if (gateway) ch.gateways.add(i);
    view.changed(this.chunkKey(g.id, c), (x: Chunk) => x.encode());
    if (ch.full) {
      this.full(view, g.id).add(c);
      view.changed(`${this.masterPrefix(g.id)}full`, (f: FullRuns) => f.encode());
    }
    return true;
  }

  private allocate(view: View, req: m.RequestAddressRequest, mid: string, child: string): m.RequestAddressResponse {
    const { g, start, end } = this.lookup(view, req.PoolID, mid, child);
    const E = this.errors;
    const pref = req.Address ?? '';
    const opts = req.Options;
    const gateway = opts != null && opts[Options.RequestAddressType] === Options.Gateway;
    if (pref !== '') {
      const ip = parseAddressFor(g.net, pref);
      if (ip === null) throw E.invalidAddress(pref);
      if (!netContains(g.net, ip)) throw E.outOfRange();
      // 20.10 checks "pool full" before the preferred address (D06); moby 28 does not.
      if (this.opts.profile === 'docker-20.10' && this.isFull(view, g)) throw E.noAddresses();
      const ord = ordinal(g.net, ip.value);
      if (!this.take(view, g, ord, gateway)) throw E.addressInUse();
      return { Address: format(g, ord), Data: {} };
    }
    if (this.isFull(view, g)) throw E.noAddresses();
    const serial = opts != null && opts[Options.Serial] === 'true';
    const cursorKey = `${this.masterPrefix(mid)}cursor`;
    let ord = -1n;
    if (serial) {
      const curr = view.obj(cursorKey, (b) => ({ v: b === null ? 0n : BigInt(b.toString()) })).v;
      if (curr !== 0n && curr > start) ord = this.firstFree(view, g, curr, end);
    }
    if (ord < 0n) ord = this.firstFree(view, g, start, end);
    if (ord < 0n) throw E.noAddresses();
    this.take(view, g, ord, gateway);
    // Every automatic allocation moves the master's serial cursor (D14). A blind write:
    // transactions apply in the store's order, so the last one's cursor is the one that stays.
    view.set(cursorKey, { v: ord + 1n }, CURSOR_ENC);
    return { Address: format(g, ord), Data: {} };
  }

  private release(view: View, req: m.ReleaseAddressRequest, mid: string, child: string): m.EmptyResponse {
    const { g } = this.lookup(view, req.PoolID, mid, child);
    const E = this.errors;
    const text = req.Address ?? '';
    if (text === '') throw E.invalidAddress('');
    const ip = parseAddressFor(g.net, text);
    if (ip === null) throw E.invalidAddress(text);
    if (!netContains(g.net, ip)) throw E.outOfRange();
    const ord = ordinal(g.net, ip.value);
    // Deviation (D22): network/broadcast stay reserved. Deviation (D32): releasing a free address changes nothing.
    if ((g.reserveFirst && ord === 0n) || (g.reserveLast && ord === g.size - 1n)) return {};
    const c = ord / CHUNK_BITS_N;
    const ch = this.chunk(view, g, c);
    const wasFull = ch.full;
    if (ch.delete(Number(ord - c * CHUNK_BITS_N))) {
      view.changed(this.chunkKey(g.id, c), (x: Chunk) => x.encode());
      if (wasFull) {
        this.full(view, g.id).remove(c);
        view.changed(`${this.masterPrefix(g.id)}full`, (f: FullRuns) => f.encode());
      }
    }
    return {};
  }
}

function encodeJson(o: unknown): Buffer {
  return Buffer.from(JSON.stringify(o));
}

/** Masters of a pool table and the sub-pools (as given) that use each. */
function mastersOf(entries: StateSnapshot['entries']): Map<string, Meta> {
  const out = new Map<string, Meta>();
  for (const [space, pool, child] of entries) if (child === '') out.set(poolId(space, pool, ''), { net: pool, subs: [] });
  for (const [space, pool, child] of entries) if (child !== '') out.get(poolId(space, pool, ''))?.subs.push(child);
  for (const meta of out.values()) meta.subs.sort();
  return out;
}

function chunkLen(g: Geometry, c: bigint): number {
  const left = g.size - c * CHUNK_BITS_N;
  return left < CHUNK_BITS_N ? Number(left) : CHUNK_BITS;
}

function ordinal(net: Net, value: number | bigint): bigint {
  return BigInt(value) - BigInt(net.base);
}

function format(g: Geometry, ord: bigint): string {
  if (g.net.family === 4) return formatIPv4((g.net.base as number) + Number(ord)) + g.suffix;
  return formatIPv6((g.net.base as bigint) + ord) + g.suffix;
}

/** A fresh instance id for lane keys. */
export function newInstanceId(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}
