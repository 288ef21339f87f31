/** Small shared steps of the deterministic IPAM checks. */
import type { PluginCaller } from '../../src/client/types.js';
import type { RequestOf } from '../../src/protocol/methods.js';
import { type Cidr, contains, formatCidr, formatIp, parseCidrWithAddress, parseIp } from '../cidr.js';
import type { CheckContext } from '../types.js';

/** Where a refused precondition pool points the user. */
export const POOL_HINT = 'give the subnets the plugin serves with --subnet, or the options it needs with --ipam-opt (see ipam.request-pool-explicit)';

export interface OpenPool {
  readonly poolId: string;
  readonly cidr: Cidr;
}

export function poolRequest(ctx: CheckContext, cidr: Cidr | null, extra: Partial<RequestOf<'RequestPool'>> = {}): RequestOf<'RequestPool'> {
  return {
    AddressSpace: ctx.addressSpaces.local,
    Pool: cidr ? formatCidr(cidr) : '',
    SubPool: '',
    Options: { ...ctx.config.ipamOpts },
    V6: cidr?.family === 6,
    ...extra,
  };
}

/** Request a pool that the check needs as a precondition (a refusal skips: another check owns that). */
export async function openPool(ctx: CheckContext, cidr: Cidr, caller: PluginCaller = ctx.caller): Promise<OpenPool> {
  const req = poolRequest(ctx, cidr);
  const out = await caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
  if (!out.ok) ctx.skip(`precondition: RequestPool ${formatCidr(cidr)} refused (${out.error.message}); ${POOL_HINT}`);
  ctx.resources.trackPool(caller, out.value.PoolID, req);
  return { poolId: out.value.PoolID, cidr };
}

/** The bare address of a RequestAddress answer ("10.0.0.5/24" -> "10.0.0.5"), or the text itself when it is no CIDR. */
export function bareAddress(text: string): string {
  const parsed = parseCidrWithAddress(text);
  return parsed ? formatIp(parsed.cidr.family, parsed.addr) : text;
}

/** Request an address; returns the bare address text, or null when refused. */
export async function takeAddress(ctx: CheckContext, pool: OpenPool, preferred = '', options: Record<string, string> | null = null, caller: PluginCaller = ctx.caller): Promise<string | null> {
  const out = await caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: preferred, Options: options }, { timeoutMs: ctx.config.timeoutMs });
  if (!out.ok) return null;
  const parsed = parseCidrWithAddress(out.value.Address);
  const bare = parsed ? formatIp(parsed.cidr.family, parsed.addr) : out.value.Address;
  ctx.resources.trackAddress(caller, pool.poolId, bare);
  return bare;
}

/** Request `preferred` in `pool` as a precondition of the check (a refusal skips). */
export async function requireAddress(ctx: CheckContext, pool: OpenPool, preferred: string): Promise<void> {
  if ((await takeAddress(ctx, pool, preferred)) === null) ctx.skip(`precondition: RequestAddress ${preferred} refused`);
}

/** The first IPv4 pool of a fresh arena (or skip). */
export function v4Pool(ctx: CheckContext, index = 0): Cidr {
  const c = ctx.pools.next().v4[index];
  if (!c) ctx.skip('no IPv4 pool to test with (give an IPv4 --subnet)');
  return c;
}

/**
 * Two live pools whose subnets overlap (identical, nested, or an automatic pool
 * around explicit ones): Docker refuses them, a per-address allocator grants
 * them and still never hands out one address twice. Probe whether an address
 * really comes out through both: ask `b` for an address allocated in `a`, and
 * ask `a` for an automatic address of `b`. Returns what went wrong, or null.
 * `inA` is an address already allocated in `a` (null: one is taken here).
 */
export async function addressThroughBoth(ctx: CheckContext, a: OpenPool, b: OpenPool, inA: string | null): Promise<string | null> {
  const name = (p: OpenPool): string => `${formatCidr(p.cidr)} [PoolID ${p.poolId}]`;
  const held = inA ?? (await takeAddress(ctx, a));
  if (held !== null) {
    const again = await takeAddress(ctx, b, held);
    if (again === held) return `RequestAddress ${held} (preferred) on ${name(b)} was granted although ${held} is allocated through ${name(a)}`;
  }
  for (let i = 0; i < 3; i++) {
    const got = await takeAddress(ctx, b);
    if (got === null) break;
    if (got === held) return `RequestAddress (automatic) on ${name(b)} returned ${got}, allocated through ${name(a)}`;
    const ip = parseIp(got);
    if (!ip || !contains(a.cidr, ip.family, ip.value)) continue;
    const dup = await takeAddress(ctx, a, got);
    if (dup === got) return `RequestAddress (automatic) on ${name(b)} returned ${got}, then RequestAddress ${got} (preferred) on ${name(a)} was granted too`;
  }
  return null;
}
