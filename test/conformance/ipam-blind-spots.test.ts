/**
 * The IPAM blind spots of issue 12: each flaw of test/conformance/plugins/ipam-flaws.ts
 * (one realistic bug, written from protocol.md) is caught by the right new check with
 * a short counterexample naming the pool, the PoolID, the address and the call, while
 * every correct IPAM design, the correct independent plugins and the reference pass
 * the new checks on seeds 1..10.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipamBlindSpotChecks } from '../../conformance/ipam/blind-spot-checks.js';
import { runSuites } from '../../conformance/runner.js';
import type { ConformanceConfig } from '../../conformance/config.js';
import type { RunReport, Suite } from '../../conformance/types.js';
import { startReferenceTarget } from '../../src/cli/reference-target.js';
import { createIpam } from '../../src/ipam/index.js';
import { servePlugin } from '../../src/sdk/index.js';
import { startConfiguredPoolsIpam } from './designs/configured-pools-ipam.js';
import { startDockerFaithfulIpam } from './designs/docker-faithful-ipam.js';
import { startFixedGatewayIpam } from './designs/fixed-gateway-ipam.js';
import { startLocalOnlyIpam } from './designs/local-only-ipam.js';
import { startOptRequiredIpam } from './designs/opt-required-ipam.js';
import { startPerAddressIpam } from './designs/per-address-ipam.js';
import { startRandomIpam } from './designs/random-ipam.js';
import { startStatelessIpam } from './designs/stateless-ipam.js';
import { startDifferentIpam } from './plugins/different-ipam.js';
import { ipamBlindSpotFlawCases } from './flaw-cases.js';
import { startFreelistIpam } from './plugins/freelist-ipam.js';
import { startFlawedIpam } from './plugins/ipam-flaws.js';
import type { ListeningPlugin } from './plugins/listen.js';
import { startLooseIpam } from './plugins/loose-ipam.js';
import { startMiniIpam } from './plugins/mini-ipam.js';
import { quickConfig, result, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

const SUITE: Suite = { id: 'ipam', title: 'IPAM blind spots', checks: ipamBlindSpotChecks };
const IDS = ipamBlindSpotChecks.map((c) => c.id);

async function run(socket: string, config: Partial<ConformanceConfig>, restart?: () => Promise<void>): Promise<RunReport> {
  return runSuites({ socket }, quickConfig(dir, config), { suites: [SUITE], ...(restart ? { restart } : {}) });
}

/** `id: message` of every failing must/should check. */
const alarms = (r: RunReport): string[] => r.checks.filter((c) => c.status === 'failed' && c.level !== 'compat').map((c) => `${c.id}: ${c.message}`);

