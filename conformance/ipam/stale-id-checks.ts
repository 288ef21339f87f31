/**
 * Stale and foreign PoolIDs, pools released while addresses are held, and
 * preferred addresses that are no address of the pool. dockerd keeps the PoolID
 * of every network and retries releases (protocol.md §1.5: 0, 1, 3, 7, 15 s), so
 * a release can carry a PoolID that meanwhile names something else; rollbacks
 * release pools whose addresses were never released (protocol.md §4.2).
 */
import { Options } from '../../src/protocol/constants.js';
import { type Cidr, contains, formatCidr, formatIp, lastOf, parseIp, sameCidr } from '../cidr.js';
import { outerOf } from '../pools.js';
import type { Check, CheckContext } from '../types.js';
import { type OpenPool, POOL_HINT } from './helpers.js';
import { poolName, Trail } from './probe-steps.js';

/** Open `cidr` through the trail, or skip (another check owns a refused pool). */
async function needPool(t: Trail, ctx: CheckContext, cidr: Cidr | undefined): Promise<OpenPool> {
  if (!cidr) ctx.skip('not enough pools to test with (give more --subnet)');
  const { pool, error } = await t.requestPool(cidr);
  if (!pool) ctx.skip(`precondition: RequestPool ${formatCidr(cidr)} refused (${error}); ${POOL_HINT}`);
  return pool;
}

/** A free address of `pool` other than `avoid` (offsets from the top, where few allocators start). */
function spareAddress(pool: OpenPool, avoid: ReadonlySet<string>): string {
  for (let off = 3n; ; off++) {
    const v = lastOf(pool.cidr) - off;
    const text = formatIp(pool.cidr.family, v);
    if (!avoid.has(text) || v <= pool.cidr.base + 1n) return text;
  }
}

export const foreignPoolRelease: Check = {
  id: 'ipam.foreign-pool-release-harmless',
  title: "ReleaseAddress with another live pool's PoolID frees nothing in the pool holding the address",
  level: 'should',
  reason:
    "protocol.md §1.5 / §2.3 (ReleaseAddress): dockerd releases an address with the PoolID it got it from, but a retried or late release can carry a PoolID that names another pool by then (a reissued or stale id); an IPAM that frees the address wherever it lives gives it to a second container. A per-address allocator that serves any of its addresses through any PoolID (Calico: preferred addresses of one pool granted through another) frees by address by design: noted. Not a must: dockerd sends such a release only after an id was reissued or a retry came late.",
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const t = new Trail(ctx);
    const arena = ctx.pools.next();
    const a = await needPool(t, ctx, arena.v4[0]);
    const b = await needPool(t, ctx, arena.v4[1]);
    const { granted } = await t.requestAddress(a);
    if (!granted?.bare) ctx.skip(`precondition: no address could be allocated in ${poolName(a)}`);
    const held = granted.bare;
    await t.releaseAddress(b, held, `(held in ${formatCidr(a.cidr)}, sent with the PoolID of ${formatCidr(b.cidr)})`);
    const again = await t.requestAddress(a, held);
    if (again.granted?.bare !== held) return;
    const example = t.example();
    // Design probe: does this plugin hand out addresses of one pool through another pool's PoolID?
    const probeAddr = spareAddress(a, new Set([held]));
    const cross = await t.requestAddress(b, probeAddr, null, `(an address of ${formatCidr(a.cidr)})`);
    if (cross.granted?.bare === probeAddr) {
      ctx.note(`RequestAddress ${probeAddr} of ${poolName(a)} through the PoolID of ${poolName(b)} was granted: addresses are not owned by pools (per-address allocator), so a release by address alone is its design`);
      return;
    }
    ctx.fail(
      `ReleaseAddress ${held} sent with the PoolID of ${poolName(b)} freed ${held} in ${poolName(a)}, where it is still allocated: RequestAddress ${held} (preferred) on ${poolName(a)} was granted again, so two containers get ${held}`,
      example,
    );
  },
};

