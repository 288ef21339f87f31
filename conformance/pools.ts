/**
 * Which subnets the checks use. By default every use gets a fresh "arena" of
 * small pools carved from private test ranges (10.199.0.0/16, fd00:c0::/48),
 * so a plugin that leaks state cannot make one run depend on another; with
 * `--subnet` the given pools are used as they are.
 */
import { type Cidr, cidr, subnet, subnetCount } from './cidr.js';
import type { ResolvedConfig } from './config.js';

export interface Arena {
  /** IPv4 pools, disjoint. */
  readonly v4: readonly Cidr[];
  /** IPv6 pools, disjoint (empty when the plan has none). */
  readonly v6: readonly Cidr[];
  /** True when the pools are the user's `--subnet` values (reused by every arena). */
  readonly fixed: boolean;
}

export interface PoolPlan {
  /** A fresh arena (rotates through the base ranges). */
  next(): Arena;
}

const V4_ARENA = 26;
const V4_SLOT = 28;
const V6_ARENA = 64;
const V6_SLOT = 124;

export function createPoolPlan(config: Pick<ResolvedConfig, 'subnets' | 'defaultV4Base' | 'defaultV6Base'>): PoolPlan {
  if (config.subnets.length > 0) {
    const all = config.subnets.map(cidr);
    const arena: Arena = { v4: all.filter((c) => c.family === 4), v6: all.filter((c) => c.family === 6), fixed: true };
    return { next: () => arena };
  }
  const v4Base = cidr(config.defaultV4Base);
  const v6Base = cidr(config.defaultV6Base);
  const v4Arenas = subnetCount(v4Base, Math.max(V4_ARENA, v4Base.prefix));
  const v6Arenas = v6Base.prefix >= V6_ARENA ? 1n : subnetCount(v6Base, V6_ARENA) > 65536n ? 65536n : subnetCount(v6Base, V6_ARENA);
  let counter = 0;
  return {
    next(): Arena {
      const n = BigInt(counter++);
      const a4 = subnet(v4Base, Math.max(V4_ARENA, v4Base.prefix), n % v4Arenas);
      const a6 = subnet(v6Base, Math.max(V6_ARENA, v6Base.prefix), n % v6Arenas);
      return {
        v4: [0, 1, 2, 3].map((i) => subnet(a4, V4_SLOT, i)),
        v6: [0, 1].map((i) => subnet(a6, V6_SLOT, i)),
        fixed: false,
      };
    },
  };
}

/** The first half of a pool: overlaps it from inside. */
export function innerOf(c: Cidr): Cidr | null {
  const max = c.family === 4 ? 30 : 126;
  return c.prefix < max ? subnet(c, c.prefix + 1, 0) : null;
}

/** The enclosing network one bit shorter: overlaps it from outside. */
export function outerOf(c: Cidr): Cidr | null {
  if (c.prefix === 0) return null;
  const bits = c.family === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - (c.prefix - 1));
  return { family: c.family, base: c.base - (c.base % size), prefix: c.prefix - 1 };
}

/** The upper half of a pool, used as `SubPool` (`--ip-range`). */
export function subPoolOf(c: Cidr): Cidr | null {
  const max = c.family === 4 ? 30 : 126;
  return c.prefix < max ? subnet(c, c.prefix + 1, 1) : null;
}