describe('each flaw is caught by its check with a short counterexample', () => {
  for (const c of ipamBlindSpotFlawCases) {
    it(`${c.flaw} -> ${c.id}`, async () => {
      const plugin = await startFlawedIpam(dir.socket(`flaw-${c.flaw}`), [c.flaw]);
      try {
        const report = await run(plugin.socketPath, { checks: [c.id] });
        const r = result(report, c.id);
        expect(r.status, r.message).toBe('failed');
        expect(r.message).toMatch(c.mentions);
        const steps = r.counterexample?.steps ?? [];
        expect(steps.length).toBeGreaterThan(0);
        expect(steps.length).toBeLessThanOrEqual(c.maxSteps);
        expect(r.counterexample?.calls.length).toBeGreaterThan(0);
        console.log(`${c.flaw} -> ${c.id}: ${steps.length} steps\n  ${steps.join('\n  ')}`);
      } finally {
        await plugin.close();
      }
    }, 30_000);
  }

  it('every flaw is caught by its check on seeds 1..10 (and only there among the new checks)', async () => {
    const missed: string[] = [];
    for (const c of ipamBlindSpotFlawCases) {
      for (let seed = 1; seed <= 10; seed++) {
        const plugin = await startFlawedIpam(dir.socket(`seeds-${c.flaw}-${seed}`), [c.flaw]);
        try {
          const report = await run(plugin.socketPath, { seed });
          const failed = report.checks.filter((x) => x.status === 'failed').map((x) => x.id);
          if (!failed.includes(c.id)) missed.push(`${c.flaw} seed ${seed}: ${c.id} ${result(report, c.id).status} (${result(report, c.id).message})`);
          const others = failed.filter((id) => id !== c.id);
          if (others.length > 0) missed.push(`${c.flaw} seed ${seed}: also failed ${others.join(', ')}`);
        } finally {
          await plugin.close();
        }
      }
    }
    expect(missed).toEqual([]);
  }, 120_000);

  it('state-lost-on-restart -> ipam.restart-keeps-allocations (restart passed through runSuites)', async () => {
    const plugin = await startFlawedIpam(dir.socket('flaw-restart'), ['state-lost-on-restart']);
    try {
      const report = await run(plugin.socketPath, { checks: ['ipam.restart-keeps-allocations'] }, () => plugin.restart());
      const r = result(report, 'ipam.restart-keeps-allocations');
      expect(r.status, r.message).toBe('failed');
      expect(r.message).toMatch(/after the restart .*10\.199\.\d+\.\d+\/28 \[PoolID ipf-\d+\]/);
      const steps = r.counterexample?.steps ?? [];
      expect(steps.some((s) => s.startsWith('restart the plugin'))).toBe(true);
      console.log(`state-lost-on-restart: ${steps.length} steps\n  ${steps.join('\n  ')}`);
    } finally {
      await plugin.close();
    }
  }, 30_000);

  it('addresses-lost-on-restart -> ipam.restart-keeps-allocations: a held address is granted again', async () => {
    const plugin = await startFlawedIpam(dir.socket('flaw-restart-addr'), ['addresses-lost-on-restart']);
    try {
      const report = await run(plugin.socketPath, { checks: ['ipam.restart-keeps-allocations'] }, () => plugin.restart());
      const r = result(report, 'ipam.restart-keeps-allocations');
      expect(r.status, r.message).toBe('failed');
      expect(r.message).toMatch(/after the restart RequestAddress 10\.199\.\d+\.\d+ \(preferred\) on 10\.199\.\d+\.\d+\/28 \[PoolID ipf-\d+\] was granted although/);
      expect(r.counterexample?.steps.length).toBe(4);
      console.log(`addresses-lost-on-restart: ${r.counterexample?.steps.length} steps\n  ${r.counterexample?.steps.join('\n  ')}`);
    } finally {
      await plugin.close();
    }
  }, 30_000);

  it('released-pool-serves -> the existing ipam.unknown-pool-refused (RequestAddress on a released PoolID)', async () => {
    const plugin = await startFlawedIpam(dir.socket('flaw-ghost'), ['released-pool-serves']);
    try {
      const report = await runSuites({ socket: plugin.socketPath }, quickConfig(dir, { suites: ['ipam'], checks: ['ipam.unknown-pool-refused'] }));
      const r = result(report, 'ipam.unknown-pool-refused');
      expect(r.status, r.message).toBe('failed');
      expect(r.message).toMatch(/PoolID "ipf-\d+" \(of 10\.199\.\d+\.\d+\/28, released\)/);
    } finally {
      await plugin.close();
    }
  }, 30_000);

  it('the same IPAM without flaws passes every new check, restart included', async () => {
    const plugin = await startFlawedIpam(dir.socket('flaw-none'), []);
    try {
      const report = await run(plugin.socketPath, {}, () => plugin.restart());
      expect(alarms(report)).toEqual([]);
      expect(report.checks.filter((c) => c.status === 'passed').map((c) => c.id).sort()).toEqual([...IDS].sort());
      expect(report.leaks).toEqual([]);
    } finally {
      await plugin.close();
    }
  }, 60_000);

  it('without a way to restart, ipam.restart-keeps-allocations skips and says what it needs', async () => {
    const plugin = await startFlawedIpam(dir.socket('flaw-norestart'), ['state-lost-on-restart']);
    try {
      const report = await run(plugin.socketPath, { checks: ['ipam.restart-keeps-allocations'] });
      const r = result(report, 'ipam.restart-keeps-allocations');
      expect(r.status).toBe('skipped');
      expect(r.message).toBe('needs --restart-cmd, or --image/--reference/a managed --plugin');
    } finally {
      await plugin.close();
    }
  }, 30_000);
});

