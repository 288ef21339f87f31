/** Deterministic pool checks: identical and automatic requests, sub-pools, unknown IDs, options. */
import { Options } from '../../src/protocol/constants.js';
import { type Cidr, formatCidr, formatIp, overlaps, parseCidr } from '../cidr.js';
import { subPoolOf } from '../pools.js';
import type { Check, CheckContext } from '../types.js';
import { openPool, poolRequest, takeAddress, v4Pool } from './helpers.js';

export const identicalPoolRequest: Check = {
  id: 'ipam.identical-pool-request',
  title: 'An identical RequestPool is refused or shares the pool',
  level: 'must',
  reason:
    'docs/ipam.md says identical requests may return the same pool (reference counted); Docker refuses them (ipam-semantics.md §1.4). Either is fine, but two live pool IDs for one subnet with separate allocation hand out the same address twice.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const cidr = v4Pool(ctx);
    const first = await openPool(ctx, cidr);
    const req = poolRequest(ctx, cidr);
    const again = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
    if (!again.ok) return;
    ctx.resources.trackPool(ctx.caller, again.value.PoolID, req);
    ctx.note(`identical RequestPool accepted (PoolID ${again.value.PoolID === first.poolId ? 'same' : 'different'}); Docker refuses it`);
    const target = formatIp(4, cidr.base + 5n);
    const a = await takeAddress(ctx, first, target);
    if (a === null) ctx.skip(`precondition: RequestAddress ${target} refused`);
    const b = await takeAddress(ctx, { poolId: again.value.PoolID, cidr }, target);
    if (b !== null) ctx.fail(`${formatCidr(cidr)} was granted twice (PoolIDs ${first.poolId} and ${again.value.PoolID}) and ${target} was handed out through both`);
  },
};

export const unknownPoolRefused: Check = {
  id: 'ipam.unknown-pool-refused',
  title: 'RequestAddress on an unknown PoolID is refused',
  level: 'must',
  reason: 'ipam-semantics.md §2.2 step 3: an unknown pool is NotFound. An address from a pool nobody requested is untracked: it will be handed out again.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    for (const poolId of [`${ctx.addressSpaces.local}/10.199.255.0/24`, 'cnmkit-no-such-pool', '']) {
      const out = await ctx.caller.tryCall('RequestAddress', { PoolID: poolId, Address: '', Options: null }, { timeoutMs: ctx.config.timeoutMs });
      if (out.ok) ctx.fail(`RequestAddress on unknown PoolID ${JSON.stringify(poolId)} answered ${JSON.stringify(out.value.Address)} instead of an error`);
    }
  },
};

export const requestOptionsTolerated: Check = {
  id: 'ipam.request-options-tolerated',
  title: 'Every option shape dockerd sends is accepted',
  level: 'must',
  reason:
    'protocol.md §2.3: RequestPool Options is {} locally and null from the swarm allocator; RequestAddress Options is null (aux, 20.10 endpoints), the gateway marker, the MAC option, serial=true, or the v29 endpoint name. Refusing any of them breaks the matching docker command.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const arena = ctx.pools.next();
    const [c1, c2] = [arena.v4[0], arena.v4[1] ?? arena.v4[0]];
    if (!c1 || !c2) ctx.skip('no IPv4 pool to test with');
    for (const [cidr, options] of [
      [c1, null],
      [c2, {}],
    ] as const) {
      const req = { ...poolRequest(ctx, cidr), Options: options === null && Object.keys(ctx.config.ipamOpts).length > 0 ? { ...ctx.config.ipamOpts } : options };
      const out = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
      if (!out.ok) ctx.fail(`RequestPool ${formatCidr(cidr)} with Options ${JSON.stringify(req.Options)} refused: ${out.error.message}`);
      ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
      if (c1 === c2) break;
      if (cidr === c1) {
        const pool = { poolId: out.value.PoolID, cidr };
        const shapes: (Record<string, string> | null)[] = [
          null,
          {},
          { [Options.RequestAddressType]: Options.Gateway },
          { [Options.MacAddress]: '02:42:0a:c7:00:07' },
          { [Options.Serial]: 'true' },
          { [Options.EndpointName]: 'cnmkit-check' },
        ];
        for (const opt of shapes) {
          const got = await takeAddress(ctx, pool, '', opt);
          if (got === null) ctx.fail(`RequestAddress with Options ${JSON.stringify(opt)} refused on a pool with free addresses`);
        }
      }
    }
  },
};

