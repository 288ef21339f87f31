/**
 * Master pools of one address space and family, indexed for Docker's overlap
 * test ("either contains the other's network address") in O(log P) instead of
 * 20.10's scan over every pool. CIDRs are either nested or disjoint, so a
 * master overlaps candidate C iff it contains C (looked up per prefix length
 * present) or starts inside C (binary search over sorted starts).
 */
import { netEnd, type Net } from '../net/index.js';

type Addr = number | bigint;

export class MasterIndex {
  /** prefix length -> network address -> master net. */
  private readonly byLen = new Map<number, Map<Addr, Net>>();
  /** Masters sorted by (start, prefix). */
  private readonly sorted: Net[] = [];

  get size(): number {
    return this.sorted.length;
  }

  private lowerBound(start: Addr): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid].base < start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(net: Net): void {
    let m = this.byLen.get(net.prefix);
    if (m === undefined) {
      m = new Map();
      this.byLen.set(net.prefix, m);
    }
    m.set(net.base, net);
    let i = this.lowerBound(net.base);
    while (i < this.sorted.length && this.sorted[i].base === net.base && this.sorted[i].prefix < net.prefix) i++;
    this.sorted.splice(i, 0, net);
  }

  remove(net: Net): void {
    const m = this.byLen.get(net.prefix);
    if (m !== undefined) {
      m.delete(net.base);
      if (m.size === 0) this.byLen.delete(net.prefix);
    }
    for (let i = this.lowerBound(net.base); i < this.sorted.length && this.sorted[i].base === net.base; i++) {
      if (this.sorted[i].prefix === net.prefix) {
        this.sorted.splice(i, 1);
        return;
      }
    }
  }

  /** A master overlapping `c`, preferring one that contains it (so callers can skip past it); null if none. */
  findOverlap(c: Net): Net | null {
    for (const [len, m] of this.byLen) {
      if (len > c.prefix) continue;
      const key = maskTo(c, len);
      const hit = m.get(key);
      if (hit !== undefined) return hit;
    }
    const i = this.lowerBound(c.base);
    if (i < this.sorted.length) {
      const n = this.sorted[i];
      if (n.base <= netEnd(c)) return n;
    }
    return null;
  }

  all(): readonly Net[] {
    return this.sorted;
  }
}

function maskTo(c: Net, len: number): Addr {
  if (c.family === 4) {
    const size = 2 ** (32 - len);
    const b = c.base as number;
    return b - (b % size);
  }
  const hostBits = BigInt(128 - len);
  return ((c.base as bigint) >> hostBits) << hostBits;
}
