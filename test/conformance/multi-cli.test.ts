/**
 * `cnmkit check --socket A --socket B` as a user runs it (a subprocess): two
 * instances over one shared state pass (the normal suites on A, the multi suite
 * on both, one instance restarted through --restart-cmd with {i}); two independent
 * instances fail with the shared-store message; bad combinations are one line, exit 2.
 */
import { createServer, type Server } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.js';
import { type MultiIpam, type MultiIpamMode, startMultiIpam } from './designs/multi-ipam.js';
import { MULTI_CHECK_IDS, tempDir, type TempDir } from './support.js';

let dir: TempDir;
let plugin: MultiIpam | null = null;
let control: Server | null = null;
const restarted: number[] = [];

beforeEach(async () => {
  dir = await tempDir();
  restarted.length = 0;
});
afterEach(async () => {
  await plugin?.close();
  plugin = null;
  await new Promise<void>((r) => (control ? control.close(() => r()) : r()));
  control = null;
  await dir.remove();
});

async function start(mode: MultiIpamMode): Promise<string[]> {
  const sockets = [dir.socket('a'), dir.socket('b')];
  plugin = await startMultiIpam(sockets, mode);
  return sockets;
}

/** A restart command for --restart-cmd: a script asking this test process to restart instance {i} (1-based). */
async function restartCommand(): Promise<string> {
  const ctl = join(dir.path, 'ctl.sock');
  control = createServer((c) => {
    c.once('data', (d) => {
      const i = Number(d.toString()) - 1;
      restarted.push(i);
      void plugin!.restart(i).then(() => c.end('ok'));
    });
  });
  await new Promise<void>((r) => control!.listen(ctl, () => r()));
  const script = join(dir.path, 'restart.mjs');
  await writeFile(
    script,
    `import { connect } from 'node:net';\nconst c = connect(process.argv[2], () => c.write(process.argv[3]));\nc.on('data', () => process.exit(0));\nc.on('error', (e) => { console.error(e.message); process.exit(1); });\n`,
  );
  return `${process.execPath} ${script} ${ctl} {i}`;
}

