/** The summary's per-method latency: nearest-rank percentiles, exact count and max, bounded memory. */
import { describe, expect, it } from 'vitest';
import { formatSummary, percentile, SessionStats } from '../../src/record/summary.js';

describe('session summary', () => {
  it('nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBe(0);
  });

  it('counts calls and violations per level, latency per method', () => {
    const s = new SessionStats();
    for (let i = 1; i <= 200; i++) s.add('IpamDriver.RequestAddress', i / 10, i === 5 ? ['must', 'compat'] : []);
    s.add('NetworkDriver.Join', 3, ['should']);
    const sum = s.summary(new Date(0));
    expect(sum.calls).toBe(201);
    expect(sum.violations).toEqual({ must: 1, should: 1, compat: 1 });
    expect(sum.latency['IpamDriver.RequestAddress']).toEqual({ n: 200, p50Ms: 10, p99Ms: 19.8, maxMs: 20 });
    expect(formatSummary(sum)).toMatch(/201 calls, violations: 1 must, 1 should, 1 compat\nmethod +n +p50 ms +p99 ms +max ms\nIpamDriver.RequestAddress +200 +10.000 +19.800 +20.000/);
  });

  it('a long session keeps a bounded sample but the exact count and max', () => {
    const s = new SessionStats();
    for (let i = 0; i < 250_000; i++) s.add('X', i % 1000 === 0 ? 5 : 1, []);
    s.add('X', 99, []);
    const l = s.latency()['X']!;
    expect(l.n).toBe(250_001);
    expect(l.maxMs).toBe(99);
    expect(l.p50Ms).toBe(1);
  });
});
