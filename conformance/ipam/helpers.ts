/** Small shared steps of the deterministic IPAM checks. */
import type { PluginCaller } from '../../src/client/types.js';
import type { RequestOf } from '../../src/protocol/methods.js';
import { type Cidr, formatCidr, formatIp, parseCidrWithAddress } from '../cidr.js';
import type { CheckContext } from '../types.js';

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
  if (!out.ok) ctx.skip(`precondition: RequestPool ${formatCidr(cidr)} refused (${out.error.message}); see ipam.request-pool-explicit`);
  ctx.resources.trackPool(caller, out.value.PoolID, req);
  return { poolId: out.value.PoolID, cidr };
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
