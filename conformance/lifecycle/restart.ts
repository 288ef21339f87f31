/**
 * lifecycle.restart-keeps-state (`--restart-cmd CMD`): the plugin process is
 * restarted while dockerd runs. dockerd re-sends nothing (protocol.md §4.7),
 * so networks and endpoints created before must still work afterwards.
 */
import { execFile } from 'node:child_process';
import type { Check, CheckContext } from '../types.js';
import { failedCalls, openHarness } from './harness.js';

function runCommand(argv: readonly string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs }, (err, _out, stderr) => resolve(err === null ? null : `${err.message}${stderr ? `: ${stderr.trim()}` : ''}`));
  });
}

/** Poll Plugin.Activate until the plugin answers again. */
async function waitForPlugin(ctx: CheckContext, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const r = await ctx.raw.send({ path: '/Plugin.Activate' });
    if (r.kind === 'reply' && r.status === 200) return true;
    await new Promise((res) => setTimeout(res, 100));
  }
  return false;
}

export const restartKeepsState: Check = {
  id: 'lifecycle.restart-keeps-state',
  title: 'A plugin restart keeps networks and endpoints',
  level: 'must',
  reason: 'protocol.md §4.7: "Plugin process restart while the daemon runs: nothing is re-sent; a plugin that loses its state breaks existing networks" — CreateNetwork is never replayed, so it must be persisted (--restart-cmd).',
  requires: ['driver'],
  budgetMs: 90_000,
  async run(ctx: CheckContext) {
    const cmd = ctx.config.restartCmd;
    if (cmd === null) ctx.skip('needs --restart-cmd CMD (a command that restarts the plugin)');
    const h = await openHarness(ctx);
    const subnet = h.subnet();
    await h.op(`docker network create --subnet ${subnet} n`, (d) => d.networkCreate({ name: 'n', driverOpts: ctx.config.driverOpts, ipamOpts: ctx.config.ipamOpts, ipv4: [{ subnet }] }));
    await h.op('docker run --network n c1', (d) => d.containerRun({ name: 'c1', networks: [{ network: 'n' }] }));
    h.steps.push(`restart the plugin: ${cmd.join(' ')}`);
    const err = await runCommand(cmd, 30_000);
    if (err !== null) ctx.skip(`--restart-cmd failed: ${err}`);
    if (!(await waitForPlugin(ctx, 15_000))) ctx.fail('the plugin did not answer Plugin.Activate within 15 s of --restart-cmd', { steps: [...h.steps], calls: h.calls() });
    const from = h.daemon.callLog().length;
    await h.op('docker run --network n c2 (a network created before the restart)', (d) => d.containerRun({ name: 'c2', networks: [{ network: 'n' }] }));
    await h.op('docker stop c1 (an endpoint created before the restart)', (d) => d.containerStop('c1'));
    await h.op('docker rm -f c2', (d) => d.containerRm('c2', { force: true }));
    await h.op('docker rm c1', (d) => d.containerRm('c1'));
    await h.op('docker network rm n', (d) => d.networkRm('n'));
    const refused = failedCalls(h, from).filter((t) => /^NetworkDriver\./.test(t) && !/(Program|Revoke)ExternalConnectivity/.test(t));
    if (refused.length > 0) ctx.fail(`after the restart the plugin refused calls about objects created before it: ${refused.join('; ')}`, { steps: [...h.steps], calls: h.calls() });
  },
};
