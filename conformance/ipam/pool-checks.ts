/** Deterministic pool checks: identical and automatic requests, sub-pools, unknown IDs, options. */
import { Options } from '../../src/protocol/constants.js';
import { type Cidr, contains, formatCidr, formatIp, overlaps, parseCidr, parseCidrWithAddress, parseIp } from '../cidr.js';
import { subPoolOf } from '../pools.js';
import type { Check, CheckContext } from '../types.js';
import { type OpenPool, POOL_HINT, addressThroughBoth, bareAddress, openPool, poolRequest, requireAddress, takeAddress, v4Pool } from './helpers.js';

export const identicalPoolRequest: Check = {
  id: 'ipam.identical-pool-request',
  title: 'An identical RequestPool is refused or shares the pool',
  level: 'must',
  reason:
    'libnetwork\'s docs/ipam.md says identical requests may return the same pool (reference counted); Docker refuses them (ipam-semantics.md §1.4); a per-address allocator may grant them. All fine, unless an address then really comes out through both pools (two networks, one address).',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const cidr = v4Pool(ctx);
    const first = await openPool(ctx, cidr);
    const req = poolRequest(ctx, cidr);
    const again = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
    if (!again.ok) return;
    ctx.resources.trackPool(ctx.caller, again.value.PoolID, req);
    const second: OpenPool = { poolId: again.value.PoolID, cidr: parseCidr(again.value.Pool) ?? cidr };
    ctx.note(
      `identical RequestPool ${formatCidr(cidr)} accepted (${again.value.PoolID === first.poolId ? `the same PoolID ${first.poolId}` : `PoolIDs ${first.poolId} and ${again.value.PoolID}`}); Docker refuses it`,
    );
    const target = formatIp(4, cidr.base + 5n);
    await requireAddress(ctx, first, target);
    const twice = await addressThroughBoth(ctx, first, second, target);
    if (twice !== null) ctx.fail(`RequestPool ${formatCidr(cidr)} was granted twice, and ${twice}`);
  },
};

/** CIDRs named inside a PoolID text (e.g. "LocalDefault/10.0.0.0/24", "stateless:10.199.0.0/28"). */
function subnetsNamedIn(poolId: string): Cidr[] {
  const out: Cidr[] = [];
  for (const m of poolId.matchAll(/[0-9A-Fa-f:.]+\/\d{1,3}/g)) {
    // The match may start inside a word ("stateless:10.0.0.0/24"): take its longest suffix that parses.
    for (let i = 0; i < m[0].length; i++) {
      const c = parseCidr(m[0].slice(i));
      if (c) {
        out.push(c);
        break;
      }
    }
  }
  return out;
}

export const unknownPoolRefused: Check = {
  id: 'ipam.unknown-pool-refused',
  title: 'RequestAddress on an unknown PoolID is refused (or served from the subnet it names)',
  level: 'should',
  reason:
    'ipam-semantics.md §2.2 step 3: an unknown pool is NotFound. dockerd only sends PoolIDs it got from RequestPool; an unknown one reaches the plugin after it lost its state (protocol.md §4.7), and an address answered from nowhere is untracked. Not a must, since dockerd never makes PoolIDs up. A stateless IPAM that rebuilds the pool from a PoolID naming its subnet serves it correctly (noted).',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const t = { timeoutMs: ctx.config.timeoutMs };
    const ids: { poolId: string; what: string }[] = [
      { poolId: `${ctx.addressSpaces.local}/10.199.255.0/24`, what: 'never requested' },
      { poolId: 'cnmkit-no-such-pool', what: 'never requested' },
      { poolId: '', what: 'empty' },
    ];
    // The PoolID of a pool already released: what dockerd holds after the plugin forgot the pool.
    const cidr = ctx.pools.next().v4[0];
    if (cidr) {
      const req = poolRequest(ctx, cidr);
      const out = await ctx.caller.tryCall('RequestPool', req, t);
      if (out.ok) {
        await ctx.caller.tryCall('ReleasePool', { PoolID: out.value.PoolID }, t);
        ids.push({ poolId: out.value.PoolID, what: `of ${formatCidr(cidr)}, released` });
      }
    }
    for (const { poolId, what } of ids) {
      const out = await ctx.caller.tryCall('RequestAddress', { PoolID: poolId, Address: '', Options: null }, t);
      if (!out.ok) continue;
      const bare = bareAddress(out.value.Address);
      ctx.resources.trackAddress(ctx.caller, poolId, bare);
      const ip = parseIp(bare);
      const named = subnetsNamedIn(poolId).find((c) => ip !== null && contains(c, ip.family, ip.value));
      if (named) {
        ctx.note(`RequestAddress on PoolID ${JSON.stringify(poolId)} (${what}) answered ${out.value.Address}, inside the subnet ${formatCidr(named)} the PoolID names: a pool rebuilt from its PoolID (stateless design)`);
        continue;
      }
      ctx.fail(`RequestAddress on PoolID ${JSON.stringify(poolId)} (${what}) answered ${JSON.stringify(out.value.Address)} instead of an error, an address of no pool dockerd holds`);
    }
  },
};