export const poolIdNotReissued: Check = {
  id: 'ipam.pool-id-not-reissued',
  title: 'A released PoolID is not reissued for a different subnet',
  level: 'should',
  reason:
    "protocol.md §1.5/§4.4/§4.6: dockerd retries ReleaseAddress/ReleasePool for up to 15 s and keeps a network's PoolID; if the id of a released pool is handed out again for another subnet, a late release of the old network frees an address (or the whole pool) of the new one. Docker's ids are <space>/<subnet>: the same id again for the same subnet is fine. Not a must: it takes a late retry to do harm.",
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const t = new Trail(ctx);
    const arena = ctx.pools.next();
    const first = await needPool(t, ctx, arena.v4[0]);
    const { granted } = await t.requestAddress(first);
    const old = granted?.bare ?? null;
    if (old !== null) await t.releaseAddress(first, old);
    if (!(await t.releasePool(first))) ctx.skip(`precondition: ReleasePool ${poolName(first)} refused`);
    // Another subnet: the one enclosing the old pool first (a late release of an old address then hits a live one).
    const candidates = [outerOf(first.cidr), ...arena.v4.slice(1)].filter((c): c is Cidr => c !== null && !sameCidr(c, first.cidr));
    for (const c of candidates) {
      const { pool } = await t.requestPool(c);
      if (!pool) continue;
      if (pool.poolId !== first.poolId || sameCidr(pool.cidr, first.cidr)) return;
      let harm = '';
      const ip = old === null ? null : parseIp(old);
      if (old !== null && ip !== null && contains(pool.cidr, ip.family, ip.value)) {
        // What dockerd's late retry of the old network's release does to the new network.
        const taken = await t.requestAddress(pool, old, null, '(a container of the new network)');
        if (taken.granted?.bare === old) {
          await t.releaseAddress(first, old, `(dockerd's late retry for the old network ${formatCidr(first.cidr)})`);
          const twice = await t.requestAddress(pool, old, null, '(another container)');
          if (twice.granted?.bare === old) harm = `; a late ReleaseAddress ${old} of the old network then freed it in the new pool and ${old} was granted twice`;
        }
      }
      t.fail(`PoolID ${JSON.stringify(first.poolId)} of the released pool ${formatCidr(first.cidr)} was reissued for ${formatCidr(pool.cidr)}: releases dockerd still retries for the old network now reach the new one${harm}`);
    }
  },
};

export const releasedPoolStartsEmpty: Check = {
  id: 'ipam.released-pool-starts-empty',
  title: 'A pool released with addresses still held comes back empty',
  level: 'should',
  reason:
    "protocol.md §4.2 rollback table: a failing aux-address or IPv6 step makes dockerd send ReleasePool without releasing the gateway/aux addresses; Docker then destroys the pool's bitmap (ipam-semantics.md §1.9, D31), so the same subnet requested again starts empty. An IPAM that gives the new pool the old allocations makes `docker network create --gateway`/`--aux-address` (and --ip) fail with \"in use\" for good. Designs whose addresses outlive pools (ReleasePool a no-op: the released PoolID still serves; or a per-address allocator that grants an identical pool) are noted, not failed.",
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const t = new Trail(ctx);
    const cidr = ctx.pools.next().v4[0];
    const pool = await needPool(t, ctx, cidr);
    const held: string[] = [];
    const grantStep = new Map<string, number>();
    const gw = await t.requestAddress(pool, '', { [Options.RequestAddressType]: Options.Gateway }, '(gateway)');
    if (gw.granted?.bare) held.push(gw.granted.bare);
    if (gw.granted?.bare) grantStep.set(gw.granted.bare, t.last);
    for (let i = 0; i < 2; i++) {
      const r = await t.requestAddress(pool);
      if (r.granted?.bare) held.push(r.granted.bare);
      if (r.granted?.bare) grantStep.set(r.granted.bare, t.last);
    }
    if (held.length === 0) ctx.skip(`precondition: no address could be allocated in ${poolName(pool)}`);
    // The rollback: ReleasePool with every address still allocated.
    if (!(await t.releasePool(pool))) ctx.skip(`precondition: ReleasePool ${poolName(pool)} refused`);
    const releaseStep = t.last;
    for (const a of held) ctx.resources.forgetAddress(pool.poolId, a);
    const { pool: again, error } = await t.requestPool(pool.cidr);
    const againStep = t.last;
    if (!again) ctx.skip(`RequestPool ${formatCidr(pool.cidr)} refused after its ReleasePool (${error}): ipam.released-pool-reusable's concern`);
    const stuck: string[] = [];
    let stuckStep = -1;
    for (const a of held) {
      const r = await t.requestAddress(again, a, null, `(held in the released pool [PoolID ${pool.poolId}])`);
      if (r.granted?.bare === a) continue;
      if (stuck.length === 0) stuckStep = t.last;
      stuck.push(a);
    }
    if (stuck.length === 0) return;
    // The shrunk case: the pool, one address, the ReleasePool, the same subnet again, that address refused.
    const example = t.pick([0, grantStep.get(stuck[0]!) ?? -1, releaseStep, againStep, stuckStep]);
    // Design probes: addresses that outlive pools by design.
    const stale = await t.requestAddress(pool, '', null, '(the released PoolID)');
    if (stale.granted !== null) {
      ctx.note(`the released PoolID ${pool.poolId} still serves addresses: ReleasePool keeps no state in this design, so addresses held at ReleasePool stay allocated (${stuck.join(', ')}; a leak on dockerd's rollback paths)`);
      return;
    }
    const twin = await t.requestPool(pool.cidr);
    if (twin.pool !== null && twin.pool.poolId !== again.poolId) {
      ctx.note(`an identical RequestPool ${formatCidr(pool.cidr)} is granted with a new PoolID: addresses are owned by a per-address allocator, not by pools, so ${stuck.join(', ')} stay allocated after ReleasePool (a leak on dockerd's rollback paths)`);
      return;
    }
    ctx.fail(
      `after ReleasePool ${poolName(pool)} with ${held.join(', ')} still allocated, the same subnet requested again ${poolName(again)} still holds ${stuck.join(', ')}: the old network's allocations came back (Docker starts the pool empty), so --gateway/--ip ${stuck[0]} on the new network fails`,
      example,
    );
  },
};

