/**
 * Sets of allocated address ordinals (host parts) for one master pool.
 *
 * Memory follows what is allocated, never the pool size: ordinals are grouped
 * in chunks of 2^16 bits that exist only while they hold a set bit. Inside a
 * chunk a three-level bitmap (bits, "word full", "summary word full") finds the
 * first free bit at or after an offset in a handful of operations; across
 * chunks a sorted list of runs of full chunks lets the search jump over
 * completely used stretches in O(log R). So "lowest free >= start" and "first
 * free >= cursor, else wrap" are O(log n) whatever the pool size.
 *
 * `SmallOrdinalSet` covers domains up to 2^52 with number ordinals (all IPv4
 * pools, IPv6 /76 and longer); `BigOrdinalSet` covers any IPv6 prefix with
 * bigint ordinals by keying 2^32-sized small sets on the high bits.
 */

const CHUNK_BITS = 16;
const CHUNK_SIZE = 1 << CHUNK_BITS; // 65,536 ordinals
const WORDS = CHUNK_SIZE >>> 5; // 2,048 x 32-bit words
const SUMMARY = WORDS >>> 5; // 64 words: bit = data word full
const FULL = 0xffffffff;

function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** One 2^16-bit chunk with a two-level "is full" summary. */
class Chunk {
  readonly words = new Uint32Array(WORDS);
  readonly summary = new Uint32Array(SUMMARY);
  /** Bit s set: summary word s is full (all 1,024 words it covers are full). */
  readonly top = new Uint32Array(2);
  count = 0;

  has(off: number): boolean {
    return (this.words[off >>> 5] & (1 << (off & 31))) !== 0;
  }

  /** Sets the bit; false when it was already set. */
  add(off: number): boolean {
    const w = off >>> 5;
    const bit = 1 << (off & 31);
    const old = this.words[w];
    if ((old & bit) !== 0) return false;
    const nw = (old | bit) >>> 0;
    this.words[w] = nw;
    this.count++;
    if (nw === FULL) {
      const s = w >>> 5;
      const ns = (this.summary[s] | (1 << (w & 31))) >>> 0;
      this.summary[s] = ns;
      if (ns === FULL) this.top[s >>> 5] |= 1 << (s & 31);
    }
    return true;
  }

  /** Clears the bit; false when it was not set. */
  delete(off: number): boolean {
    const w = off >>> 5;
    const bit = 1 << (off & 31);
    const old = this.words[w];
    if ((old & bit) === 0) return false;
    this.words[w] = (old & ~bit) >>> 0;
    this.count--;
    if (old === FULL) {
      const s = w >>> 5;
      const olds = this.summary[s];
      this.summary[s] = (olds & ~(1 << (w & 31))) >>> 0;
      if (olds === FULL) this.top[s >>> 5] &= ~(1 << (s & 31));
    }
    return true;
  }

  /** First clear bit >= off in this chunk, or -1. */
  firstFree(off: number): number {
    let w = off >>> 5;
    const bits = ~this.words[w] & (FULL << (off & 31));
    if (bits !== 0) return (w << 5) + ctz(bits);
    w = this.nextNonFullWord(w + 1);
    return w < 0 ? -1 : (w << 5) + ctz(~this.words[w]);
  }

  private nextNonFullWord(from: number): number {
    if (from >= WORDS) return -1;
    let s = from >>> 5;
    const m = ~this.summary[s] & (FULL << (from & 31));
    if (m !== 0) return (s << 5) + ctz(m);
    s = this.nextNonFullSummary(s + 1);
    return s < 0 ? -1 : (s << 5) + ctz(~this.summary[s]);
  }

  private nextNonFullSummary(from: number): number {
    for (let t = from >>> 5; t < 2; t++) {
      const m = ~this.top[t] & (t === from >>> 5 ? FULL << (from & 31) : FULL);
      if (m !== 0) return (t << 5) + ctz(m);
    }
    return -1;
  }
}