export const subPoolWithoutPool: Check = {
  id: 'ipam.subpool-without-pool-refused',
  title: 'SubPool without Pool is refused',
  level: 'should',
  reason: 'docs/ipam.md via protocol.md §2.3: "empty Pool with non-empty SubPool should be rejected"; Docker answers Invalid Address SubPool (ipam-semantics.md §1.5).',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const cidr = v4Pool(ctx);
    const req = poolRequest(ctx, null, { SubPool: formatCidr(cidr) });
    const out = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
    if (out.ok) {
      ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
      ctx.fail(`RequestPool with SubPool ${formatCidr(cidr)} and no Pool was granted (${out.value.Pool})`);
    }
  },
};

export const autoPool: Check = {
  id: 'ipam.auto-pool',
  title: 'Automatic pools are valid and never overlap held pools',
  level: 'must',
  reason:
    'protocol.md §2.3: `docker network create` without --subnet sends Pool ""; the reply Pool must parse as a CIDR, and a pool overlapping another network duplicates addresses. Plugins that only serve explicit pools may refuse (accepted).',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const held: Cidr[] = [];
    // An explicit pool is held too: automatic picks must avoid it (ipam-semantics.md §1.3 step 3).
    const explicit = ctx.pools.next().v4[0];
    if (explicit) {
      const req = poolRequest(ctx, explicit);
      const out = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
      if (out.ok) {
        ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
        held.push(explicit);
      }
    }
    for (let i = 0; i < 3; i++) {
      const req = poolRequest(ctx, null);
      const out = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
      if (!out.ok) {
        if (i === 0) ctx.note(`automatic pools not offered: ${out.error.message}`);
        return;
      }
      ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
      const c = parseCidr(out.value.Pool);
      if (!c) ctx.fail(`automatic RequestPool answered Pool ${JSON.stringify(out.value.Pool)}, not a CIDR (dockerd fails with "invalid CIDR address")`);
      if (c.family !== 4) ctx.fail(`automatic RequestPool with V6=false answered the IPv6 pool ${out.value.Pool}`);
      const clash = held.find((h) => overlaps(h, c));
      if (clash) ctx.fail(`automatic RequestPool answered ${formatCidr(c)}, overlapping the pool ${formatCidr(clash)} still held`);
      held.push(c);
    }
  },
};

export const subPoolGranted: Check = {
  id: 'ipam.subpool-request',
  title: 'A pool with SubPool (--ip-range) is granted as the master pool',
  level: 'should',
  reason: 'ipam-semantics.md §1.5 / protocol.md §2.3: `--ip-range` sends SubPool; the reply Pool is the master subnet, and automatic addresses come from the sub-pool (checked by ipam.address-in-subpool).',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const cidr = v4Pool(ctx);
    const sub = subPoolOf(cidr);
    if (!sub) ctx.skip('pool too small for a sub-pool');
    const req = poolRequest(ctx, cidr, { SubPool: formatCidr(sub) });
    const out = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
    if (!out.ok) ctx.fail(`RequestPool ${formatCidr(cidr)} with SubPool ${formatCidr(sub)} refused: ${out.error.message}`);
    ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
    const got = parseCidr(out.value.Pool);
    if (!got || formatCidr(got) !== formatCidr(cidr)) ctx.fail(`RequestPool with SubPool answered Pool ${JSON.stringify(out.value.Pool)}; dockerd expects the master ${formatCidr(cidr)}`);
  },
};