/** Text that is no IPv4 address Go's net.ParseIP takes, built around `c`'s base. */
function malformedNear(c: Cidr): string[] {
  if (c.family === 6) {
    const base = formatIp(6, c.base + 3n);
    return [`${base}:g`, `${base}/${c.prefix}`, 'foo', `${base}::1`];
  }
  const [a, b, d, e] = formatIp(4, c.base + 3n).split('.');
  return [`${a}.${b}.${d}`, `${a}.${b}.${d}.300`, 'foo', `${a}.${b}.${d}.${e}/${c.prefix}`];
}

/** An address of `c`'s family outside every pool the arena knows (next to `c` when free, else a documentation range). */
function outsideAll(c: Cidr, all: readonly Cidr[]): string {
  const size = lastOf(c) - c.base + 1n;
  const candidates = c.family === 4 ? [lastOf(c) + 2n, c.base - size + 2n, 0xc0000200n + 77n] : [lastOf(c) + 2n, c.base - size + 2n, (0x20010db8n << 96n) + 77n];
  for (const v of candidates) if (v > 0n && !all.some((p) => contains(p, c.family, v))) return formatIp(c.family, v);
  return formatIp(c.family, candidates[candidates.length - 1]!);
}

export const preferredAddressValidated: Check = {
  id: 'ipam.preferred-address-validated',
  title: 'A malformed, outside or other-family preferred address is refused, never granted',
  level: 'should',
  reason:
    'ipam-semantics.md §2.2 step 4 / §1.10: Docker refuses a preferred address outside the pool ("Requested address is out of range"). dockerd 20.10-24 passes --gateway to the IPAM without checking it lies in the subnet (the API checks only since v25), and configures whatever address comes back: an address outside the pool (or of the other family, or text that is no address) becomes the bridge gateway or a container address off the subnet. Sent as the gateway request dockerd makes for --gateway. Not a must: dockerd never sends malformed text, --ip/--aux-address are checked by dockerd, and v25+ checks --gateway too. Another address of the pool instead (the preference ignored) is noted.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const t = new Trail(ctx);
    const arena = ctx.pools.next();
    const pools: OpenPool[] = [await needPool(t, ctx, arena.v4[0])];
    const poolSteps = new Map<OpenPool, number>([[pools[0]!, 0]]);
    const v6 = arena.v6[0];
    if (v6 && ctx.capabilities.has('ipv6')) {
      const { pool } = await t.requestPool(v6);
      if (pool) {
        pools.push(pool);
        poolSteps.set(pool, t.last);
      }
    }
    const all = [...arena.v4, ...arena.v6];
    for (const pool of pools) {
      const other = pool.cidr.family === 4 ? '2001:db8::3' : '192.0.2.3';
      const cases = [...malformedNear(pool.cidr).map((x) => ({ addr: x, what: 'malformed' })), { addr: outsideAll(pool.cidr, all), what: 'outside the pool' }, { addr: other, what: 'of the other family' }];
      for (const c of cases) {
        const before = t.steps.length;
        // As dockerd 20.10-24 sends `--gateway`: the one path where such an address reaches the IPAM.
        const { granted } = await t.requestAddress(pool, c.addr, { [Options.RequestAddressType]: Options.Gateway }, `(gateway, ${c.what})`);
        if (granted === null) continue;
        if (granted.value !== null && granted.family === pool.cidr.family && contains(pool.cidr, granted.family, granted.value)) {
          ctx.note(`RequestAddress ${JSON.stringify(c.addr)} (preferred gateway, ${c.what}) on ${poolName(pool)} answered ${granted.text}, another address of the pool: the preference was ignored`);
          continue;
        }
        // Only the pool's request and this call make the case.
        t.fail(
          `RequestAddress ${JSON.stringify(c.addr)} (preferred gateway, ${c.what}) on ${poolName(pool)} was granted as ${JSON.stringify(granted.text)}${granted.value === null ? ', which is no CIDR' : `, not an address of ${formatCidr(pool.cidr)}`}: dockerd would configure it as the network's gateway`,
          [poolSteps.get(pool)!, before],
        );
      }
    }
  },
};