const SEEDS = Array.from({ length: 10 }, (_, i) => i + 1);
/** Calico's pools, given to the run as --subnet (the only subnets it serves). */
const CALICO_POOLS = ['10.199.0.0/28', '10.199.0.16/28', '10.199.0.32/28', '10.199.0.48/28', 'fd00:c0::/124', 'fd00:c0::10/124'];

describe('correct IPAMs pass the new checks on seeds 1..10', () => {
  const targets: { name: string; start: (socket: string) => Promise<ListeningPlugin & { restart?: () => Promise<void> }>; config?: Partial<ConformanceConfig> }[] = [
    { name: 'docker-faithful', start: startDockerFaithfulIpam },
    { name: 'stateless', start: startStatelessIpam },
    { name: 'fixed-gateway', start: startFixedGatewayIpam },
    { name: 'random', start: (s) => startRandomIpam(s, 7) },
    { name: 'opt-required', start: startOptRequiredIpam, config: { ipamOpts: { parent: 'eth0' } } },
    { name: 'per-address', start: startPerAddressIpam },
    { name: 'configured-pools', start: (s) => startConfiguredPoolsIpam(s, CALICO_POOLS), config: { subnets: CALICO_POOLS } },
    { name: 'local-only', start: startLocalOnlyIpam },
    { name: 'different', start: startDifferentIpam },
    { name: 'loose', start: startLooseIpam },
    { name: 'mini (restarted, state kept)', start: (s) => startMiniIpam(s) },
    { name: 'freelist', start: startFreelistIpam },
  ];
  for (const d of targets) {
    it(d.name, async () => {
      const bySeed: Record<number, string[]> = {};
      const t0 = performance.now();
      let passed = 0;
      for (const seed of SEEDS) {
        const plugin = await d.start(dir.socket(`${d.name.split(' ')[0]}-${seed}`));
        try {
          const restart = plugin.restart ? () => plugin.restart!() : undefined;
          const report = await run(plugin.socketPath, { seed, ...d.config }, restart);
          const a = alarms(report);
          if (a.length > 0) bySeed[seed] = a;
          passed += report.checks.filter((c) => c.status === 'passed').length;
        } finally {
          await plugin.close();
        }
      }
      console.log(`${d.name}: ${IDS.length} new checks x ${SEEDS.length} seeds, ${passed} passed, in ${Math.round(performance.now() - t0)} ms`);
      expect(bySeed).toEqual({});
    }, 300_000);
  }

  it('the reference IPAM (in-process server) passes at compat on seeds 1..10', async () => {
    for (const seed of SEEDS) {
      const server = await servePlugin({ ipam: createIpam(), listen: { socket: dir.socket(`ref-${seed}`) } });
      try {
        const report = await run(dir.socket(`ref-${seed}`), { seed, level: 'compat' });
        expect(report.checks.filter((c) => c.status === 'failed').map((c) => `${seed} ${c.id}: ${c.message}`)).toEqual([]);
        expect(report.leaks).toEqual([]);
      } finally {
        await server.close();
      }
    }
  }, 120_000);

  it('the --reference target (durable state, restartable) passes, restart included', async () => {
    for (const seed of [1, 2, 3]) {
      const ref = await startReferenceTarget();
      try {
        const report = await run(ref.socket, { seed, level: 'compat' }, () => ref.restart());
        expect(report.checks.filter((c) => c.status === 'failed').map((c) => `${seed} ${c.id}: ${c.message}`)).toEqual([]);
        expect(result(report, 'ipam.restart-keeps-allocations').status).toBe('passed');
      } finally {
        await ref.close();
      }
    }
  }, 120_000);
});
