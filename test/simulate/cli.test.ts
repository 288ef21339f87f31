/** `cnmkit simulate` as a user runs it: output, --json, --html, errors and exit codes, fuzzing with a replay file. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDoubleAddressPlugin } from '../cli/double-address-plugin.js';
import type { Trace } from '../../src/simulate/trace.js';

const root = join(import.meta.dirname, '../..');
const entry = join(import.meta.dirname, 'cli-entry.ts');

function cnmkit(args: string[], cwd = root): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', entry, ...args], { cwd, timeout: 60_000, maxBuffer: 32 << 20, env: { ...process.env, FORCE_COLOR: '0' } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cnmkit-sim-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('cnmkit simulate SCENARIO', () => {
  it('prints calls and states, exit 0 when the expectations hold', async () => {
    const r = await cnmkit(['simulate', 'fixtures/scenarios/06-exhaust-29.yaml']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('== step 7: docker run -d --name c6 --network small busybox');
    expect(r.stdout).toContain('fails as expected: IpamDriver.RequestAddress: No available addresses on this pool');
    expect(r.stdout).toContain('pool 192.168.77.0/29 (network small): 6 allocated, 0 free of 8');
    expect(r.stdout.trimEnd().endsWith('all expectations met')).toBe(true);
  });

  it('--json prints the trace, --html writes the page', async () => {
    const html = join(dir, 'page.html');
    const r = await cnmkit(['simulate', 'fixtures/scenarios/07-ipv6.yaml', '--json', '--html', html]);
    expect(r.code).toBe(0);
    const trace = JSON.parse(r.stdout) as Trace;
    expect(trace.version).toBe(1);
    expect(trace.steps).toHaveLength(7);
    expect(trace.steps[1].calls.map((c) => c.path)).toContain('/IpamDriver.RequestPool');
    expect(readFileSync(html, 'utf8').startsWith('<!DOCTYPE html>')).toBe(true);
  });

  it('an expectation that does not hold: exit 1 and PROBLEMS', async () => {
    const f = join(dir, 'wrong.yaml');
    writeFileSync(f, 'title: t\nexplain: e\nsteps:\n  - network create: {name: n, subnet: 10.3.0.0/24}\n  - run: {name: c, network: n}\nexpect:\n  containers:\n    c: {n: 10.3.0.9}\n');
    const r = await cnmkit(['simulate', f]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('PROBLEMS (1):\n  - expect: container c on n: want 10.3.0.9, got 10.3.0.2');
  });

  it('a bad scenario file: one line naming file:line and field, exit 2', async () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'title: t\nexplain: e\nsteps:\n  - network create: {name: n}\n  - run: {name: c, network: n, ip: 10.3.0.300}\n');
    const r = await cnmkit(['simulate', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cnmkit: ${f}:5: steps[1].run.ip: "10.3.0.300" is not an IP address\n`);
    expect(r.stdout).toBe('');
  });

  it('usage errors exit 2', async () => {
    const cases = [['simulate'], ['simulate', 'x.yaml', '--seed', '1'], ['simulate', '--seed', '-1'], ['simulate', 'x.yaml', '--steps', '3'], ['simulate', 'nope.yaml'], ['simulate', 'fixtures/scenarios/03-gateway.yaml', '--socket', join(dir, 'none.sock')]];
    const results = await Promise.all(cases.map((args) => cnmkit(args)));
    for (const [i, r] of results.entries()) {
      expect(r.code, cases[i].join(' ')).toBe(2);
      expect(r.stderr.split('\n').filter(Boolean), cases[i].join(' ')).toHaveLength(1);
    }
    expect(results[4].stderr).toBe('cnmkit: nope.yaml:0: cannot read: ENOENT\n');
    expect(results[5].stderr).toMatch(/^cnmkit: --socket .*none\.sock: .*no such file or directory\n$/);
  });
});

describe('cnmkit simulate --seed N --steps K', () => {
  it('a clean run of the reference exits 0', async () => {
    const r = await cnmkit(['simulate', '--seed', '5', '--steps', '40']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# Random scenario (seed 5, 40 steps)');
    expect(r.stdout).toContain('== step 40:');
  });

  describe('against a plugin whose IPAM hands an address out twice', () => {
    let socket: string;
    let close: () => Promise<void>;
    beforeAll(async () => {
      socket = join(dir, 'broken.sock');
      close = await serveDoubleAddressPlugin(socket);
    });
    afterAll(async () => {
      await close?.();
    });

    it('stops at the violation with shrunk steps and a replay file that reproduces it, exit 1', async () => {
      const replay = join(dir, 'replay.yaml');
      const r = await cnmkit(['simulate', '--seed', '1', '--steps', '40', '--socket', socket, '--replay', replay]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^cnmkit simulate: invariant violated at step \d+ of seed 1; shrunk to \d+ steps \(\d+ runs\); replay: cnmkit simulate .*replay\.yaml\n$/);
      expect(r.stdout).toMatch(/invariant: duplicate address 10\.[0-9.]+ on network n\d/);
      expect(existsSync(replay)).toBe(true);
      const text = readFileSync(replay, 'utf8');
      expect(text.startsWith('# Replay file written by cnmkit simulate --seed 1 --steps 40\n')).toBe(true);
      // Shrunk: a network and two containers suffice.
      const steps = (text.match(/^ {2}- /gm) ?? []).length;
      expect(steps).toBeGreaterThanOrEqual(3);
      expect(steps).toBeLessThanOrEqual(5);
      // Replaying it against the plugin shows the duplicate again.
      const again = await cnmkit(['simulate', replay, '--socket', socket, '--json']);
      const t = JSON.parse(again.stdout) as Trace;
      const last = t.steps[t.steps.length - 1].state;
      const addrs = last.containers.flatMap((c) => Object.values(c.addresses).flat());
      expect(new Set(addrs).size).toBeLessThan(addrs.length);
      // The replay runs clean on the reference (the bug is the plugin's).
      const ref = await cnmkit(['simulate', replay]);
      expect(ref.code).toBe(0);
    });
  });
});
