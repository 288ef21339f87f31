/** `cnmkit replay TRACE` and `cnmkit simulate --trace` as a user runs them. */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceTarget } from '../../src/cli/reference-target.js';
import { runCli } from '../cli/run-cli.js';
import { startMiniIpam } from '../conformance/plugins/mini-ipam.js';
import type { ListeningPlugin } from '../conformance/plugins/listen.js';
import { brokenPluginMethods, otherPluginMethods, plainSteps, recordSession, servePlugin, SESSION, traceText } from './session.js';

let dir: string;
let trace: string;
/** Plugins keep state: each replay gets a fresh one. */
const plugins: ListeningPlugin[] = [];
let n = 0;
async function fresh(methods: Parameters<typeof servePlugin>[1]): Promise<string> {
  const p = await servePlugin(join(dir, `p${n++}.sock`), methods);
  plugins.push(p);
  return p.socketPath;
}
const other = (): Promise<string> => fresh(otherPluginMethods(7));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnmkit-replay-cli-'));
  const reference = await startReferenceTarget();
  try {
    trace = join(dir, 'session.jsonl');
    await writeFile(trace, traceText([await recordSession(reference.socket, plainSteps(SESSION))]));
  } finally {
    await reference.close();
  }
}, 60_000);
afterAll(async () => {
  for (const p of plugins) await p.close();
  await rm(dir, { recursive: true, force: true });
});

describe('cnmkit replay TRACE', () => {
  it('exits 0 against a correct plugin with other choices; its compat differences fail only --level compat', async () => {
    const r = await runCli(['replay', trace, '--socket', await other()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('replaying trace');
    expect(r.stdout).toContain('66 calls replayed');
    expect(r.stdout).toContain('no divergence at or above --level should');
    const compat = await runCli(['replay', trace, '--socket', await other(), '--level', 'compat']);
    expect(compat.code).toBe(1);
    expect(compat.stdout).toMatch(/^seq \d+ NetworkDriver\.Join \[compat\] reply of another shape: StaticRoutes/m);
  });

  it('exits 1 against a broken plugin, one line per divergence naming the seq, the call and what differed', async () => {
    const r = await runCli(['replay', trace, '--socket', await fresh(brokenPluginMethods(7, 'join-refused'))]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^seq 13 NetworkDriver\.Join \[must\] succeeded in the recording \(.*\), fails now: NetworkDriver\.Join: no links left$/m);
    expect(r.stdout).toMatch(/at or above --level should: first at seq 13/);
  });

  it('replays against the embedded reference, and reports as JSON', async () => {
    const r = await runCli(['replay', trace, '--reference', '--reporter', 'json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { kind: string; calls: number; failed: boolean; divergences: unknown[] };
    expect(out).toMatchObject({ kind: 'trace', calls: 66, failed: false, divergences: [] });
  });

  it('ignores the partial line a killed recorder left, and says so', async () => {
    const text = await readFile(trace, 'utf8');
    const cut = join(dir, 'cut.jsonl');
    await writeFile(cut, text.slice(0, text.length - 100));
    const r = await runCli(['replay', cut, '--socket', await other()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ignored the partial line(s) a crash left: 67');
    expect(r.stdout).toContain('65 calls replayed');
  });

  it('a file that is neither a trace nor a replay file: one line, exit 2', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"type":"call"}\nnot json\n{"type":"header"}\n');
    const r = await runCli(['replay', bad, '--socket', await other()]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('bad.jsonl');
  });

  it('--out writes the replayed session as a trace: it shows in simulate --trace and replays again', async () => {
    const out = join(dir, 'replayed.jsonl');
    const r = await runCli(['replay', trace, '--socket', await other(), '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`wrote ${out} (66 calls)`);
    const view = await runCli(['simulate', '--trace', out]);
    expect(view.code).toBe(0);
    expect(view.stdout).toContain('# Recorded session: replay of test');
    // The other plugin's own choices are in it: its PoolIDs and address space.
    expect(view.stdout).toMatch(/"AddressSpace":"OtherLocal"/);
    const again = await runCli(['replay', out, '--socket', await fresh(otherPluginMethods(8))]);
    expect(again.stdout).toContain('no divergence at or above --level should');
    expect(again.code).toBe(0);
  });

  it('a plugin that does not answer: one line, exit 2 (not a divergence per call)', async () => {
    const r = await runCli(['replay', trace, '--socket', join(dir, 'nobody.sock')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^cnmkit: cannot reach unix:\/\/.*nobody\.sock: .*ENOENT/);
    expect(r.stdout).not.toContain('[must]');
  });

  it('a replay file of cnmkit check: --calls replays its calls through the same engine', async () => {
    const dup = await startMiniIpam(join(dir, 'dup.sock'), ['cursor-wrap-duplicate']);
    const fixed = await startMiniIpam(join(dir, 'fixed.sock'));
    try {
      const replays = join(dir, 'replays');
      const check = await runCli(['check', '--socket', dup.socketPath, '--suite', 'ipam', '--check', 'ipam.no-duplicate-address', '--runs', '20', '--replay-dir', replays]);
      expect(check.code).toBe(1);
      const file = join(replays, (await readdir(replays))[0]!);
      const again = await runCli(['replay', file, '--socket', dup.socketPath, '--calls']);
      expect(again.code).toBe(1);
      expect(again.stdout).toMatch(/\[must\] ipam\.no-duplicate-address/);
      const onFixed = await runCli(['replay', file, '--socket', fixed.socketPath, '--calls']);
      expect(onFixed.stdout).not.toMatch(/\[must\] ipam\./);
      expect(await runCli(['replay', trace, '--socket', await other(), '--raw'])).toMatchObject({ code: 2 });
    } finally {
      await dup.close();
      await fixed.close();
    }
  }, 60_000);
});

describe('cnmkit simulate --trace', () => {
  it('prints the recorded session as steps and writes the page', async () => {
    const page = join(dir, 'page.html');
    const r = await runCli(['simulate', '--trace', trace, '--html', page]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# Recorded session: test');
    expect(r.stdout).toContain('== step 3: docker network create --subnet 10.7.1.0/24 -> network');
    expect(r.stdout).toContain(`wrote ${page}`);
    expect(await readFile(page, 'utf8')).toContain('window.cnmkitPage');
    const both = await runCli(['simulate', '--trace', trace, '--seed', '3']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--trace shows a recorded session: --seed does not go with it');
  });
});
