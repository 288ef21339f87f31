/**
 * Re-mapping what the recorded plugin chose to what the replayed plugin
 * chooses: PoolIDs, MACs and interface names (strings), automatic pools
 * (CIDRs) and addresses.
 *
 * Every map is a bijection built from transpositions: when the recording
 * handed out `a` and the plugin now hands out `b`, `a` is sent as `b` from
 * then on, and whatever recorded value was sent as `b` so far is sent as the
 * old image of `a`. So a value the recording later picks explicitly
 * (`--ip`, `--subnet`) and that the new plugin already gave to someone else
 * is sent as a value that is free now, exactly as it was free in the
 * recording: no false collision.
 */
import { addressPart } from '../../src/net/index.js';
import { type Cidr, type Family, contains, formatCidr, formatIp, overlaps, parseCidrWithAddress, parseIp, sameCidr, sizeOf } from '../cidr.js';

/** A bijection over `K` from transpositions over a base bijection (identity by default). */
export class Permutation<K> {
  private readonly fwd = new Map<K, K>();
  private readonly rev = new Map<K, K>();

  constructor(
    private readonly base: (k: K) => K = (k) => k,
    private readonly baseInverse: (k: K) => K = (k) => k,
  ) {}

  map(k: K): K {
    return this.fwd.has(k) ? this.fwd.get(k)! : this.base(k);
  }

  inverse(k: K): K {
    return this.rev.has(k) ? this.rev.get(k)! : this.baseInverse(k);
  }

  /** From now on `from` maps to `to`; the value that mapped to `to` takes `from`'s old image. */
  learn(from: K, to: K): void {
    const old = this.map(from);
    if (old === to) return;
    const other = this.inverse(to);
    this.set(from, to);
    this.set(other, old);
  }

  /** Whether anything was learnt for `k` (not just the base mapping). */
  has(k: K): boolean {
    return this.fwd.has(k);
  }

  private set(from: K, to: K): void {
    this.fwd.set(from, to);
    this.rev.set(to, from);
  }
}

/** Recorded automatic pool -> pool the plugin picks now: addresses move with their offset. */
interface PoolMove {
  readonly from: Cidr;
  readonly to: Cidr;
}

const key = (family: Family, v: bigint): string => `${family}:${v.toString(16)}`;

function unkey(k: string): { family: Family; value: bigint } {
  const [f, hex] = k.split(':') as [string, string];
  return { family: f === '4' ? 4 : 6, value: BigInt(`0x${hex}`) };
}

/** The ids and addresses learnt so far, applied to request bodies. */
export class IdMap {
  /** PoolIDs, MACs (lower case), interface names. */
  readonly strings = new Permutation<string>();
  private readonly moves: PoolMove[] = [];
  /** Addresses as `family:hex`, over the pool moves. */
  private readonly addresses: Permutation<string>;

  constructor() {
    this.addresses = new Permutation<string>(
      (k) => this.moveAddress(k, false),
      (k) => this.moveAddress(k, true),
    );
  }

  /** A pool move is a swap of two equal blocks (a bijection); pools of other sizes move offsets that fit one way only. */
  private moveAddress(k: string, backwards: boolean): string {
    const { family, value } = unkey(k);
    for (const m of this.moves) {
      const [src, dst] = backwards ? [m.to, m.from] : [m.from, m.to];
      if (contains(src, family, value)) {
        const off = value - src.base;
        return off < sizeOf(dst) ? key(family, dst.base + off) : k;
      }
      if (sizeOf(src) === sizeOf(dst) && contains(dst, family, value)) return key(family, src.base + (value - dst.base));
    }
    return k;
  }

  /** The recording's automatic pool `from` is `to` now. */
  learnPool(from: string, to: string): void {
    const a = parseCidrWithAddress(from)?.cidr;
    const b = parseCidrWithAddress(to)?.cidr;
    if (a === undefined || b === undefined || a.family !== b.family) return;
    if (sameCidr(a, b) || overlaps(a, b)) return;
    if (this.moves.some((m) => sameCidr(m.from, a) && sameCidr(m.to, b))) return;
    // A pool handed out again after its network went (either side): the latest move wins.
    const clash = (m: PoolMove): boolean => [a, b].some((c) => overlaps(m.from, c) || overlaps(m.to, c));
    for (let i = this.moves.length - 1; i >= 0; i--) if (clash(this.moves[i]!)) this.moves.splice(i, 1);
    this.moves.push({ from: a, to: b });
  }

  /** The recording's address `from` (bare or CIDR) is `to` now. */
  learnAddress(from: string, to: string): void {
    const a = parseIp(addressPart(from));
    const b = parseIp(addressPart(to));
    if (a === null || b === null || a.family !== b.family) return;
    this.addresses.learn(key(a.family, a.value), key(b.family, b.value));
  }

  learnString(from: string, to: string): void {
    if (from === '' || to === '') return;
    this.strings.learn(from, to);
  }

  learnMac(from: string, to: string): void {
    this.learnString(from.toLowerCase(), to.toLowerCase());
  }

  /** One string value of a request, rewritten: a learnt id, a pool, an address (bare or with its prefix). */
  rewriteString(s: string): string {
    if (s === '') return s;
    if (this.strings.has(s)) return this.strings.map(s);
    const lower = s.toLowerCase();
    if (lower !== s && this.strings.has(lower)) return this.strings.map(lower);
    const ip = parseIp(s);
    if (ip !== null) {
      const to = unkey(this.addresses.map(key(ip.family, ip.value)));
      return formatIp(to.family, to.value);
    }
    const c = parseCidrWithAddress(s);
    if (c === null) return s;
    const family = c.cidr.family;
    if (c.addr === c.cidr.base && c.cidr.prefix < (family === 4 ? 32 : 128)) {
      // A pool: moves as a whole; a block inside a moved pool moves with its offset (an explicit
      // --subnet inside the plugin's new automatic pool goes where it is free now, as it was then).
      for (const m of this.moves) if (sameCidr(m.from, c.cidr)) return formatCidr(m.to);
      for (const m of this.moves) {
        const moved = moveBlock(c.cidr, m.from, m.to) ?? moveBlock(c.cidr, m.to, m.from);
        if (moved !== null) return formatCidr(moved);
      }
      return s;
    }
    const to = unkey(this.addresses.map(key(family, c.addr)));
    // An address of a moved pool takes the new pool's prefix length.
    let prefix = c.cidr.prefix;
    for (const m of this.moves) if (contains(m.from, family, c.addr) && m.from.prefix === prefix) prefix = m.to.prefix;
    return `${formatIp(to.family, to.value)}/${prefix}`;
  }

  /** A JSON value with every string value (not keys) rewritten. */
  rewrite(v: unknown): unknown {
    if (typeof v === 'string') return this.rewriteString(v);
    if (Array.isArray(v)) return v.map((x) => this.rewrite(x));
    if (typeof v === 'object' && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.rewrite(x);
      return out;
    }
    return v;
  }
}

/** `block` inside `src`, at the same offset inside `dst` when it fits there; null otherwise. */
function moveBlock(block: Cidr, src: Cidr, dst: Cidr): Cidr | null {
  if (block.family !== src.family || block.prefix < src.prefix || !contains(src, block.family, block.base)) return null;
  const off = block.base - src.base;
  if (off + sizeOf(block) > sizeOf(dst)) return null;
  return { family: dst.family, base: dst.base + off, prefix: block.prefix };
}
