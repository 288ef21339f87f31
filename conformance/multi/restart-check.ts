/**
 * One instance fails and comes back while the others serve (a host reboots, the
 * plugin on one node is upgraded): what every host held before and during the
 * outage is still held everywhere afterwards, and the restarted instance still
 * serves the shared pools.
 */
import { formatCidr, formatIp, usableCount } from '../cidr.js';
import { RestartFailed } from '../restart.js';
import type { Check, CheckContext } from '../types.js';
import { requireGlobalSpaces } from './global-space.js';
import { firstAddressOn, type MultiTargets, openGlobalPool, SHARED_STORE_HINT, sharedCidr, unknownPoolMessage, withCluster } from './shared-pool-checks.js';
import { Story } from './steps.js';

export function restartOneInstanceCheck(targets: MultiTargets): Check {
  return {
    id: 'multi.restart-one-instance',
    title: 'An instance killed and restarted while the others serve keeps every shared pool and allocation',
    level: 'must',
    reason:
      'protocol.md §4.7: a restarted plugin gets nothing re-sent, so after one host\'s instance restarts, the addresses held through every host, also those handed out while it was down, must stay held, and its hosts\' containers keep using the shared pools.',
    requires: ['ipam'],
    budgetMs: 90_000,
    async run(ctx: CheckContext) {
      await withCluster(ctx, targets, async (cluster) => {
        const victim = cluster.instances[cluster.instances.length - 1]!;
        const restart = victim.restart;
        if (restart === null) ctx.skip(`needs a way to restart instance ${victim.label}: --restart-cmd once per target, or once with {i} (the target's number)`);
        const spaces = await requireGlobalSpaces(ctx, cluster);
        const story: Story = new Story(ctx, cluster);
        const others = cluster.instances.filter((i) => i !== victim);
        const cidr = sharedCidr(ctx);
        const { pool, held } = await openGlobalPool(ctx, story, others[0]!, spaces.get(others[0]!.label)!, cidr);
        const take = async (inst: typeof victim, what: string): Promise<void> => {
          const got = await story.requestAddress(inst, pool, '', `(${what})`);
          if (!got.ok) {
            if (inst === victim || what.includes('before')) story.fail(unknownPoolMessage(inst, pool, got.error));
            ctx.note(`instance ${inst.label} refused RequestAddress while instance ${victim.label} was down ("${got.error}"): its host cannot start containers during another host's outage`);
            return;
          }
          if (got.value.bare === null || !got.value.inPool) story.fail(`instance ${inst.label} answered RequestAddress on pool ${pool.poolId} with ${got.value.text}, not an address of ${formatCidr(cidr)}; ${SHARED_STORE_HINT}`);
          const dup = held.get(got.value.bare);
          if (dup !== undefined) story.fail(`instance ${inst.label} handed out ${got.value.bare} of ${formatCidr(cidr)} [PoolID ${pool.poolId}] (${what}), held as ${dup}: two containers get one address${what.includes('while') ? `; the restart of instance ${victim.label} lost acknowledged allocations` : ''}`);
          held.set(got.value.bare, `${what} on instance ${inst.label}`);
        };
        for (const inst of cluster.instances) {
          if (inst === others[0]) {
            await take(inst, 'a container before the restart');
            continue;
          }
          const got = await firstAddressOn(story, inst, pool, '(a container before the restart)');
          if (got.bare === null || !got.inPool) story.fail(`instance ${inst.label} answered RequestAddress on pool ${pool.poolId} with ${got.text}, not an address of ${formatCidr(cidr)}; ${SHARED_STORE_HINT}`);
          const dup = held.get(got.bare);
          if (dup !== undefined) story.fail(`instance ${inst.label} handed out ${got.bare} of ${formatCidr(cidr)} [PoolID ${pool.poolId}], held as ${dup}`);
          held.set(got.bare, `a container before the restart on instance ${inst.label}`);
        }
        const fixed = formatIp(cidr.family, cidr.base + 9n);
        if (!held.has(fixed)) {
          const got = await story.requestAddress(victim, pool, fixed, '(docker run --ip before the restart)');
          if (got.ok && got.value.bare === fixed) held.set(fixed, `docker run --ip on instance ${victim.label}, before the restart`);
        }
        // Kill and restart the victim while the others keep starting containers.
        story.note(`restart instance ${victim.label} while ${others.map((o) => o.label).join(', ')} serve`);
        const during = (async () => {
          for (let k = 0; k < 3; k++) for (const inst of others) await take(inst, 'a container while the restart runs');
        })();
        try {
          await Promise.all([restart(), during]);
        } catch (e) {
          if (!(e instanceof RestartFailed)) throw e;
          if (e.message.startsWith('--restart-cmd failed')) ctx.skip(e.message);
          story.fail(`instance ${victim.label}: ${e.message}`);
        }
        story.note(`instance ${victim.label} answers again`);
        // 1. Nothing held before or during the outage is granted again, on the restarted instance or any other.
        for (const inst of cluster.instances) {
          for (const [address, what] of held) {
            const again = await story.requestAddress(inst, pool, address);
            if (again.ok && again.value.bare === address) story.fail(`after instance ${victim.label} restarted, instance ${inst.label} granted ${address} (preferred) of ${formatCidr(cidr)} [PoolID ${pool.poolId}] although it is held (${what}): acknowledged allocations were lost`);
          }
        }
        // 2. The restarted instance still serves the shared pool, and fills it without returning a held address.
        for (let k = 0; k < 300; k++) {
          const got = await story.requestAddress(victim, pool, '', '(after the restart)');
          if (!got.ok) {
            // Refused while addresses are free (not a pool that is simply full): the restarted instance lost the pool.
            if (k === 0 && BigInt(held.size) < usableCount(cidr)) story.fail(`after its restart, ${unknownPoolMessage(victim, pool, got.error)}`);
            break;
          }
          const bare = got.value.bare;
          if (bare === null) break;
          const what = held.get(bare);
          if (what !== undefined) story.fail(`after instance ${victim.label} restarted it handed out ${bare} of ${formatCidr(cidr)} [PoolID ${pool.poolId}], still held (${what}): two containers get one address`);
          held.set(bare, `after the restart on instance ${victim.label}`);
        }
      });
    },
  };
}
