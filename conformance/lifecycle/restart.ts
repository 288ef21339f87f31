/**
 * lifecycle.restart-keeps-state (`--restart-cmd CMD`): the plugin process is
 * restarted while dockerd runs. dockerd re-sends nothing (protocol.md §4.7),
 * so networks and endpoints created before must still work afterwards, and an
 * IPAM must still hold what it handed out: an address held before the restart
 * is never handed out again, a pool held before is still held.
 */
import type { Check, CheckContext } from '../types.js';
import { formatCidr, parseCidr } from '../cidr.js';
import { innerOf } from '../pools.js';
import { RestartFailed } from '../restart.js';
import { failedCalls, openHarness } from './harness.js';

/** The bare IP of `10.0.0.5/24`. */
const bare = (cidrText: string | null): string | null => (cidrText === null ? null : cidrText.split('/')[0]!);

export const restartKeepsState: Check = {
  id: 'lifecycle.restart-keeps-state',
  title: 'A plugin restart keeps networks, endpoints, pools and addresses',
  level: 'must',
  reason:
    'protocol.md §4.7: a plugin restart while dockerd runs gets nothing re-sent, and a plugin that loses its state breaks the networks that exist — CreateNetwork is never replayed, and an IPAM that forgets its pools and addresses hands out addresses still in use (--restart-cmd).',
  requires: [],
  budgetMs: 90_000,
  async run(ctx: CheckContext) {
    // The runner's restart (--restart-cmd, or its own for targets it started) pauses its liveness watch.
    const restart = ctx.restartPlugin;
    if (restart === null) ctx.skip('needs --restart-cmd CMD (a command that restarts the plugin)');
    const h = await openHarness(ctx);
    const { subnet } = await h.network('n');
    await h.op('docker run --network n c1', (d) => d.containerRun({ name: 'c1', networks: [{ network: 'n' }] }));
    // What the plugin's IPAM holds before the restart (the checker remembers it; dockerd does too).
    const before = h.daemon.inspect().networks.find((n) => n.name === 'n')!;
    const pool = before.ipv4[0] ?? null;
    const held = new Map<string, string>();
    if (h.ipamMode === 'plugin') {
      if (pool?.gateway && subnet !== null) held.set(bare(pool.gateway)!, 'the gateway of network n');
      for (const ep of before.endpoints) if (ep.ipv4 !== null) held.set(bare(ep.ipv4)!, `the address of container ${ep.name}`);
    }
    h.steps.push(`restart the plugin${ctx.config.restartCmd !== null ? `: ${ctx.config.restartCmd.join(' ')}` : ''}`);
    try {
      await restart();
    } catch (e) {
      if (!(e instanceof RestartFailed)) throw e;
      // The command itself failing says nothing about the plugin; not answering afterwards does.
      if (e.message.startsWith('--restart-cmd failed')) ctx.skip(e.message);
      ctx.fail(e.message, { steps: [...h.steps], calls: h.calls() });
    }
    const from = h.daemon.callLog().length;
    await h.op('docker run --network n c2 (a network created before the restart)', (d) => d.containerRun({ name: 'c2', networks: [{ network: 'n' }] }));
    const c2 = h.daemon.inspect().networks.find((n) => n.name === 'n')?.endpoints.find((e) => e.name === 'c2');
    const again = bare(c2?.ipv4 ?? null);
    if (again !== null && held.has(again)) {
      ctx.fail(`after the restart RequestAddress on pool ${pool?.pool ?? '?'} [PoolID ${pool?.poolId ?? '?'}] handed out ${again}, which is still ${held.get(again)}: the IPAM forgot its allocations`, { steps: [...h.steps], calls: h.calls() });
    }
    if (h.ipamMode === 'plugin' && subnet !== null && pool !== null) {
      // A pool held before must still be held: a pool inside it must be refused as overlapping.
      const inner = innerOf(parseCidr(pool.pool)!);
      if (inner !== null) {
        const text = formatCidr(inner);
        const req = { AddressSpace: ctx.addressSpaces.local, Pool: text, SubPool: '', Options: { ...ctx.config.ipamOpts }, V6: false };
        const r = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
        if (r.ok) {
          ctx.resources.trackPool(ctx.caller, r.value.PoolID, req);
          ctx.fail(`after the restart RequestPool ${text} was granted [PoolID ${r.value.PoolID}] although it overlaps pool ${pool.pool} [PoolID ${pool.poolId}] held before the restart: the IPAM forgot its pools`, { steps: [...h.steps, `RequestPool ${text} (inside ${pool.pool})`], calls: h.calls() });
        }
      }
    }
    await h.op('docker stop c1 (an endpoint created before the restart)', (d) => d.containerStop('c1'));
    await h.op('docker rm -f c2', (d) => d.containerRm('c2', { force: true }));
    await h.op('docker rm c1', (d) => d.containerRm('c1'));
    await h.op('docker network rm n', (d) => d.networkRm('n'));
    // Teardown calls dockerd only logs: refusals about objects made before the restart mean the plugin lost them.
    const refused = failedCalls(h, from).filter((t) => (/^NetworkDriver\./.test(t) && !/(Program|Revoke)ExternalConnectivity/.test(t)) || (h.ipamMode === 'plugin' && /^IpamDriver\.Release/.test(t)));
    if (refused.length > 0) ctx.fail(`after the restart the plugin refused calls about objects created before it: ${refused.join('; ')}`, { steps: [...h.steps], calls: h.calls() });
  },
};