export const requestOptionsTolerated: Check = {
  id: 'ipam.request-options-tolerated',
  title: 'Every option shape dockerd sends is accepted',
  level: 'must',
  reason:
    'protocol.md §2.3 (RequestPool, RequestAddress): a local network sends RequestPool Options = --ipam-opt ({} without), then the gateway marker, then endpoints with Options null, the MAC option (RequiresMACAddress), the v29 endpoint name, serial=true (swarm). With that baseline granted, refusing one of the other shapes breaks the matching docker command. RequestPool Options null comes only from the swarm allocator (global scope): a note.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const t = { timeoutMs: ctx.config.timeoutMs };
    const arena = ctx.pools.next();
    const c1 = arena.v4[0];
    if (!c1) ctx.skip('no IPv4 pool to test with');
    // Baseline: the RequestPool dockerd sends for `docker network create --subnet` (Options = --ipam-opt or {}).
    const base = poolRequest(ctx, c1);
    const granted = await ctx.caller.tryCall('RequestPool', base, t);
    if (!granted.ok) ctx.skip(`baseline RequestPool ${formatCidr(c1)} with Options ${JSON.stringify(base.Options)}, as dockerd sends it, refused (${granted.error.message}); ${POOL_HINT}`);
    ctx.resources.trackPool(ctx.caller, granted.value.PoolID, base);
    const pool: OpenPool = { poolId: granted.value.PoolID, cidr: parseCidr(granted.value.Pool) ?? c1 };
    const name = `${formatCidr(pool.cidr)} [PoolID ${pool.poolId}]`;
    // The gateway request comes first, and only when the pool Data carried no gateway (protocol.md §4.1).
    let gatewayRefusal: string | null = null;
    if (!granted.value.Data?.[Options.Gateway]) {
      const gw = await ctx.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: '', Options: { [Options.RequestAddressType]: Options.Gateway } }, t);
      if (gw.ok) ctx.resources.trackAddress(ctx.caller, pool.poolId, bareAddress(gw.value.Address));
      else gatewayRefusal = gw.error.message;
    }
    // Baseline address: an endpoint as 20.10 sends it (Options null).
    const endpoint = await ctx.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: '', Options: null }, t);
    if (!endpoint.ok) ctx.skip(`baseline RequestAddress on ${name} with Options null, as dockerd sends it for an endpoint, refused (${endpoint.error.message}); see ipam.gateway-request and the model checks`);
    ctx.resources.trackAddress(ctx.caller, pool.poolId, bareAddress(endpoint.value.Address));
    if (gatewayRefusal) ctx.fail(`gateway RequestAddress on ${name} with Options ${JSON.stringify({ [Options.RequestAddressType]: Options.Gateway })} refused while an endpoint request (Options null) is granted: ${gatewayRefusal}`);
    const shapes: Record<string, string>[] = [{}, { [Options.MacAddress]: '02:42:0a:c7:00:07' }, { [Options.Serial]: 'true' }, { [Options.EndpointName]: 'cnmkit-check' }];
    for (const opt of shapes) {
      const out = await ctx.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: '', Options: opt }, t);
      if (!out.ok) ctx.fail(`RequestAddress on ${name} with Options ${JSON.stringify(opt)} refused while the same request with Options null is granted: ${out.error.message}`);
      ctx.resources.trackAddress(ctx.caller, pool.poolId, bareAddress(out.value.Address));
    }
    // The swarm allocator's shape (global scope only): reported, not failed.
    const c2 = arena.v4[1];
    if (c2) {
      const swarm = { ...poolRequest(ctx, c2), Options: null };
      const out = await ctx.caller.tryCall('RequestPool', swarm, t);
      if (out.ok) ctx.resources.trackPool(ctx.caller, out.value.PoolID, swarm);
      else ctx.note(`RequestPool ${formatCidr(c2)} with Options null (the swarm allocator's shape, global scope only) refused: ${out.error.message}`);
    }
  },
};

