/**
 * IPv6 at the sizes dockerd really uses: /64 pools (what `--ipv6` networks get),
 * preferred addresses far up a /64 (host offsets past 2^53 do not survive a JS
 * number or a float64), and automatic IPv6 pools (`V6: true, Pool: ""`, which
 * moby 27+ sends for `--ipv6` without a subnet).
 */
import { type Cidr, formatCidr, formatIp, overlaps, sizeOf } from '../cidr.js';
import type { Check, CheckContext } from '../types.js';
import { addressThroughBoth, type OpenPool } from './helpers.js';
import { poolName, Trail } from './probe-steps.js';

const TWO64 = 1n << 64n;

/** A /64 (or shorter) pool to test with: the /64 of this arena's IPv6 slots, or an IPv6 --subnet of /64 or shorter. */
function bigV6(ctx: CheckContext): Cidr | null {
  const arena = ctx.pools.next();
  if (arena.fixed) return arena.v6.find((c) => c.prefix <= 64) ?? null;
  const slot = arena.v6[0];
  return slot ? { family: 6, base: slot.base - (slot.base % TWO64), prefix: 64 } : null;
}

/** Host offsets where float64 rounding shows: just past 2^53, 2^60, 2^63, and the top of a /64 (not its all-ones address, which Docker 20.10 cannot allocate). */
const OFFSETS: readonly bigint[] = [(1n << 53n) + 1n, (1n << 60n) + 2n, (1n << 63n) + 7n, TWO64 - 2n];

const offsetText = (o: bigint): string => {
  for (const k of [64n, 63n, 60n, 53n]) {
    const d = o - (1n << k);
    if (d >= -2n && d <= 7n) return `2^${k}${d === 0n ? '' : d > 0n ? `+${d}` : `${d}`}`;
  }
  return o.toString();
};

export const ipv6LargeOffsets: Check = {
  id: 'ipam.ipv6-large-offsets',
  title: 'IPv6 /64 pools: addresses far up the pool are granted, held and released exactly',
  level: 'must',
  reason:
    'ipam-semantics.md §1.7/§6 (moby 28 addrset): a /64 is the usual --ipv6 subnet and --ip6 may name any address in it; an IPAM that holds host offsets as JS numbers/float64 rounds offsets past 2^53, so it grants another address than asked for, refuses a free one as in use, or frees a held address when its neighbour is released (two containers, one address). A refused preferred address is only noted (Docker 20.10 cannot allocate the all-ones address of a /64).',
  requires: ['ipam', 'ipv6'],
  async run(ctx: CheckContext) {
    const cidr = bigV6(ctx);
    if (cidr === null) ctx.skip('no IPv6 pool of /64 or shorter to test with (give an IPv6 --subnet of /64 or shorter)');
    const t = new Trail(ctx);
    const { pool, error } = await t.requestPool(cidr);
    if (!pool) ctx.skip(`RequestPool ${formatCidr(cidr)} refused (${error}): /64 pools not offered`);
    if (pool.cidr.family !== 6 || pool.cidr.prefix > 64) ctx.skip(`RequestPool ${formatCidr(cidr)} answered ${formatCidr(pool.cidr)} (ipam.request-pool-explicit's concern)`);
    const held: { addr: string; offset: bigint; step: number }[] = [];
    // Baseline at a small offset, where no float64 rounds: what fails here is another check's concern
    // (preferred addresses, CIDR answers, releases), not the size of the pool.
    const small = formatIp(6, pool.cidr.base + 0x1234n);
    const base = await t.requestAddress(pool, small, null, '(baseline, host offset 0x1234)');
    if (base.granted?.bare !== small) ctx.skip(`baseline RequestAddress ${small} (preferred) on ${poolName(pool)} ${base.granted ? `answered ${JSON.stringify(base.granted.text)}` : `refused (${base.error})`}: ipam.preferred-address-honoured's / ipam.address-cidr's concern`);
    const dup = await t.requestAddress(pool, small, null, '(baseline, held)');
    if (dup.granted?.bare === small) ctx.skip(`baseline RequestAddress ${small} (preferred) on ${poolName(pool)} granted twice: ipam.preferred-address-honoured's concern`);
    await t.releaseAddress(pool, formatIp(6, pool.cidr.base + 0x1235n), '(baseline, never handed out)');
    const kept = await t.requestAddress(pool, small, null, '(baseline, still held)');
    const neighbours = kept.granted?.bare !== small;
    if (!neighbours) ctx.note(`releasing a never-allocated neighbour of ${small} frees it even at a small offset (ipam.release-unknown-harmless's concern): neighbour releases not judged here`);
    await t.releaseAddress(pool, small, '(baseline)');
    const reuse = (await t.requestAddress(pool, small, null, '(baseline, released)')).granted?.bare === small;
    if (!reuse) ctx.note(`a released ${small} cannot be requested again even at a small offset (ipam.released-address-reusable's concern): re-requests after release not judged here`);
    // 1. Preferred addresses far up the pool: granted exactly, or refused.
    for (const offset of OFFSETS) {
      if (offset >= sizeOf(pool.cidr) - 1n) continue;
      const addr = formatIp(6, pool.cidr.base + offset);
      const stepAt = t.steps.length;
      const { granted, error: refused } = await t.requestAddress(pool, addr, null, `(host offset ${offsetText(offset)})`);
      if (granted === null) {
        ctx.note(`RequestAddress ${addr} (preferred, host offset ${offsetText(offset)}) on ${poolName(pool)} refused: ${refused}`);
        continue;
      }
      if (granted.bare !== addr) {
        t.fail(`RequestAddress ${addr} (preferred, host offset ${offsetText(offset)}) on ${poolName(pool)} answered ${JSON.stringify(granted.text)}, another address than asked for: host offsets past 2^53 lose precision (JS number / float64)`, [0, stepAt]);
      }
      held.push({ addr, offset, step: stepAt });
    }
    if (held.length === 0) ctx.skip(`every preferred address far up ${poolName(pool)} was refused (noted)`);
    // 2. Each held address: refused again, and still held after its never-allocated neighbours are released.
    for (const h of held) {
      const again = await t.requestAddress(pool, h.addr, null, '(held)');
      if (again.granted?.bare === h.addr) t.fail(`RequestAddress ${h.addr} (preferred, host offset ${offsetText(h.offset)}) on ${poolName(pool)} was granted twice`, [0, h.step, t.last]);
      for (const d of neighbours ? [1n, -1n] : []) {
        const n = pool.cidr.base + h.offset + d;
        const text = formatIp(6, n);
        if (held.some((x) => x.addr === text)) continue;
        await t.releaseAddress(pool, text, `(never handed out; next to ${h.addr})`);
        const after = await t.requestAddress(pool, h.addr, null, '(still held)');
        if (after.granted?.bare === h.addr) {
          // The case is the pool, the held address, the neighbour's release and the second grant.
          t.fail(
            `after ReleaseAddress ${text} (never handed out) on ${poolName(pool)}, RequestAddress ${h.addr} (preferred) was granted although ${h.addr} is still held: releasing the neighbour freed it (host offset ${offsetText(h.offset)} rounded as a float64), two containers get ${h.addr}`,
            [0, h.step, t.last - 1, t.last],
          );
        }
      }
    }
    // 3. Released exactly: each can be requested again.
    for (const h of reuse ? held : []) {
      await t.releaseAddress(pool, h.addr);
      const back = await t.requestAddress(pool, h.addr, null, '(released)');
      if (back.granted === null) t.fail(`after ReleaseAddress ${h.addr} on ${poolName(pool)}, RequestAddress ${h.addr} (preferred) was refused (${back.error}): the release freed another address (host offset ${offsetText(h.offset)})`, [0, h.step, t.last - 1, t.last]);
    }
  },
};