describe('cnmkit check with several instances', () => {
  it('two instances over one shared state: every suite on A and the multi suite on both pass, B restarted by --restart-cmd {i}', async () => {
    const [a, b] = await start('shared');
    const cmd = await restartCommand();
    const r = await runCli(['check', '--socket', a!, '--socket', b!, '--subnet', '10.198.0.0/26', '--subnet', 'fd00:c1::/120', '--runs', '10', '--timeout', '5', '--restart-cmd', cmd, '--replay-dir', join(dir.path, 'replays'), '--reporter', 'json'], { timeoutMs: 240_000 });
    const report = JSON.parse(r.stdout) as { target: string; checks: { id: string; status: string; message: string; level: string }[] };
    const failing = report.checks.filter((c) => c.status === 'failed' && c.level !== 'compat');
    expect(failing.map((c) => `${c.id}: ${c.message}`)).toEqual([]);
    expect(r.code).toBe(0);
    expect(report.target).toMatch(/^A=unix:\/\/.*a\.sock \+ B=unix:\/\/.*b\.sock$/);
    const multi = report.checks.filter((c) => c.id.startsWith('multi.'));
    expect(multi.map((c) => `${c.id}:${c.status}`)).toEqual(MULTI_CHECK_IDS.map((id) => `${id}:passed`));
    expect(report.checks.some((c) => c.id.startsWith('ipam.'))).toBe(true);
    // B (target 2) was restarted by the multi check, A (target 1) by the single-instance restart check.
    expect(restarted).toContain(1);
  }, 300_000);

  it('two independent single-host instances fail with the shared-store message, exit 1', async () => {
    const [a, b] = await start('independent');
    const r = await runCli(['check', '--socket', a!, '--socket', b!, '--suite', 'multi', '--timeout', '5', '--replay-dir', join(dir.path, 'replays')], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL {2}multi\.pool-used-everywhere/);
    expect(r.stdout).toMatch(/instance B does not know pool MultiGlobal\/\S+ \(\S+\) from instance A: .*the instances do not share state; is the plugin configured with a shared store\?/);
    expect(r.stdout).toMatch(/SKIP {2}multi\.restart-one-instance .*--restart-cmd once per target, or once with \{i\}/);
  }, 90_000);

  it('a failure of the multi suite replays against every instance: still failing on independent ones, gone on shared ones', async () => {
    const sockets = [dir.socket('i0'), dir.socket('i1')];
    const independent = await startMultiIpam(sockets, 'independent');
    let replays: { id: string; replayPath: string | null }[];
    try {
      const r = await runCli(['check', '--socket', sockets[0]!, '--socket', sockets[1]!, '--suite', 'multi', '--timeout', '5', '--replay-dir', join(dir.path, 'replays'), '--reporter', 'json']);
      replays = (JSON.parse(r.stdout) as { checks: { id: string; replayPath: string | null }[] }).checks.filter((c) => c.replayPath !== null);
      expect(replays.map((c) => c.id)).toContain('multi.model');
      for (const id of ['multi.pool-used-everywhere', 'multi.model']) {
        const file = replays.find((c) => c.id === id)!.replayPath!;
        const again = await runCli(['replay', file, '--socket', sockets[0]!, '--socket', sockets[1]!]);
        expect(again.code, again.stdout + again.stderr).toBe(1);
        expect(again.stdout).toMatch(new RegExp(`still failing: ${id.replace('.', '\\.')}`));
        expect(again.stdout).toMatch(/does not know pool|do not share state/);
      }
    } finally {
      await independent.close();
    }
    const [a, b] = await start('shared');
    const file = replays.find((c) => c.id === 'multi.model')!.replayPath!;
    const fixed = await runCli(['replay', file, '--socket', a!, '--socket', b!]);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(fixed.stdout).toMatch(/not reproduced: multi\.model passes now/);
    const one = await runCli(['replay', file, '--socket', a!]);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/is a failure of the multi suite: give every instance again \(--socket A --socket B/);
  }, 120_000);

  it('a campaign over two instances: one full multi run per seed, one shard report', async () => {
    const [a, b] = await start('shared');
    const r = await runCli(['check', '--socket', a!, '--socket', b!, '--suite', 'multi', '--timeout', '5', '--runs', '10', '--seeds', '5..6', '--shard-dir', join(dir.path, 'shards'), '--replay-dir', join(dir.path, 'replays'), '--reporter', 'json'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(r.stdout) as { config: { instances: number }; runs: { seed: number; target: string; checks: { id: string; status: string }[] }[] };
    expect(c.config.instances).toBe(2);
    expect(c.runs.map((x) => x.seed)).toEqual([5, 6]);
    for (const run of c.runs) {
      expect(run.target).toMatch(/^A=unix:\/\/.* \+ B=unix:\/\//);
      expect(run.checks.filter((k) => k.status === 'passed').map((k) => k.id)).toContain('multi.model');
    }
    expect(r.stderr).toMatch(/shard report .*shard-1-of-1\.json/);
  }, 120_000);

  it('bad combinations are one line, exit 2', async () => {
    const [a, b] = await start('shared');
    const cases: [string[], RegExp][] = [
      [['--socket', a!, '--socket', b!, '--reference'], /several instances are given with --socket\/--url only/],
      [['--socket', a!, '--socket', b!, '--restart-cmd', 'true'], /with 2 targets give --restart-cmd once per target, or once with \{i\}/],
      [['--socket', a!, '--socket', b!, '--restart-cmd', 'a', '--restart-cmd', 'b', '--restart-cmd', 'c'], /--restart-cmd given 3 times for 2 targets/],
      [['--socket', a!, '--restart-cmd', 'a', '--restart-cmd', 'b'], /--restart-cmd given 2 times for one target/],
      [['--socket', a!], /the multi suite checks instances of one plugin on several hosts: give every instance \(--socket A --socket B \.\.\.\)/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['check', ...args, '--suite', 'multi']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 60_000);
});
