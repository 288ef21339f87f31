/**
 * Each deliberately broken driver (one realistic bug, written independently
 * of src/driver) is caught by the right check with a shrunk counterexample;
 * a correct independent driver and a "correct but different" one pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replay } from '../../conformance/replay.js';
import { runSuites } from '../../conformance/runner.js';
import { exitCodeFor } from '../../conformance/report/exit-code.js';
import type { RunReport } from '../../conformance/types.js';
import { type DriverFlaw, type FlawedDriverOptions, startFlawedDriver } from './driver-plugins/flawed-driver.js';
import { driverFlawCases } from './flaw-cases.js';
import { quickConfig, result, tempDir, type TempDir, runPlugin } from './support.js';
import type { ConformanceConfig } from '../../conformance/config.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

function runAgainst(opts: FlawedDriverOptions, config: Partial<ConformanceConfig> = {}): Promise<RunReport> {
  // These drivers create no kernel links: --netns none (driver-netns.test.ts covers the kernel check).
  return runPlugin(dir, (socket) => startFlawedDriver(socket, opts), { suites: ['driver'], netns: 'none', ...config });
}

/** Failed checks that fail the run at `level`. */
function failing(report: RunReport, level: 'must' | 'should' | 'compat' = 'should'): string[] {
  const order = ['must', 'should', 'compat'];
  return report.checks.filter((c) => c.status === 'failed' && order.indexOf(c.level) <= order.indexOf(level)).map((c) => c.id);
}

