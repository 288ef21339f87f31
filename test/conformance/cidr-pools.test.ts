import { describe, expect, it } from 'vitest';
import { cidr, formatCidr, formatIp, isReserved, overlaps, parseCidr, parseIp, usableCount } from '../../conformance/cidr.js';
import { createPoolPlan, innerOf, outerOf, subPoolOf } from '../../conformance/pools.js';

describe('cidr', () => {
  it('parses strictly, like Go', () => {
    expect(parseIp('10.1')).toBeNull();
    expect(parseIp('010.1.2.3')).toBeNull();
    expect(parseCidr('10.0.0.5')).toBeNull();
    expect(parseCidr('10.0.0.5/33')).toBeNull();
    expect(formatCidr(cidr('10.0.0.5/24'))).toBe('10.0.0.0/24');
    expect(formatCidr(cidr('fd00:c0::1/64'))).toBe('fd00:c0::/64');
  });
  it('knows reserved addresses and usable counts (ipam-semantics.md §2.1)', () => {
    const c = cidr('10.9.0.0/28');
    expect(usableCount(c)).toBe(14n);
    expect(isReserved(c, c.base)).toBe(true);
    expect(isReserved(c, c.base + 15n)).toBe(true);
    expect(isReserved(c, c.base + 14n)).toBe(false);
    const v6 = cidr('fd00::/124');
    expect(usableCount(v6)).toBe(15n);
    expect(isReserved(v6, v6.base + 15n)).toBe(false);
    expect(formatIp(6, v6.base + 15n)).toBe('fd00::f');
  });
});

describe('pool plan', () => {
  it('hands out disjoint arenas of small pools', () => {
    const plan = createPoolPlan({ subnets: [], defaultV4Base: '10.199.0.0/16', defaultV6Base: 'fd00:c0::/48' });
    const a = plan.next();
    const b = plan.next();
    expect(a.v4.map(formatCidr)).toEqual(['10.199.0.0/28', '10.199.0.16/28', '10.199.0.32/28', '10.199.0.48/28']);
    expect(b.v4[0] && formatCidr(b.v4[0])).toBe('10.199.0.64/28');
    expect(a.v6.map(formatCidr)).toEqual(['fd00:c0::/124', 'fd00:c0::10/124']);
    for (const x of [...a.v4, ...a.v6]) for (const y of [...b.v4, ...b.v6]) expect(overlaps(x, y)).toBe(false);
  });
  it('uses --subnet values as they are', () => {
    const plan = createPoolPlan({ subnets: ['192.168.50.0/24', 'fd12::/120'], defaultV4Base: '10.199.0.0/16', defaultV6Base: 'fd00:c0::/48' });
    const a = plan.next();
    expect(a.fixed).toBe(true);
    expect(a.v4.map(formatCidr)).toEqual(['192.168.50.0/24']);
    expect(plan.next().v6.map(formatCidr)).toEqual(['fd12::/120']);
  });
  it('derives overlap probes and sub-pools', () => {
    const c = cidr('10.199.0.16/28');
    expect(formatCidr(innerOf(c)!)).toBe('10.199.0.16/29');
    expect(formatCidr(outerOf(c)!)).toBe('10.199.0.0/27');
    expect(formatCidr(subPoolOf(c)!)).toBe('10.199.0.24/29');
  });
});
