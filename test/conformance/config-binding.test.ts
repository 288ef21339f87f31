/** --ipam-opt reaches every RequestPool and --subnet fixes the pools used. */
import { describe, expect, it } from 'vitest';
import { runSuites } from '../../conformance/runner.js';
import { cidr, contains, parseCidr } from '../../conformance/cidr.js';
import type { RawHandler } from '../../src/protocol/raw.js';
import { createIpam } from '../../src/ipam/index.js';
import { createPluginHandler } from '../../src/sdk/index.js';

describe('config binding', () => {
  it('ipam opts and subnets shape every RequestPool', async () => {
    const inner = createPluginHandler({ ipam: createIpam() });
    const pools: { Pool?: string; Options?: Record<string, string> | null }[] = [];
    const handler: RawHandler = {
      handle(req, signal) {
        if (req.path === '/IpamDriver.RequestPool') {
          try {
            pools.push(JSON.parse(Buffer.from(req.body).toString('utf8')) as (typeof pools)[number]);
          } catch {
            // malformed bodies from the protocol suite
          }
        }
        return inner.handle(req, signal);
      },
    };
    const report = await runSuites({ handler }, { ipamOpts: { parent: 'eth9' }, subnets: ['10.77.0.0/28', '10.77.1.0/28', 'fd00:77::/124'], runs: 10, replayDir: null, suites: ['ipam'] });
    expect(report.summary.failed).toBe(0);
    const explicit = pools.filter((p) => p.Pool);
    expect(explicit.length).toBeGreaterThan(10);
    const allowed = [cidr('10.77.0.0/27'), cidr('10.77.1.0/27'), cidr('fd00:77::/123')];
    for (const p of explicit) {
      const c = parseCidr(p.Pool!)!;
      // The given pools, their halves (overlap probes) or their parents (outer probes).
      expect(allowed.some((a) => contains(a, c.family, c.base)), p.Pool).toBe(true);
    }
    const withOpts = pools.filter((p) => p.Options && p.Options['parent'] === 'eth9');
    expect(withOpts.length).toBeGreaterThan(pools.length * 0.9);
  });
});
