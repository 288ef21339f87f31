/**
 * Each deliberately broken IPAM plugin (one realistic flaw in an otherwise
 * correct, independently written plugin) is caught by the right check, with a
 * shrunk counterexample, a seed and a replay file.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpamIds } from '../../conformance/ipam/ids.js';
import { type FixtureMethods, refuse, serveFixture } from './designs/serve.js';
import { parseNet, fmtNet } from './designs/shared-ipam.js';
import { statefulIpamMethods } from './designs/stateful-ipam.js';
import { ipamFlawCases } from './flaw-cases.js';
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

describe('broken IPAM plugins are caught by the right check', () => {
  for (const c of ipamFlawCases) {
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

  it('a leaked pool is caught on every seed (1..20), not only when a random slot comes back to it', async () => {
    const missed: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const plugin = await startMiniIpam(dir.socket(`leak-${seed}`), ['pool-never-freed']);
      try {
        const report = await runOn(plugin.socketPath, quickConfig(dir, { seed, runs: 100, suites: ['ipam'], checks: [IpamIds.releasedPool] }));
        if (result(report, IpamIds.releasedPool).status !== 'failed') missed.push(seed);
      } finally {
        await plugin.close();
      }
    }
    expect(missed).toEqual([]);
  });

  it('a refused SubPool on a released subnet is asked again without it: no alarm for a plugin without --ip-range, an alarm when the pool leaked', async () => {
    const noSubPool = (base: FixtureMethods): FixtureMethods =>
      wrap(base, {
        '/IpamDriver.RequestPool': (b) => (typeof b['SubPool'] === 'string' && b['SubPool'] !== '' ? refuse('SubPool is not supported') : base['/IpamDriver.RequestPool']!(b)),
      });
    for (const seed of [1, 2, 3, 4, 5]) {
      const correct = await serveFixture(dir.socket(`nosub-${seed}`), noSubPool(statefulIpamMethods()), { implements: ['IpamDriver'] });
      try {
        const report = await runOn(correct.socketPath, quickConfig(dir, { seed, runs: 100, suites: ['ipam'], checks: [IpamIds.releasedPool] }));
        const r = result(report, IpamIds.releasedPool);
        expect(r.status, `seed ${seed}: ${r.message}`).toBe('passed');
        expect(report.leaks).toEqual([]);
      } finally {
        await correct.close();
      }
      // FLAW: ReleasePool answers success and keeps the subnet.
      const leaky = await serveFixture(dir.socket(`nosub-leaky-${seed}`), wrap(noSubPool(statefulIpamMethods()), { '/IpamDriver.ReleasePool': () => ({}) }), {
        implements: ['IpamDriver'],
      });
      try {
        const report = await runOn(leaky.socketPath, quickConfig(dir, { seed, runs: 100, suites: ['ipam'], checks: [IpamIds.releasedPool] }));
        const r = result(report, IpamIds.releasedPool);
        expect(r.status, `seed ${seed}: ${r.message}`).toBe('failed');
        expect(r.message).toMatch(/refused.* after that pool was released/);
      } finally {
        await leaky.close();
      }
    }
  });

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

  // Flaws on top of the plain stateful design (test/conformance/designs/stateful-ipam.ts), one wrapper each.
  const wrap = (base: FixtureMethods, over: Partial<FixtureMethods>): FixtureMethods => ({ ...base, ...Object.fromEntries(Object.entries(over)) }) as FixtureMethods;

  it('a pool other than the one asked for is reported, and the model goes on checking the pool it returned', async () => {
    const base = statefulIpamMethods();
    // FLAW: every explicit pool is moved to the next subnet of the same size, and addresses come back bare (no /len).
    const methods = wrap(base, {
      '/IpamDriver.RequestPool': (b) => {
        const net = parseNet(typeof b['Pool'] === 'string' ? b['Pool'] : '');
        const moved = net ? fmtNet({ ...net, base: net.last + 1n, last: net.last + net.size }) : b['Pool'];
        return base['/IpamDriver.RequestPool']!({ ...b, Pool: moved, SubPool: '' });
      },
      '/IpamDriver.RequestAddress': (b) => {
        const a = base['/IpamDriver.RequestAddress']!(b) as { Address: string };
        return { ...a, Address: a.Address.split('/')[0] };
      },
    });
    const plugin = await serveFixture(dir.socket('moved-pool'), methods, { implements: ['IpamDriver'] });
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['ipam'], checks: [IpamIds.requestPool, IpamIds.cidrReply] }));
      const pool = result(report, IpamIds.requestPool);
      expect(pool.status, pool.message).toBe('failed');
      expect(pool.message).toMatch(/answered Pool "10\.199\.\d+\.\d+\/28" \[PoolID [^\]]+\]; the pool must be the requested subnet 10\.199\.\d+\.\d+\/28/);
      // Before, the model dropped the pool and ipam.address-cidr passed having checked nothing.
      const cidr = result(report, IpamIds.cidrReply);
      expect(cidr.status, cidr.message).toBe('failed');
      expect(cidr.message).toMatch(/RequestAddress .*on 10\.199\.\d+\.\d+\/28 \[PoolID [^\]]+\] returned "10\.199[^"]*", not a CIDR/);
    } finally {
      await plugin.close();
    }
  });

  it('a plugin refusing every address for an unrelated reason: request-options-tolerated skips (no baseline), gateway-request fails', async () => {
    // FLAW: the address backend (say a DHCP server) is unreachable.
    const methods = wrap(statefulIpamMethods(), { '/IpamDriver.RequestAddress': () => refuse('DHCP server 192.0.2.1 unreachable') });
    const plugin = await serveFixture(dir.socket('no-addresses'), methods, { implements: ['IpamDriver'] });
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['ipam'], checks: ['ipam.request-options-tolerated', IpamIds.gateway, IpamIds.noDuplicate] }));
      const options = result(report, 'ipam.request-options-tolerated');
      expect(options.status, options.message).toBe('skipped');
      expect(options.message).toMatch(/baseline RequestAddress .* Options null.*DHCP server 192\.0\.2\.1 unreachable/);
      expect(result(report, IpamIds.gateway).status).toBe('failed');
      // Nothing was handed out, so nothing was checked: skipped with the reason, not passed.
      expect(result(report, IpamIds.noDuplicate).status).toBe('skipped');
      expect(result(report, IpamIds.noDuplicate).message).toMatch(/no address was handed out/);
    } finally {
      await plugin.close();
    }
  });

  it('identical pools: another address for a taken preferred one is the preferred check\'s flaw, not a duplicate', async () => {
    const base = statefulIpamMethods({ scope: 'per-address', poolId: (_s, net, _sub, n) => `p${n}-${net.prefix}` });
    // FLAW: a preferred address in use is treated as a hint (another free address is answered).
    const methods = wrap(base, {
      '/IpamDriver.RequestAddress': (b) => {
        try {
          return base['/IpamDriver.RequestAddress']!(b);
        } catch {
          return base['/IpamDriver.RequestAddress']!({ ...b, Address: '' });
        }
      },
    });
    const plugin = await serveFixture(dir.socket('hint'), methods, { implements: ['IpamDriver'] });
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['ipam'], checks: ['ipam.identical-pool-request', IpamIds.preferred] }));
      const identical = result(report, 'ipam.identical-pool-request');
      expect(identical.status, identical.message).toBe('passed');
      expect(identical.notes.join(' ')).toMatch(/identical RequestPool 10\.199\.\d+\.\d+\/28 accepted \(PoolIDs p\d+-28 and p\d+-28\)/);
      expect(result(report, IpamIds.preferred).status).toBe('failed');
    } finally {
      await plugin.close();
    }
  });

  it('identical pools with separate allocation: the verdict names both pools, the address and the call', async () => {
    // FLAW: overlapping (here identical) pools granted, each with its own address set.
    const methods = statefulIpamMethods({ grantOverlap: true, poolId: (_s, net, _sub, n) => `p${n}-${net.prefix}` });
    const plugin = await serveFixture(dir.socket('identical'), methods, { implements: ['IpamDriver'] });
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['ipam'], checks: ['ipam.identical-pool-request'] }));
      const r = result(report, 'ipam.identical-pool-request');
      expect(r.status, r.message).toBe('failed');
      expect(r.message).toMatch(/RequestPool 10\.199\.\d+\.\d+\/28 was granted twice, and RequestAddress 10\.199\.\d+\.\d+ \(preferred\) on 10\.199\.\d+\.\d+\/28 \[PoolID p\d+-28\] was granted although 10\.199\.\d+\.\d+ is allocated through 10\.199\.\d+\.\d+\/28 \[PoolID p\d+-28\]/);
    } finally {
      await plugin.close();
    }
  });
});
