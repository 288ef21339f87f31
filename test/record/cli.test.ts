/**
 * `cnmkit record` as a user runs it: usage errors are one line and exit 2;
 * violations are printed live, one line each; SIGINT/SIGTERM write the
 * summary (calls, violations, per-method latency) and exit 1 when a
 * violation at or above --level was seen, 0 otherwise.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/index.js';
import { readTrace } from '../../src/record/trace.js';
import { startMiniIpam, type Flaw } from '../conformance/plugins/mini-ipam.js';
import { runCli, startCli } from '../cli/run-cli.js';
import { tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

async function session(flaws: readonly Flaw[], level: string, tag: string, signal: NodeJS.Signals = 'SIGINT'): Promise<{ code: number | null; out: string; trace: string }> {
  const plugin = await startMiniIpam(`${dir.path}/${tag}-ipam.sock`, flaws);
  const socket = `${dir.path}/${tag}.sock`;
  const trace = `${dir.path}/${tag}.jsonl`;
  const { child, output } = await startCli(['record', '--upstream', plugin.socketPath, '--name', tag, '--socket', socket, '--out', trace, '--level', level, '--netns', 'none'], /serving/);
  try {
    const c = await connect({ socket }, { timeoutMs: 3000 });
    const pool = await c.call('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.80.0.0/29', SubPool: '', Options: {}, V6: false });
    for (let i = 0; i < 8; i++) await c.tryCall('RequestAddress', { PoolID: pool.PoolID, Address: '', Options: null });
    await c.close();
    // Printed live, before the recorder stops.
    if (flaws.length > 0) {
      const deadline = Date.now() + 5000;
      while (!/VIOLATION/.test(output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(output()).toMatch(/VIOLATION \[must\] ipam\.no-network-broadcast: .* \| call: #\d+ RequestAddress PoolID=.* -> Address="10\.80\.0\.(0|7)\/29" \| context: #\d+ RequestPool/);
    }
  } finally {
    child.kill(signal);
  }
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  await plugin.close();
  return { code, out: output(), trace };
}

describe('cnmkit record (CLI)', () => {
  it('usage errors: one line, exit 2', async () => {
    const none = await runCli(['record', '--name', 'x']);
    expect(none.code).toBe(2);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    expect(none.stderr).toMatch(/exactly one of --upstream/);
    const two = await runCli(['record', '--name', 'x', '--upstream', '/a', '--upstream-url', 'tcp://127.0.0.1:1']);
    expect(two.code).toBe(2);
    const badName = await runCli(['record', '--name', '../x', '--upstream', '/a']);
    expect(badName.code).toBe(2);
    const same = await runCli(['record', '--name', 'x', '--upstream', `${dir.path}/x.sock`, '--socket', `${dir.path}/x.sock`]);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/plugin's own socket/);
  });

  it('a must violation: printed live, summary on SIGINT, exit 1', async () => {
    const r = await session(['network-broadcast'], 'should', 'bad');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\d+ calls, violations: [1-9]\d* must/);
    expect(r.out).toMatch(/IpamDriver\.RequestAddress\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
    const t = readTrace(r.trace);
    expect(t.sessions[0]!.summary?.violations.must).toBeGreaterThan(0);
  }, 60_000);

  it('no violation at or above --level: exit 0 (SIGTERM too)', async () => {
    const clean = await session([], 'should', 'good', 'SIGTERM');
    expect(clean.code).toBe(0);
    expect(clean.out).toMatch(/violations: 0 must, 0 should/);
    expect(readFileSync(clean.trace, 'utf8').trim().split('\n').at(-1)).toMatch(/^\{"type":"summary"/);
  }, 60_000);
});
