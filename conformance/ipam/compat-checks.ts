/**
 * compat: behaves like Docker's default IPAM (ipam-semantics.md). These never
 * fail a run at the default level; they tell a plugin author where it differs
 * from what users of the built-in driver are used to.
 */
import { Options } from '../../src/protocol/constants.js';
import { formatCidr, formatIp } from '../cidr.js';
import type { Check, CheckContext } from '../types.js';
import { openPool, poolRequest, takeAddress, v4Pool } from './helpers.js';

export const addressOrderCompat: Check = {
  id: 'ipam.address-order-compat',
  title: 'Automatic addresses: lowest free first, like Docker',
  level: 'compat',
  reason: 'ipam-semantics.md §2.3: non-serial allocation returns the lowest free ordinal, and a released address is reused first.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const cidr = v4Pool(ctx);
    const pool = await openPool(ctx, cidr);
    const expect = (n: bigint): string => formatIp(4, cidr.base + n);
    const got: (string | null)[] = [];
    for (let i = 0; i < 3; i++) got.push(await takeAddress(ctx, pool));
    const name = `${formatCidr(cidr)} [PoolID ${pool.poolId}]`;
    if (got.join(',') !== [expect(1n), expect(2n), expect(3n)].join(',')) ctx.fail(`the first automatic RequestAddress calls on ${name} returned ${got.join(', ')}; Docker gives ${expect(1n)}, ${expect(2n)}, ${expect(3n)}`);
    await ctx.caller.tryCall('ReleaseAddress', { PoolID: pool.poolId, Address: expect(2n) }, { timeoutMs: ctx.config.timeoutMs });
    ctx.resources.forgetAddress(pool.poolId, expect(2n));
    const next = await takeAddress(ctx, pool);
    if (next !== expect(2n)) ctx.fail(`after ReleaseAddress ${expect(2n)} on ${name}, automatic RequestAddress returned ${next}; Docker reuses the lowest free (${expect(2n)})`);
  },
};

export const poolIdCompat: Check = {
  id: 'ipam.pool-id-compat',
  title: 'PoolID is <AddressSpace>/<subnet>, like Docker',
  level: 'compat',
  reason: 'ipam-semantics.md §1.6: Docker\'s pool IDs are `AddressSpace/Subnet`; dockerd treats them as opaque, so any format works.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const cidr = v4Pool(ctx);
    const pool = await openPool(ctx, cidr);
    const want = `${ctx.addressSpaces.local}/${formatCidr(cidr)}`;
    if (pool.poolId !== want) ctx.fail(`RequestPool ${formatCidr(cidr)} answered PoolID ${JSON.stringify(pool.poolId)}; Docker would answer ${JSON.stringify(want)}`);
  },
};

export const errorTextCompat: Check = {
  id: 'ipam.error-text-compat',
  title: 'Error texts match Docker\'s default IPAM',
  level: 'compat',
  reason: 'ipam-semantics.md §3: users and scripts grep for Docker\'s texts ("Pool overlaps with other one on this address space", "Address already in use", "No available addresses on this pool"); dockerd itself accepts any text.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const moby = ctx.config.profile === 'moby';
    const arena = ctx.pools.next();
    const cidr = arena.v4[0];
    if (!cidr) ctx.skip('no IPv4 pool to test with');
    const pool = await openPool(ctx, cidr);
    const diffs: string[] = [];
    const check = (what: string, got: string | undefined, want: string): void => {
      if (got === undefined || !got.includes(want)) diffs.push(`${what}: got ${JSON.stringify(got ?? '(success)')}, Docker says ${JSON.stringify(want)}`);
    };
    const overlap = await ctx.caller.tryCall('RequestPool', poolRequest(ctx, cidr), { timeoutMs: ctx.config.timeoutMs });
    if (overlap.ok) ctx.resources.trackPool(ctx.caller, overlap.value.PoolID, poolRequest(ctx, cidr));
    const name = `${formatCidr(cidr)} [PoolID ${pool.poolId}]`;
    check(`identical RequestPool ${formatCidr(cidr)}`, overlap.ok ? undefined : overlap.error.pluginMessage ?? overlap.error.message, 'Pool overlaps with other one on this address space');
    const gw = formatIp(4, cidr.base + 1n);
    await takeAddress(ctx, pool, gw, { [Options.RequestAddressType]: Options.Gateway });
    const inUse = await ctx.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: gw, Options: null }, { timeoutMs: ctx.config.timeoutMs });
    check(`RequestAddress ${gw} (in use) on ${name}`, inUse.ok ? undefined : inUse.error.pluginMessage ?? inUse.error.message, 'Address already in use');
    for (let i = 0; i < 300; i++) if ((await takeAddress(ctx, pool)) === null) break;
    const full = await ctx.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: '', Options: null }, { timeoutMs: ctx.config.timeoutMs });
    check(`RequestAddress on the full pool ${name}`, full.ok ? undefined : full.error.pluginMessage ?? full.error.message, moby ? 'no available addresses on this pool' : 'No available addresses on this pool');
    if (diffs.length > 0) ctx.fail(diffs.join('; '));
  },
};
