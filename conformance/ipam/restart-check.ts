/**
 * ipam.restart-keeps-allocations: the IPAM plugin restarted while dockerd runs.
 * dockerd re-sends nothing (protocol.md §4.7), so every pool and address held
 * before must still be held afterwards, and releases must still work.
 */
import { Options } from '../../src/protocol/constants.js';
import { contains, formatCidr, formatIp, parseIp } from '../cidr.js';
import { innerOf } from '../pools.js';
import { RestartFailed } from '../restart.js';
import type { Check, CheckContext } from '../types.js';
import { addressThroughBoth, POOL_HINT } from './helpers.js';
import { poolName, Trail } from './probe-steps.js';

export const restartKeepsAllocations: Check = {
  id: 'ipam.restart-keeps-allocations',
  title: 'A restarted IPAM still holds its pools and addresses, and releases still work',
  level: 'must',
  reason:
    'protocol.md §4.7: a plugin restart while dockerd runs gets nothing re-sent, and a plugin that loses its state breaks the networks that exist (`IpamDriver.RequestAddress: unknown pool`), and an IPAM that forgets its allocations hands an address still in use to a new container (moby#27404-style duplicates). Runs for every target the checker can restart (--restart-cmd, --image, --reference, a managed --plugin).',
  requires: ['ipam'],
  budgetMs: 90_000,
  async run(ctx: CheckContext) {
    const restart = ctx.restartPlugin;
    if (restart === null) ctx.skip('needs --restart-cmd, or --image/--reference/a managed --plugin');
    const t = new Trail(ctx);
    const cidr = ctx.pools.next().v4[0];
    if (!cidr) ctx.skip('no IPv4 pool to test with (give an IPv4 --subnet)');
    const { pool, error } = await t.requestPool(cidr);
    if (!pool) ctx.skip(`precondition: RequestPool ${formatCidr(cidr)} refused (${error}); ${POOL_HINT}`);
    // What a network holds: its gateway, two containers, one --ip.
    const held = new Map<string, string>();
    const heldStep = new Map<string, number>();
    const take = async (preferred: string, options: Record<string, string> | null, what: string): Promise<void> => {
      const r = await t.requestAddress(pool, preferred, options, what);
      if (r.granted?.bare && r.granted.value !== null && contains(pool.cidr, pool.cidr.family, r.granted.value)) {
        held.set(r.granted.bare, what);
        heldStep.set(r.granted.bare, t.last);
      }
    };
    await take('', { [Options.RequestAddressType]: Options.Gateway }, '(the gateway)');
    await take('', null, '(container c1)');
    await take('', null, '(container c2)');
    const fixed = formatIp(pool.cidr.family, pool.cidr.base + 9n);
    if (!held.has(fixed)) await take(fixed, null, '(container c3, --ip)');
    if (held.size === 0) ctx.skip(`precondition: no address could be allocated in ${poolName(pool)}`);
    const restartStep = t.note(`restart the plugin${ctx.config.restartCmd !== null ? `: ${ctx.config.restartCmd.join(' ')}` : ''}`);
    try {
      await restart();
    } catch (e) {
      if (!(e instanceof RestartFailed)) throw e;
      if (e.message.startsWith('--restart-cmd failed')) ctx.skip(e.message);
      t.fail(e.message);
    }
    // 1. Every address held before is refused when asked for again.
    for (const [a, what] of held) {
      const r = await t.requestAddress(pool, a, null, `(held before the restart by ${what.slice(1, -1)})`);
      if (r.granted?.bare === a) t.fail(`after the restart RequestAddress ${a} (preferred) on ${poolName(pool)} was granted although ${a} is still held ${what}: the IPAM forgot its allocations`, [0, heldStep.get(a)!, restartStep, t.last]);
    }
    // 2. The pool still serves, and automatic requests until it is full never return a held address.
    for (let i = 0; i < 300; i++) {
      const r = await t.requestAddress(pool);
      if (r.granted === null) {
        if (i === 0) t.fail(`after the restart RequestAddress on ${poolName(pool)}, a pool held before the restart, was refused (${r.error}): the IPAM forgot its pools, so every container start on that network fails`, [0, restartStep, t.last]);
        break;
      }
      const bare = r.granted.bare;
      if (bare !== null && held.has(bare)) t.fail(`after the restart RequestAddress (automatic) on ${poolName(pool)} returned ${bare}, still held ${held.get(bare)}: two containers get ${bare}`, [0, heldStep.get(bare)!, restartStep, t.last]);
    }
    // 3. An overlapping explicit pool is still refused, or never shares an address (per-address allocation).
    const inner = innerOf(pool.cidr);
    if (inner) {
      const { pool: over } = await t.requestPool(inner);
      if (over) {
        const firstHeld = [...held.keys()].find((a) => {
          const ip = parseIp(a);
          return ip !== null && contains(inner, ip.family, ip.value);
        });
        const twice = await addressThroughBoth(ctx, pool, over, firstHeld ?? null);
        if (twice !== null) t.fail(`after the restart RequestPool ${formatCidr(inner)}, inside ${poolName(pool)} held before the restart, was granted [PoolID ${over.poolId}], and ${twice}: the IPAM forgot its pools`);
        ctx.note(`after the restart an overlapping RequestPool ${formatCidr(inner)} was granted; no address came out through both (per-address allocation)`);
        await t.releasePool(over);
      }
    }
    // 4. Releases still work: an address held before is free after its release, the pool can be given back and requested again.
    const [one] = [...held.keys()];
    if (one !== undefined) {
      const ok = await t.releaseAddress(pool, one, '(held before the restart)');
      const back = await t.requestAddress(pool, one, null, '(released)');
      if (back.granted?.bare !== one) t.fail(`after the restart ReleaseAddress ${one} on ${poolName(pool)} ${ok ? 'was accepted' : 'was refused'}, and RequestAddress ${one} (preferred) then ${back.granted ? `answered ${back.granted.text}` : `was refused (${back.error})`}: releases of addresses held before the restart do not free them`);
    }
    // docker network rm: every address, then the pool; then the subnet must be grantable again.
    t.note(`release every address of ${poolName(pool)}, then the pool (docker network rm)`);
    const refused = (await ctx.resources.cleanup()).filter((l) => l.detail.startsWith('release failed'));
    if (refused.length > 0) t.fail(`after the restart the plugin refused releases of what it handed out before: ${refused.map((l) => `${l.kind} ${l.id}: ${l.detail}`).join('; ')}`);
    const again = await t.requestPool(pool.cidr);
    if (!again.pool) t.fail(`after the restart and the release of ${poolName(pool)}, RequestPool ${formatCidr(pool.cidr)} was refused (${again.error}): a pool held before the restart cannot be given back`);
  },
};