export const subPoolWithoutPool: Check = {
  id: 'ipam.subpool-without-pool-refused',
  title: 'SubPool without Pool is refused',
  level: 'should',
  reason: 'protocol.md §2.3 (RequestPool), after libnetwork\'s docs/ipam.md: an empty Pool with a non-empty SubPool should be refused; Docker answers Invalid Address SubPool (ipam-semantics.md §1.5).',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const cidr = v4Pool(ctx);
    const req = poolRequest(ctx, null, { SubPool: formatCidr(cidr) });
    const out = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
    if (out.ok) {
      ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
      ctx.fail(`RequestPool with SubPool ${formatCidr(cidr)} and no Pool was granted (Pool ${JSON.stringify(out.value.Pool)} [PoolID ${out.value.PoolID}])`);
    }
  },
};

export const autoPool: Check = {
  id: 'ipam.auto-pool',
  title: 'Automatic pools are valid and never overlap held pools',
  level: 'must',
  reason:
    'protocol.md §2.3 (RequestPool): `docker network create` without --subnet sends Pool ""; the reply Pool must parse as a CIDR, and a pool overlapping another network duplicates addresses. Plugins that only serve explicit pools may refuse (accepted).',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const t = { timeoutMs: ctx.config.timeoutMs };
    const held: { pool: OpenPool; address: string | null }[] = [];
    // An explicit pool is held too: automatic picks must avoid it (ipam-semantics.md §1.3 step 3).
    const explicit = ctx.pools.next().v4[0];
    if (explicit) {
      const req = poolRequest(ctx, explicit);
      const out = await ctx.caller.tryCall('RequestPool', req, t);
      if (out.ok) {
        ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
        const pool = { poolId: out.value.PoolID, cidr: parseCidr(out.value.Pool) ?? explicit };
        held.push({ pool, address: await takeAddress(ctx, pool) });
      }
    }
    for (let i = 0; i < 3; i++) {
      const req = poolRequest(ctx, null);
      const out = await ctx.caller.tryCall('RequestPool', req, t);
      if (!out.ok) {
        if (i === 0) ctx.note(`automatic pools not offered: ${out.error.message}`);
        return;
      }
      ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
      const where = `automatic RequestPool answered Pool ${JSON.stringify(out.value.Pool)} [PoolID ${out.value.PoolID}]`;
      const c = parseCidr(out.value.Pool);
      if (!c) ctx.fail(`${where}, not a CIDR (dockerd fails with "invalid CIDR address")`);
      if (c.family !== 4) ctx.fail(`${where}: an IPv6 pool for V6=false`);
      const pool: OpenPool = { poolId: out.value.PoolID, cidr: c };
      if (held.some((h) => h.pool.poolId === pool.poolId)) {
        ctx.note(`${where} again: identical automatic requests share one pool`);
        continue;
      }
      for (const h of held.filter((x) => overlaps(x.pool.cidr, c))) {
        // Overlap harms only when an address really comes out through both (a per-address allocator never does that).
        const twice = await addressThroughBoth(ctx, h.pool, pool, h.address);
        if (twice !== null) ctx.fail(`${where}, overlapping the pool ${formatCidr(h.pool.cidr)} [PoolID ${h.pool.poolId}] still held, and ${twice}`);
        ctx.note(`${where}, overlapping the held pool ${formatCidr(h.pool.cidr)}: no address came out through both (per-address allocation)`);
      }
      held.push({ pool, address: await takeAddress(ctx, pool) });
    }
  },
};

