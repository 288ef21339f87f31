/**
 * `cnmkit record` as a user runs it: usage errors are one line and exit 2;
 * violations are printed live, one line each; SIGINT/SIGTERM write the
 * summary (calls, violations, per-method latency) and exit 1 when a
 * violation at or above --level was seen, 0 otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/index.js';
import { readTrace } from '../../src/record/trace.js';
import { startMiniIpam, type Flaw } from '../conformance/plugins/mini-ipam.js';
import { runCli, startCli } from '../cli/run-cli.js';
import { tempDir, type TempDir } from './support.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

/** `cnmkit record --reporter json` (status on stderr): ready once its socket accepts connections. */
async function startJson(args: readonly string[], socket: string): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const live = await new Promise<boolean>((r) => {
      const c = createConnection(socket);
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => r(false));
    });
    if (live) return { child, output: () => out };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('cnmkit record --reporter json did not come up');
}

interface SessionOptions {
  readonly signal?: NodeJS.Signals;
  /** How the recorder names the plugin (default --upstream with the fixture's socket). */
  readonly upstream?: (pluginSocket: string) => Promise<{ args: string[]; close?: () => Promise<void> }>;
  readonly json?: boolean;
}

async function session(flaws: readonly Flaw[], level: string, tag: string, o: SessionOptions = {}): Promise<{ code: number | null; out: string; trace: string }> {
  const plugin = await startMiniIpam(`${dir.path}/${tag}-ipam.sock`, flaws);
  const socket = `${dir.path}/${tag}.sock`;
  const trace = `${dir.path}/${tag}.jsonl`;
  const up = o.upstream ? await o.upstream(plugin.socketPath) : { args: ['--upstream', plugin.socketPath] };
  const args = ['record', ...up.args, '--name', tag, '--socket', socket, '--out', trace, '--level', level, '--netns', 'none'];
  const { child, output } = o.json ? await startJson([...args, '--reporter', 'json'], socket) : await startCli(args, /serving/);
  try {
    const c = await connect({ socket }, { timeoutMs: 3000 });
    const pool = await c.call('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.80.0.0/29', SubPool: '', Options: {}, V6: false });
    for (let i = 0; i < 8; i++) await c.tryCall('RequestAddress', { PoolID: pool.PoolID, Address: '', Options: null });
    await c.close();
    // Printed live, before the recorder stops.
    if (flaws.length > 0 && !o.json) {
      const deadline = Date.now() + 5000;
      while (!/VIOLATION/.test(output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(output()).toMatch(/VIOLATION \[must\] ipam\.no-network-broadcast: .* \| call: #\d+ RequestAddress PoolID=.* -> Address="10\.80\.0\.(0|7)\/29" \| context: #\d+ RequestPool/);
    }
  } finally {
    child.kill(o.signal ?? 'SIGINT');
  }
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  await plugin.close();
  await up.close?.();
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
    const clean = await session([], 'should', 'good', { signal: 'SIGTERM' });
    expect(clean.code).toBe(0);
    expect(clean.out).toMatch(/violations: 0 must, 0 should/);
    expect(readFileSync(clean.trace, 'utf8').trim().split('\n').at(-1)).toMatch(/^\{"type":"summary"/);
  }, 60_000);

  it('the exit code follows --level: a should violation fails --level should, not --level must', async () => {
    // ignore-subpool is a should violation (ipam.address-in-subpool) and nothing else.
    const plugin = await startMiniIpam(`${dir.path}/lvl-ipam.sock`, ['ignore-subpool']);
    const runOnce = async (level: string, tag: string, net: number): Promise<number | null> => {
      const socket = `${dir.path}/${tag}.sock`;
      const { child } = await startCli(['record', '--upstream', plugin.socketPath, '--name', tag, '--socket', socket, '--out', `${dir.path}/${tag}.jsonl`, '--level', level, '--netns', 'none'], /serving/);
      const c = await connect({ socket }, { timeoutMs: 3000 });
      const pool = await c.call('RequestPool', { AddressSpace: 'LocalDefault', Pool: `10.81.${net}.0/28`, SubPool: `10.81.${net}.8/29`, Options: {}, V6: false });
      await c.call('RequestAddress', { PoolID: pool.PoolID, Address: '', Options: null });
      await c.close();
      child.kill('SIGINT');
      return new Promise((r) => child.once('exit', (code) => r(code)));
    };
    expect(await runOnce('should', 'lvl-should', 1)).toBe(1);
    expect(await runOnce('must', 'lvl-must', 2)).toBe(0);
    await plugin.close();
  }, 60_000);

  it('--upstream-url tcp:// and --reporter json (stdout: JSON lines only)', async () => {
    const { createServer } = await import('node:net');
    const r = await session(['network-broadcast'], 'should', 'tcp', {
      json: true,
      upstream: async (pluginSocket) => {
        // The plugin reached over TCP (a .spec plugin): a forwarder to the fixture's socket.
        const tcp = createServer((s) => s.pipe(createConnection(pluginSocket)).pipe(s));
        await new Promise<void>((res) => tcp.listen(0, '127.0.0.1', res));
        const port = (tcp.address() as { port: number }).port;
        return { args: ['--upstream-url', `tcp://127.0.0.1:${port}`], close: () => new Promise<void>((res) => tcp.close(() => res())) };
      },
    });
    expect(r.code).toBe(1);
    const lines = r.out.trim().split('\n').filter((l) => l.startsWith('{'));
    const parsed = lines.map((l) => JSON.parse(l) as { type: string; rule?: string });
    expect(parsed.some((p) => p.type === 'violation' && p.rule === 'ipam.no-network-broadcast')).toBe(true);
    expect(parsed.at(-1)!.type).toBe('summary');
    expect(readTrace(r.trace).sessions[0]!.header.upstream.kind).toBe('url');
  }, 60_000);

  it('--upstream-plugin NAME finds a legacy plugin as dockerd does (root: /run/docker/plugins)', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to place a socket in /run/docker/plugins');
    const name = `cnmkit-rec-up-${process.pid}`;
    const { mkdirSync, rmSync } = await import('node:fs');
    mkdirSync('/run/docker/plugins', { recursive: true });
    const plugin = await startMiniIpam(`/run/docker/plugins/${name}.sock`, []);
    try {
      const socket = `${dir.path}/up-plugin.sock`;
      const trace = `${dir.path}/up-plugin.jsonl`;
      const { child } = await startCli(['record', '--upstream-plugin', name, '--name', 'up-plugin', '--socket', socket, '--out', trace, '--netns', 'none'], /serving/);
      const c = await connect({ socket }, { timeoutMs: 3000 });
      await c.call('GetDefaultAddressSpaces', undefined as never);
      await c.close();
      child.kill('SIGINT');
      expect(await new Promise((r) => child.once('exit', (code) => r(code)))).toBe(0);
      const h = readTrace(trace).sessions[0]!.header;
      expect(h.upstream).toEqual({ kind: 'plugin', address: name, socket: `/run/docker/plugins/${name}.sock` });
    } finally {
      await plugin.close();
      rmSync(`/run/docker/plugins/${name}.sock`, { force: true });
    }
  }, 60_000);

  it('--upstream-plugin of a name nobody serves: one line, exit 2', async () => {
    const r = await runCli(['record', '--upstream-plugin', `nobody-${process.pid}`, '--name', 'x', '--socket', `${dir.path}/nobody.sock`], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no legacy plugin of that name/);
  }, 60_000);
});
