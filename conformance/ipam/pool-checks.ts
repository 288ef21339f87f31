/** Deterministic pool checks: identical and automatic requests, sub-pools, unknown IDs, options. */
import { Options } from '../../src/protocol/constants.js';
import { type Cidr, formatCidr, formatIp, overlaps, parseCidr, parseCidrWithAddress } from '../cidr.js';
import { subPoolOf } from '../pools.js';
import type { Check, CheckContext } from '../types.js';
import { openPool, poolRequest, requireAddress, takeAddress, v4Pool } from './helpers.js';

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
    await requireAddress(ctx, first, target);
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

export const addressSpacesIndependent: Check = {
  id: 'ipam.address-spaces-independent',
  title: 'The local and global address spaces are independent',
  level: 'compat',
  reason:
    'ipam-semantics.md §1.1 / protocol.md §4.9: in Docker the same subnet may be a pool in both spaces (a swarm manager allocates in the global space, each node in the local one); a plugin with one shared space cannot serve attachable swarm networks, which only matters for global-scope drivers.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const { local, global } = ctx.addressSpaces;
    if (local === global) ctx.skip(`the plugin reports one address space for both (${local})`);
    const cidr = v4Pool(ctx);
    const a = await openPool(ctx, cidr);
    const req = poolRequest(ctx, cidr, { AddressSpace: global, Options: null });
    const out = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
    if (!out.ok) ctx.fail(`RequestPool ${formatCidr(cidr)} in ${global} refused while it is held in ${local}: ${out.error.message}`);
    ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
    if (out.value.PoolID === a.poolId) ctx.fail(`the pools of ${formatCidr(cidr)} in ${local} and ${global} have the same PoolID ${JSON.stringify(a.poolId)}`);
    const ip = formatIp(4, cidr.base + 3n);
    await requireAddress(ctx, a, ip);
    if ((await takeAddress(ctx, { poolId: out.value.PoolID, cidr }, ip)) === null) ctx.fail(`${ip} taken in ${local} is refused in ${global}: the spaces share state`);
  },
};

export const releaseUnknownHarmless: Check = {
  id: 'ipam.release-unknown-harmless',
  title: 'Releasing unknown pools or addresses changes nothing',
  level: 'must',
  reason:
    'protocol.md §2.3/§4.2-4.4: dockerd releases during rollbacks and retries, also things that were never allocated; success or an error are both fine (ipam-semantics.md §2.4), but the release must not free anything else.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const cidr = v4Pool(ctx);
    const pool = await openPool(ctx, cidr);
    const size = 1n << BigInt(32 - cidr.prefix);
    const keep = formatIp(4, cidr.base + 1n);
    await requireAddress(ctx, pool, keep);
    const t = { timeoutMs: ctx.config.timeoutMs };
    const releases = [
      { what: 'an address never handed out', req: { PoolID: pool.poolId, Address: formatIp(4, cidr.base + 2n) } },
      { what: 'an address one pool-size above the held one', req: { PoolID: pool.poolId, Address: formatIp(4, cidr.base + size + 1n) } },
      { what: 'an address below the pool', req: { PoolID: pool.poolId, Address: formatIp(4, cidr.base - size + 1n) } },
      { what: 'an unknown PoolID', req: { PoolID: `${pool.poolId}-cnmkit-unknown`, Address: keep } },
    ];
    for (const r of releases) {
      await ctx.caller.tryCall('ReleaseAddress', r.req, t);
      const again = await ctx.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: keep, Options: null }, t);
      if (again.ok) {
        const parsed = parseCidrWithAddress(again.value.Address);
        const got = parsed ? formatIp(parsed.cidr.family, parsed.addr) : again.value.Address;
        ctx.resources.trackAddress(ctx.caller, pool.poolId, got);
        // Another address means the preference was ignored: ipam.preferred-address-honoured's concern.
        if (got === keep) ctx.fail(`after ReleaseAddress of ${r.what} (${r.req.Address}), the held ${keep} was handed out again`);
      }
    }
    await ctx.caller.tryCall('ReleasePool', { PoolID: `${pool.poolId}-cnmkit-unknown` }, t);
    const still = await ctx.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: '', Options: null }, t);
    if (!still.ok) ctx.fail(`after ReleasePool of an unknown PoolID, pool ${formatCidr(cidr)} no longer serves addresses: ${still.error.message}`);
  },
};