export const subPoolGranted: Check = {
  id: 'ipam.subpool-request',
  title: 'A pool with SubPool (--ip-range) is granted as the master pool',
  level: 'should',
  reason: 'ipam-semantics.md §1.5 / protocol.md §2.3 (RequestPool): `--ip-range` sends SubPool; the reply Pool is the master subnet, and automatic addresses come from the sub-pool (checked by ipam.address-in-subpool).',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const cidr = v4Pool(ctx);
    const sub = subPoolOf(cidr);
    if (!sub) ctx.skip('pool too small for a sub-pool');
    const req = poolRequest(ctx, cidr, { SubPool: formatCidr(sub) });
    const out = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
    // Refusing --ip-range fails `docker network create --ip-range` with the plugin's message: a missing feature, not a break.
    if (!out.ok) ctx.skip(`RequestPool ${formatCidr(cidr)} with SubPool ${formatCidr(sub)} refused (--ip-range not offered): ${out.error.message}`);
    ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
    const got = parseCidr(out.value.Pool);
    if (!got || formatCidr(got) !== formatCidr(cidr)) {
      ctx.fail(`RequestPool ${formatCidr(cidr)} with SubPool ${formatCidr(sub)} answered Pool ${JSON.stringify(out.value.Pool)} [PoolID ${out.value.PoolID}]; dockerd expects the master ${formatCidr(cidr)}`);
    }
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
    if (!out.ok) ctx.fail(`RequestPool ${formatCidr(cidr)} in ${global} refused while it is held in ${local} [PoolID ${a.poolId}]: ${out.error.message}`);
    ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
    if (out.value.PoolID === a.poolId) ctx.fail(`the pools of ${formatCidr(cidr)} in ${local} and ${global} have the same PoolID ${JSON.stringify(a.poolId)}`);
    const ip = formatIp(4, cidr.base + 3n);
    await requireAddress(ctx, a, ip);
    if ((await takeAddress(ctx, { poolId: out.value.PoolID, cidr }, ip)) === null) ctx.fail(`RequestAddress ${ip} (preferred) on ${formatCidr(cidr)} [PoolID ${out.value.PoolID}] in ${global} refused after ${ip} was taken on [PoolID ${a.poolId}] in ${local}: the spaces share state`);
  },
};

export const releaseUnknownHarmless: Check = {
  id: 'ipam.release-unknown-harmless',
  title: 'Releasing unknown pools or addresses changes nothing',
  level: 'must',
  reason:
    'protocol.md §2.3 (ReleaseAddress) / §4.2-4.4: dockerd releases during rollbacks and retries, also things that were never allocated; success or an error are both fine (ipam-semantics.md §2.4), but the release must not free anything else.',
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
    ];
    // Not sent: the held address through an unknown PoolID. dockerd releases an address only through the pool
    // it got it from, and a per-address allocator (Calico) rightly frees it whatever the PoolID says.
    for (const r of releases) {
      await ctx.caller.tryCall('ReleaseAddress', r.req, t);
      const again = await ctx.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: keep, Options: null }, t);
      if (again.ok) {
        const parsed = parseCidrWithAddress(again.value.Address);
        const got = parsed ? formatIp(parsed.cidr.family, parsed.addr) : again.value.Address;
        ctx.resources.trackAddress(ctx.caller, pool.poolId, got);
        // Another address means the preference was ignored: ipam.preferred-address-honoured's concern.
        if (got === keep) ctx.fail(`after ReleaseAddress ${r.req.Address} (${r.what}) on ${formatCidr(cidr)} [PoolID ${pool.poolId}], RequestAddress ${keep} (preferred) was granted although ${keep} was still allocated`);
      }
    }
    await ctx.caller.tryCall('ReleasePool', { PoolID: `${pool.poolId}-cnmkit-unknown` }, t);
    const still = await ctx.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: '', Options: null }, t);
    if (!still.ok) ctx.fail(`after ReleasePool of the unknown PoolID ${pool.poolId}-cnmkit-unknown, RequestAddress on ${formatCidr(cidr)} [PoolID ${pool.poolId}] is refused: ${still.error.message}`);
  },
};