export const autoPoolV6: Check = {
  id: 'ipam.auto-pool-v6',
  title: 'Automatic IPv6 pools are IPv6 and never overlap held pools',
  level: 'must',
  reason:
    'protocol.md §2.3 (RequestPool) / §4.2, ipam-semantics.md §6 (moby 27+): `docker network create --ipv6` without an IPv6 subnet sends RequestPool V6=true, Pool ""; the reply must be an IPv6 CIDR (an IPv4 pool fails the network) and must not overlap a held pool, or two networks share addresses. Refusing (Docker 20.10 has no IPv6 defaults) is accepted; an overlap is accepted when no address comes out through both pools (per-address allocation).',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const t = new Trail(ctx);
    const held: { pool: OpenPool; address: string | null; steps: number[] }[] = [];
    // A held explicit IPv6 pool that automatic picks must avoid (the arena's /64, else its first slot).
    const big = ctx.capabilities.has('ipv6') ? bigV6(ctx) : null;
    const slot = ctx.capabilities.has('ipv6') ? ctx.pools.next().v6[0] : undefined;
    for (const c of [big, slot]) {
      if (!c) continue;
      const { pool } = await t.requestPool(c);
      if (!pool) continue;
      const at = t.last;
      const r = await t.requestAddress(pool);
      held.push({ pool, address: r.granted?.bare ?? null, steps: [at, t.last] });
      break;
    }
    for (let i = 0; i < 3; i++) {
      const before = t.steps.length;
      const { pool, error, answered, parsed } = await t.requestPool(null, { V6: true });
      if (!pool) {
        if (i === 0) ctx.note(`automatic IPv6 pools not offered: ${error}`);
        return;
      }
      const where = `automatic RequestPool (V6=true) answered Pool ${JSON.stringify(answered)} [PoolID ${pool.poolId}]`;
      if (!parsed) t.fail(`${where}, not a CIDR (dockerd fails with "invalid CIDR address")`, [before]);
      if (pool.cidr.family !== 6) t.fail(`${where}: an IPv4 pool for V6=true; dockerd configures it as the network's IPv6 subnet`, [before]);
      if (held.some((h) => h.pool.poolId === pool.poolId)) {
        ctx.note(`${where} again: identical automatic requests share one pool`);
        continue;
      }
      for (const h of held.filter((x) => overlaps(x.pool.cidr, pool.cidr))) {
        const twice = await addressThroughBoth(ctx, h.pool, pool, h.address);
        if (twice !== null) t.fail(`${where}, overlapping the pool ${poolName(h.pool)} still held, and ${twice}`, [...h.steps, before, t.note(twice)]);
        ctx.note(`${where}, overlapping the held pool ${poolName(h.pool)}: no address came out through both (per-address allocation)`);
      }
      const r = await t.requestAddress(pool);
      held.push({ pool, address: r.granted?.bare ?? null, steps: [before, t.last] });
    }
  },
};
