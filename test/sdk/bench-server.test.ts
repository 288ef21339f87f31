import { describe, expect, it } from 'vitest';
import { durationMs, memoryIpam, parseAnchorOutput } from '../../bench/server/main.js';
import { createPluginHandler, inject } from '../../src/sdk/index.js';

const POOL = 'LocalDefault/10.0.0.0/16';

describe('bench/server plumbing', () => {
  it('the in-memory IPAM hands out the lowest free address and reuses released ones', async () => {
    const h = createPluginHandler({ ipam: memoryIpam() });
    const addr = async (): Promise<string> => ((await inject(h, '/IpamDriver.RequestAddress', { PoolID: POOL })).json as { Address: string }).Address;
    expect(await addr()).toBe('10.0.0.2/16');
    expect(await addr()).toBe('10.0.0.3/16');
    for (let i = 0; i < 300; i++) await addr();
    expect(await addr()).toBe('10.0.1.48/16');
    expect((await inject(h, '/IpamDriver.ReleaseAddress', { PoolID: POOL, Address: '10.0.0.3' })).status).toBe(200);
    expect(await addr()).toBe('10.0.0.3/16');
    expect((await inject(h, '/IpamDriver.RequestAddress', { PoolID: 'other' })).status).toBe(500);
  });

  it('parses the anchor script output', () => {
    const out = [
      'go-anchor  c=1  requests=30104 errors=0 rps=10035 p50=93.76µs p99=196.068µs max=5.69ms',
      'candidate  c=16 requests=119664 errors=2 rps=39888 p50=25.238µs p99=57.957µs max=1.36ms',
      'noise line',
    ].join('\n');
    expect(parseAnchorOutput(out)).toEqual([
      { server: 'go-anchor', clients: 1, errors: 0, rps: 10035, p50: '93.76µs', p99: '196.068µs', max: '5.69ms' },
      { server: 'candidate', clients: 16, errors: 2, rps: 39888, p50: '25.238µs', p99: '57.957µs', max: '1.36ms' },
    ]);
  });

  it('reads Go durations in ms', () => {
    expect(durationMs('215.251µs')).toBeCloseTo(0.215251, 9);
    expect(durationMs('2.607437ms')).toBeCloseTo(2.607437, 9);
    expect(durationMs('1.2s')).toBe(1200);
    expect(durationMs('850ns')).toBeCloseTo(0.00085, 9);
    expect(durationMs('1m2s')).toBeNaN();
  });
});
