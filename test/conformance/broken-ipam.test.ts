/**
 * Each deliberately broken IPAM plugin (one realistic flaw in an otherwise
 * correct, independently written plugin) is caught by the right check, with a
 * shrunk counterexample, a seed and a replay file.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpamIds } from '../../conformance/ipam/ids.js';
import { startFreelistIpam } from './plugins/freelist-ipam.js';
import { type Flaw, startMiniIpam } from './plugins/mini-ipam.js';
import { quickConfig, result, runOn, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

const cases: { flaw: Flaw; check: string; maxSteps?: number }[] = [
  { flaw: 'accept-overlap', check: IpamIds.overlap, maxSteps: 2 },
  { flaw: 'cursor-wrap-duplicate', check: IpamIds.noDuplicate, maxSteps: 3 },
  { flaw: 'network-broadcast', check: IpamIds.noNetworkBroadcast, maxSteps: 2 },
  { flaw: 'ignore-preferred', check: IpamIds.preferred, maxSteps: 3 },
  { flaw: 'release-noop', check: IpamIds.releasedAddress, maxSteps: 4 },
  { flaw: 'pool-never-freed', check: IpamIds.releasedPool, maxSteps: 3 },
  { flaw: 'bare-ip', check: IpamIds.cidrReply, maxSteps: 2 },
  { flaw: 'ignore-subpool', check: IpamIds.inSubPool, maxSteps: 2 },
  { flaw: 'full-returns-duplicate', check: IpamIds.exhaustionError, maxSteps: 2 },
  { flaw: 'race', check: 'ipam.concurrent-no-duplicate' },
  { flaw: 'race', check: 'ipam.concurrent-preferred-exclusive' },
  { flaw: 'release-wraps', check: 'ipam.release-unknown-harmless' },
];

describe('broken IPAM plugins are caught by the right check', () => {
  for (const c of cases) {
    it(`${c.flaw} -> ${c.check}`, async () => {
      const plugin = await startMiniIpam(dir.socket(`${c.flaw}-${c.check.length}`), [c.flaw]);
      try {
        const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['ipam'], checks: [c.check] }));
        const r = result(report, c.check);
        expect(r.status, r.message).toBe('failed');
        expect(report.summary.failing).toBe(1);
        const ce = r.counterexample!;
        expect(ce.calls.length).toBeGreaterThan(0);
        expect(ce.reproducer).toContain('curl');
        expect(ce.reproducer).toContain('--unix-socket');
        if (c.maxSteps !== undefined) {
          // Shrunk: the command list is minimal, not the random 30-step run.
          expect(ce.steps.length).toBeGreaterThan(0);
          expect(ce.steps.length).toBeLessThanOrEqual(c.maxSteps);
          expect(ce.path).toBeTruthy();
        }
        expect(r.replayPath && existsSync(r.replayPath)).toBe(true);
      } finally {
        await plugin.close();
      }
    });
  }

  it('a free list that accepts double releases hands out an address twice (separately written plugin)', async () => {
    const plugin = await startFreelistIpam(dir.socket('freelist'));
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['ipam'], checks: [IpamIds.noDuplicate] }));
      const r = result(report, IpamIds.noDuplicate);
      expect(r.status, r.message).toBe('failed');
      expect(r.message).toMatch(/a second time/);
      // Shrunk to: pool, address, release twice, two requests.
      expect(r.counterexample!.steps.length).toBeLessThanOrEqual(6);
      expect(r.counterexample!.steps.join(' ')).toMatch(/ReleaseAddress/);
    } finally {
      await plugin.close();
    }
  });

  // The whole suite against one flaw: the flaw's own check fails and nothing unrelated does.
  const isolated: { flaw: Flaw; fails: string[] }[] = [
    { flaw: 'ignore-preferred', fails: [IpamIds.preferred] },
    { flaw: 'release-noop', fails: [IpamIds.releasedAddress] },
    { flaw: 'bare-ip', fails: [IpamIds.cidrReply] },
    { flaw: 'ignore-subpool', fails: [IpamIds.inSubPool] },
    { flaw: 'pool-never-freed', fails: [IpamIds.releasedPool] },
    { flaw: 'accept-overlap', fails: [IpamIds.overlap] },
  ];
  for (const c of isolated) {
    it(`${c.flaw} fails only ${c.fails.join(', ')} (no collateral alarms)`, async () => {
      const plugin = await startMiniIpam(dir.socket(`iso-${c.flaw}`), [c.flaw]);
      try {
        const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['protocol', 'ipam'], runs: 20 }));
        const failing = report.checks.filter((r) => r.status === 'failed' && r.level !== 'compat').map((r) => r.id);
        expect(failing).toEqual(c.fails);
      } finally {
        await plugin.close();
      }
    });
  }

  it('the leak report lists pools the plugin still holds after cleanup', async () => {
    const plugin = await startMiniIpam(dir.socket('leaky'), ['pool-never-freed']);
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['ipam'], checks: ['ipam.pool-id-compat', 'ipam.subpool-request'] }));
      expect(report.leaks.map((l) => `${l.kind} ${l.check}`).sort()).toEqual(['pool ipam.pool-id-compat', 'pool ipam.subpool-request']);
      expect(report.leaks[0]!.detail).toMatch(/cannot be requested again/);
    } finally {
      await plugin.close();
    }
  });

  it('the correct independent plugin passes every ipam check at the default level', async () => {
    const plugin = await startMiniIpam(dir.socket('correct'));
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['ipam'] }));
      const failing = report.checks.filter((c) => c.status === 'failed' && c.level !== 'compat');
      expect(failing.map((f) => `${f.id}: ${f.message}`)).toEqual([]);
      expect(report.summary.passed).toBeGreaterThan(20);
    } finally {
      await plugin.close();
    }
  });
});
