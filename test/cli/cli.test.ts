import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, waitExit } from './run-cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnmkit-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An IPAM plugin with one realistic bug: it hands out the same address every time. */
async function startSameAddressIpam(socket: string): Promise<Server> {
  const pools = new Map<string, string>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const reply = (status: number, obj: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      const args = body === '' ? {} : (JSON.parse(body) as Record<string, string>);
      switch (req.url) {
        case '/Plugin.Activate':
          return reply(200, { Implements: ['IpamDriver'] });
        case '/IpamDriver.GetCapabilities':
          return reply(200, {});
        case '/IpamDriver.GetDefaultAddressSpaces':
          return reply(200, { LocalDefaultAddressSpace: 'L', GlobalDefaultAddressSpace: 'G' });
        case '/IpamDriver.RequestPool': {
          const pool = args['Pool'] || '10.199.200.0/24';
          if ([...pools.values()].includes(pool)) return reply(500, { Err: 'pool in use' });
          pools.set(`p-${pool}`, pool);
          return reply(200, { PoolID: `p-${pool}`, Pool: pool, Data: {} });
        }
        case '/IpamDriver.ReleasePool':
          pools.delete(args['PoolID'] ?? '');
          return reply(200, {});
        case '/IpamDriver.RequestAddress': {
          const pool = pools.get(args['PoolID'] ?? '');
          if (pool === undefined) return reply(500, { Err: 'unknown pool' });
          const [base, len] = pool.split('/');
          const parts = base!.split('.');
          if (base!.includes(':')) return reply(200, { Address: `${base}1/${len}` });
          parts[3] = String(Number(parts[3]) + 1);
          return reply(200, { Address: `${args['Address'] || parts.join('.')}/${len}` });
        }
        case '/IpamDriver.ReleaseAddress':
          return reply(200, {});
        default:
          return reply(404, { Err: 'not found' });
      }
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return server;
}

describe('cnmkit CLI', () => {
  it('--help lists only the commands that exist, and each has its own help', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['serve', 'check', 'replay', 'simulate', 'record', 'merge-reports']) {
      expect(r.stdout).toContain(`cnmkit ${cmd}`);
      const sub = await runCli([cmd, '--help']);
      expect(sub.code).toBe(0);
    }
  });

  it('usage errors are one line with exit code 2', async () => {
    for (const args of [['check'], ['check', '--reference', '--socket', '/x.sock'], ['check', '--reference', '--reporter', 'xml'], ['bogus'], ['check', '--reference', '--level', 'high'], ['serve', '--scope', 'cluster']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]).toMatch(/^cnmkit: /);
    }
  });

  it('an unreachable plugin exits 2 with a one-line reason', async () => {
    const r = await runCli(['check', '--socket', join(dir, 'missing.sock')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing\.sock/);
  });

  it('check --reference is conformant; reporters go to --output files, NAME:FILE files or stdout', async () => {
    const json = join(dir, 'out', 'report.json');
    const tap = join(dir, 'out', 'report.tap');
    // json is paired with --output by position, tap names its file, junit has none: stdout.
    const r = await runCli(['check', '--reference', '--runs', '10', '--reporter', 'json', '--output', json, '--reporter', `tap:${tap}`, '--reporter', 'junit']);
    expect(r.code).toBe(0);
    const report = JSON.parse(await readFile(json, 'utf8')) as { summary: { passed: number; failed: number; skipped: number }; checks: unknown[] };
    expect(report.summary.failed).toBe(0);
    expect(report.summary.passed).toBeGreaterThan(30);
    expect(report.checks.length).toBe(report.summary.passed + report.summary.failed + report.summary.skipped);
    expect(await readFile(tap, 'utf8')).toMatch(/^TAP version 13\n1\.\.\d+/);
    expect(r.stdout).toContain('<testsuites');
    // stdout is taken by junit: progress and the summary line go to stderr.
    expect(r.stdout).not.toContain('checking ');
    expect(r.stderr).toMatch(/cnmkit check: \d+ passed, 0 failed/);
  });

  it('a broken plugin exits 1, and its replay file reproduces the failure', async () => {
    const socket = join(dir, 'broken.sock');
    const replays = join(dir, 'replays');
    const server = await startSameAddressIpam(socket);
    try {
      const r = await runCli(['check', '--socket', socket, '--suite', 'ipam', '--check', 'ipam.no-duplicate-address', '--runs', '20', '--replay-dir', replays]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('ipam.no-duplicate-address');
      expect(r.stdout).toMatch(/curl .*--unix-socket/);
      const files = await readdir(replays);
      expect(files.length).toBeGreaterThan(0);
      const again = await runCli(['replay', join(replays, files[0]!), '--socket', socket]);
      expect(again.code).toBe(1);
      expect(again.stdout).toContain('still failing');
      const onReference = await runCli(['replay', join(replays, files[0]!), '--reference']);
      expect(onReference.code).toBe(0);
      expect(onReference.stdout).toContain('not reproduced');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('serve answers on its socket, refuses a second server on the same state, and removes the socket on SIGTERM', async () => {
    const socket = join(dir, 'serve.sock');
    const state = join(dir, 'state');
    const { child } = await startCli(['serve', '--socket', socket, '--state', state], /cnmkit serve: .* on /);
    try {
      const check = await runCli(['check', '--socket', socket, '--suite', 'protocol']);
      expect(check.code).toBe(0);
      const second = await runCli(['serve', '--socket', join(dir, 'serve2.sock'), '--state', state]);
      expect(second.code).toBe(2);
      expect(second.stderr).toMatch(/in use by pid/);
    } finally {
      child.kill('SIGTERM');
      expect(await waitExit(child)).toBe(0);
    }
    await expect(stat(socket)).rejects.toThrow();
  });
});
