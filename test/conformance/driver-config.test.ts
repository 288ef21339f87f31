/** --driver-opt and --subnet shape every driver/lifecycle request; --netns and --restart-cmd bind onto the config. */
import { describe, expect, it } from 'vitest';
import { cidr, contains, parseCidr } from '../../conformance/cidr.js';
import { defaultConfig } from '../../conformance/config.js';
import { runSuites } from '../../conformance/runner.js';
import { configFromArgs, type CheckArgs } from '../../src/cli/check.js';
import { createReferencePlugin } from '../../src/reference/plugin.js';
import type { RawHandler } from '../../src/protocol/raw.js';
import { createPluginHandler } from '../../src/sdk/index.js';

describe('driver and lifecycle config', () => {
  it('driver opts reach every CreateNetwork as com.docker.network.generic; subnets fix the pools', async () => {
    const plugin = await createReferencePlugin({ backend: 'virtual' });
    const inner = createPluginHandler({ driver: plugin.driver, ipam: plugin.ipam });
    const creates: Array<{ Options?: Record<string, unknown>; IPv4Data?: Array<{ Pool: string }> }> = [];
    const handler: RawHandler = {
      handle(req, signal) {
        if (req.path === '/NetworkDriver.CreateNetwork') creates.push(JSON.parse(Buffer.from(req.body).toString('utf8')) as (typeof creates)[number]);
        return inner.handle(req, signal);
      },
    };
    try {
      const report = await runSuites({ handler }, { driverOpts: { mtu: '1400' }, subnets: ['10.78.0.0/28', '10.78.1.0/28'], runs: 8, replayDir: null, suites: ['driver', 'lifecycle'], netns: 'none' });
      expect(report.checks.filter((c) => c.status === 'failed').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
      expect(creates.length).toBeGreaterThan(10);
      const allowed = [cidr('10.78.0.0/28'), cidr('10.78.1.0/28')];
      for (const c of creates) {
        expect((c.Options?.['com.docker.network.generic'] as Record<string, string>)['mtu']).toBe('1400');
        for (const d of c.IPv4Data ?? []) {
          const p = parseCidr(d.Pool)!;
          expect(allowed.some((a) => contains(a, 4, p.base)), d.Pool).toBe(true);
        }
      }
    } finally {
      await plugin.close();
    }
  });

  it('--netns and --restart-cmd bind onto the config; bad values are usage errors', () => {
    const base = { level: 'should', profile: 'docker-20.10' } as CheckArgs;
    expect(configFromArgs(base).netns).toBe('auto');
    expect(configFromArgs(base).restartCmd).toBeNull();
    const c = configFromArgs({ ...base, netns: 'linux', 'restart-cmd': 'systemctl  restart my-plugin' });
    expect(c.netns).toBe('linux');
    expect(c.restartCmd).toEqual(['systemctl', 'restart', 'my-plugin']);
    expect(() => defaultConfig({ netns: 'bsd' as never })).toThrow(/--netns/);
    expect(() => configFromArgs({ ...base, 'restart-cmd': '   ' })).toThrow(/--restart-cmd/);
  });
});
