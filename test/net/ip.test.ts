import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatIPv6, parseCidr, parseIp, parseIPv4, parseIPv6, formatIPv4 } from '../../src/net/index.js';

describe('IP text like Go', () => {
  it('parses strict dotted quads', () => {
    expect(parseIPv4('10.0.0.1')).toBe(0x0a000001);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['010.0.0.1', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1..2.3', '+1.2.3.4', '1.2.3.4 ', '']) expect(parseIPv4(bad)).toBe(-1);
  });
  it('parses IPv6 forms', () => {
    expect(parseIPv6('::')).toBe(0n);
    expect(parseIPv6('::1')).toBe(1n);
    expect(parseIPv6('fd00:ab::ff')).toBe((0xfd00n << 112n) | (0xabn << 96n) | 0xffn);
    expect(parseIPv6('::ffff:10.0.0.1')).toBe((0xffffn << 32n) | 0x0a000001n);
    expect(parseIPv6('1:2:3:4:5:6:1.2.3.4')).toBe(parseIPv6('1:2:3:4:5:6:102:304'));
    for (const bad of [':', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '1:2:3:4:5:6:7', '::1.2.3']) expect(parseIPv6(bad)).toBe(-1n);
  });
  it('prints IPv6 per RFC 5952 as Go does', () => {
    expect(formatIPv6(parseIPv6('1003:1:2:3:4:5:6:0'))).toBe('1003:1:2:3:4:5:6:0');
    expect(formatIPv6(parseIPv6('fd00:0:0:1:0:0:0:5'))).toBe('fd00:0:0:1::5');
    expect(formatIPv6(parseIPv6('1:0:0:2:0:0:0:3'))).toBe('1:0:0:2::3');
    expect(formatIPv6(parseIPv6('1:0:0:2:0:0:3:4'))).toBe('1::2:0:0:3:4');
    expect(formatIPv6(0n)).toBe('::');
    expect(formatIPv6(parseIPv6('FD00::ABCD'))).toBe('fd00::abcd');
  });
  it('IPv6 print/parse round-trips', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => parseIPv6(formatIPv6(v)) === v));
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => parseIPv4(formatIPv4(v)) === v));
  });
  it('canonicalises CIDRs', () => {
    expect(parseCidr('10.0.0.5/8')?.text).toBe('10.0.0.0/8');
    expect(parseCidr('fd00:cd:0:1::5/48')?.text).toBe('fd00:cd::/48');
    expect(parseCidr('0.0.0.0/0')?.text).toBe('0.0.0.0/0');
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/ 8', '::/129', 'x/8']) expect(parseCidr(bad)).toBeNull();
    expect(parseIp('10.0.0.1')?.family).toBe(4);
    expect(parseIp('::1')?.family).toBe(6);
  });
});