describe('correct drivers pass', () => {
  it('a correct independent driver passes every check at every level', async () => {
    const report = await runAgainst({}, { suites: ['driver', 'lifecycle'] });
    expect(report.checks.filter((c) => c.status === 'failed').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
    expect(report.summary.passed).toBeGreaterThanOrEqual(21);
    expect(report.leaks).toEqual([]);
  });

  it('a correct but different driver passes at the default level; compat reports the differences', async () => {
    const report = await runAgainst({ different: true }, { suites: ['driver', 'lifecycle'] });
    expect(failing(report)).toEqual([]);
    expect(exitCodeFor(report)).toBe(0);
    const compat = report.checks.filter((c) => c.status === 'failed').map((c) => c.id).sort();
    expect(compat).toEqual(['driver.dst-prefix-compat', 'driver.external-connectivity-compat']);
    expect(result(report, 'driver.delete-unknown-compat').notes.join(' ')).toMatch(/error/);
  });
});

describe('broken drivers are caught by the right model check, shrunk', () => {
  it.each(driverFlawCases)('%s -> %s', async (flaw, id, text) => {
    const report = await runAgainst({ flaw }, { runs: 40 });
    expect(failing(report)).toEqual([id]);
    const r = result(report, id);
    expect(r.message).toMatch(text);
    const ce = r.counterexample!;
    expect(ce.steps.length).toBeGreaterThan(0);
    // Shrunk: the setup network plus at most the few commands the bug needs.
    expect(ce.steps.length).toBeLessThanOrEqual(6);
    expect(ce.calls.length).toBeGreaterThan(0);
    expect(ce.path).toBeDefined();
    expect(ce.seed).toBeDefined();
    expect(r.replayPath).toMatch(new RegExp(`${id}`));
  });
});

describe('the new model commands catch their flaws on every seed', () => {
  it.each([1, 2, 3, 4, 5])('seed %i: crash-port-entries -> lifecycle-accepted, short-link-names -> interface-name-unique', async (seed) => {
    const ports = await runAgainst({ flaw: 'crash-port-entries' }, { seed, runs: 40, checks: ['driver.lifecycle-accepted'] });
    expect(failing(ports)).toEqual(['driver.lifecycle-accepted']);
    const twins = await runAgainst({ flaw: 'short-link-names' }, { seed, runs: 40, checks: ['driver.interface-name-unique'] });
    expect(failing(twins)).toEqual(['driver.interface-name-unique']);
    expect(result(twins, 'driver.interface-name-unique').counterexample!.steps.join(' ')).toMatch(/shares 7 characters/);
  });
});

describe('replay', () => {
  it('a driver failure replays from its file: only the shrunk case runs and fails again', async () => {
    const socket = dir.socket('replay');
    const d = await startFlawedDriver(socket, { flaw: 'duplicate-mac' });
    try {
      const report = await runSuites({ socket }, quickConfig(dir, { suites: ['driver'], checks: ['driver.mac-unique'], runs: 40 }));
      const r = result(report, 'driver.mac-unique');
      expect(r.status).toBe('failed');
      const again = await replay(r.replayPath!, { socket });
      expect(again.reproduced).toBe(true);
      // The same shrunk command list (ids and subnets are fresh in the replay).
      const commands = (steps: readonly string[]): string[] => steps.map((x) => x.split(' -> ')[0]!.replace(/[0-9a-f.:]+\/\d+ on [0-9a-f]{12}/, '<address> on <network>'));
      expect(commands(again.result!.counterexample!.steps)).toEqual(commands(r.counterexample!.steps));
      expect(again.report.summary.calls).toBeLessThan(report.summary.calls);
    } finally {
      await d.close();
    }
  });
});

describe('other broken drivers', () => {
  it('a masked GatewayIPv6 -> driver.ipv6-endpoint; a driver refusing IPv6 networks skips it with the reason', async () => {
    const report = await runAgainst({ flaw: 'gateway6-mask' }, { runs: 20 });
    expect(failing(report)).toEqual(['driver.ipv6-endpoint']);
    expect(result(report, 'driver.ipv6-endpoint').message).toMatch(/not a bare IPv6 address/);
    const socket = dir.socket('no-v6');
    const d = await startFlawedDriver(socket, {});
    try {
      const skipped = await runSuites({ socket }, quickConfig(dir, { checks: ['driver.ipv6-endpoint'], subnets: ['10.79.0.0/28'] }));
      expect(result(skipped, 'driver.ipv6-endpoint').message).toMatch(/IPv6 pool/);
    } finally {
      await d.close();
    }
  });

  it('bad capability scope -> protocol.network-capabilities', async () => {
    const socket = dir.socket('scope');
    const d = await startFlawedDriver(socket, { flaw: 'bad-scope' });
    try {
      const report = await runSuites({ socket }, quickConfig(dir, { checks: ['protocol.network-capabilities', 'driver.lifecycle-accepted'] }));
      expect(failing(report)).toEqual(['protocol.network-capabilities']);
    } finally {
      await d.close();
    }
  });

  it('replies beyond --timeout -> driver.timely-replies (should); within it only a note', async () => {
    const report = await runAgainst({ flaw: 'slow' }, { checks: ['driver.timely-replies'], timeoutMs: 1000 });
    expect(failing(report)).toEqual(['driver.timely-replies']);
    expect(result(report, 'driver.timely-replies').message).toMatch(/Join got no reply within 1000 ms/);
    expect(report.deaths).toEqual([]);
    expect(exitCodeFor(report, 'must')).toBe(0);
    const patient = await runAgainst({ flaw: 'slow' }, { checks: ['driver.timely-replies'], timeoutMs: 3000 });
    expect(failing(patient)).toEqual([]);
    expect(result(patient, 'driver.timely-replies').notes.join(' ')).toMatch(/Join took 15\d\d ms/);
  });

  it('a race under concurrent Joins -> driver.concurrent-lifecycles, shrunk to a few parallel lifecycles', async () => {
    const report = await runAgainst({ flaw: 'join-race' });
    expect(failing(report)).toEqual(['driver.concurrent-lifecycles']);
    const r = result(report, 'driver.concurrent-lifecycles');
    expect(r.message).toMatch(/both got SrcName .* \((2|3|4) parallel lifecycles/);
    expect(r.counterexample!.calls.length).toBeGreaterThan(0);
  });

  it('Join without SrcName but with a Gateway -> driver.join-gateway (the gateway is unreachable)', async () => {
    const report = await runAgainst({ flaw: 'no-srcname' }, { runs: 20 });
    expect(failing(report)).toEqual(['driver.join-gateway']);
    expect(result(report, 'driver.join-gateway').message).toMatch(/no SrcName/);
    expect(result(report, 'driver.netns-linux').status).toBe('skipped');
  });
});