/** Runs of consecutive full chunk indices, sorted and disjoint. */
class FullRuns {
  private starts: number[] = [];
  private ends: number[] = [];

  /** Index of the last run whose start <= c, or -1. */
  private find(c: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] <= c) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  /** The first chunk index >= c that is not full. */
  nextNotFull(c: number): number {
    const k = this.find(c);
    return k >= 0 && this.ends[k] >= c ? this.ends[k] + 1 : c;
  }

  mark(c: number): void {
    const k = this.find(c);
    const joinLeft = k >= 0 && this.ends[k] === c - 1;
    const joinRight = k + 1 < this.starts.length && this.starts[k + 1] === c + 1;
    if (joinLeft && joinRight) {
      this.ends[k] = this.ends[k + 1];
      this.starts.splice(k + 1, 1);
      this.ends.splice(k + 1, 1);
    } else if (joinLeft) this.ends[k] = c;
    else if (joinRight) this.starts[k + 1] = c;
    else {
      this.starts.splice(k + 1, 0, c);
      this.ends.splice(k + 1, 0, c);
    }
  }

  unmark(c: number): void {
    const k = this.find(c);
    if (k < 0 || this.ends[k] < c) return;
    const s = this.starts[k];
    const e = this.ends[k];
    if (s === c && e === c) {
      this.starts.splice(k, 1);
      this.ends.splice(k, 1);
    } else if (s === c) this.starts[k] = c + 1;
    else if (e === c) this.ends[k] = c - 1;
    else {
      this.ends[k] = c - 1;
      this.starts.splice(k + 1, 0, c + 1);
      this.ends.splice(k + 1, 0, e);
    }
  }
}

/** A run of consecutive set ordinals, inclusive bounds. */
export interface OrdinalRun<T> {
  first: T;
  last: T;
}

/** Allocated ordinals of a domain [0, size) with size <= 2^52. */
export class SmallOrdinalSet {
  private readonly chunks = new Map<number, Chunk>();
  private readonly full = new FullRuns();
  private n = 0;

  constructor(readonly size: number) {}

  get count(): number {
    return this.n;
  }

  /** Bytes of bitmap memory held (for reports). */
  get bytes(): number {
    return this.chunks.size * (WORDS + SUMMARY + 2) * 4;
  }

  has(o: number): boolean {
    const c = this.chunks.get(Math.floor(o / CHUNK_SIZE));
    return c !== undefined && c.has(o % CHUNK_SIZE);
  }

  add(o: number): boolean {
    const ci = Math.floor(o / CHUNK_SIZE);
    let c = this.chunks.get(ci);
    if (c === undefined) {
      c = new Chunk();
      this.chunks.set(ci, c);
    }
    if (!c.add(o - ci * CHUNK_SIZE)) return false;
    this.n++;
    if (c.count === CHUNK_SIZE) this.full.mark(ci);
    return true;
  }

  delete(o: number): boolean {
    const ci = Math.floor(o / CHUNK_SIZE);
    const c = this.chunks.get(ci);
    if (c === undefined) return false;
    const wasFull = c.count === CHUNK_SIZE;
    if (!c.delete(o - ci * CHUNK_SIZE)) return false;
    this.n--;
    if (wasFull) this.full.unmark(ci);
    if (c.count === 0) this.chunks.delete(ci);
    return true;
  }

  /** Lowest clear ordinal in [start, end], or -1. */
  firstFree(start: number, end: number): number {
    if (end >= this.size) end = this.size - 1;
    if (start > end) return -1;
    let ci = Math.floor(start / CHUNK_SIZE);
    let off = start - ci * CHUNK_SIZE;
    for (;;) {
      const nf = this.full.nextNotFull(ci);
      if (nf !== ci) {
        ci = nf;
        off = 0;
      }
      const base = ci * CHUNK_SIZE;
      if (base > end) return -1;
      const c = this.chunks.get(ci);
      const r = c === undefined ? off : c.firstFree(off);
      if (r >= 0) {
        const o = base + r;
        return o <= end ? o : -1;
      }
      ci++;
      off = 0;
    }
  }

  /** Set ordinals as runs, in order, at most `limit` runs. */
  runs(limit = Infinity): OrdinalRun<number>[] {
    const out: OrdinalRun<number>[] = [];
    const keys = [...this.chunks.keys()].sort((a, b) => a - b);
    let cur: OrdinalRun<number> | null = null;
    for (const ci of keys) {
      const c = this.chunks.get(ci)!;
      const base = ci * CHUNK_SIZE;
      for (let w = 0; w < WORDS; w++) {
        let word = c.words[w];
        if (word === 0) continue;
        if (word === FULL && cur !== null && cur.last === base + (w << 5) - 1) {
          cur.last += 32;
          continue;
        }
        while (word !== 0) {
          const b = ctz(word);
          word &= word - 1;
          const o = base + (w << 5) + b;
          if (cur !== null && cur.last === o - 1) cur.last = o;
          else {
            if (cur !== null) {
              out.push(cur);
              if (out.length >= limit) return out;
            }
            cur = { first: o, last: o };
          }
        }
      }
    }
    if (cur !== null && out.length < limit) out.push(cur);
    return out;
  }
}

const SUPER_BITS = 32n;
const SUPER_SIZE = 1n << SUPER_BITS;
const SUPER_MASK = SUPER_SIZE - 1n;

/** Allocated ordinals of an arbitrarily large domain (IPv6), bigint ordinals. */
export class BigOrdinalSet {
  private readonly supers = new Map<bigint, SmallOrdinalSet>();
  private n = 0;

  constructor(readonly size: bigint) {}

  get count(): number {
    return this.n;
  }

  get bytes(): number {
    let b = 0;
    for (const s of this.supers.values()) b += s.bytes;
    return b;
  }

  has(o: bigint): boolean {
    const s = this.supers.get(o >> SUPER_BITS);
    return s !== undefined && s.has(Number(o & SUPER_MASK));
  }

  add(o: bigint): boolean {
    const k = o >> SUPER_BITS;
    let s = this.supers.get(k);
    if (s === undefined) {
      s = new SmallOrdinalSet(Number(SUPER_SIZE));
      this.supers.set(k, s);
    }
    if (!s.add(Number(o & SUPER_MASK))) return false;
    this.n++;
    return true;
  }

  delete(o: bigint): boolean {
    const k = o >> SUPER_BITS;
    const s = this.supers.get(k);
    if (s === undefined || !s.delete(Number(o & SUPER_MASK))) return false;
    this.n--;
    if (s.count === 0) this.supers.delete(k);
    return true;
  }

  /** Lowest clear ordinal in [start, end], or -1n. */
  firstFree(start: bigint, end: bigint): bigint {
    if (end >= this.size) end = this.size - 1n;
    if (start > end) return -1n;
    let k = start >> SUPER_BITS;
    let off = Number(start & SUPER_MASK);
    const endK = end >> SUPER_BITS;
    // Each extra turn needs a completely full 2^32 block: bounded by memory.
    while (k <= endK) {
      const s = this.supers.get(k);
      const innerEnd = k === endK ? Number(end & SUPER_MASK) : Number(SUPER_MASK);
      const r = s === undefined ? (off <= innerEnd ? off : -1) : s.firstFree(off, innerEnd);
      if (r >= 0) return (k << SUPER_BITS) + BigInt(r);
      k++;
      off = 0;
    }
    return -1n;
  }

  runs(limit = Infinity): OrdinalRun<bigint>[] {
    const out: OrdinalRun<bigint>[] = [];
    const keys = [...this.supers.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const k of keys) {
      const base = k << SUPER_BITS;
      for (const r of this.supers.get(k)!.runs(limit - out.length)) {
        const first = base + BigInt(r.first);
        const last = base + BigInt(r.last);
        const prev = out[out.length - 1];
        if (prev !== undefined && prev.last === first - 1n) prev.last = last;
        else out.push({ first, last });
        if (out.length >= limit) return out;
      }
    }
    return out;
  }
}
