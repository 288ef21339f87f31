import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatIPv6, parseCidr, parseIp, parseIPv4, parseIPv6, formatIPv4 } from '../../src/net/index.js';
import { parseAddressPoolFlag, AddressPoolsError, createIpam } from '../../src/ipam/index.js';

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

describe('--default-address-pools syntax', () => {
  it('parses base and size in any order', () => {
    expect(parseAddressPoolFlag('base=172.80.0.0/16,size=24')).toEqual({ base: '172.80.0.0/16', size: 24 });
    expect(parseAddressPoolFlag('size=64,base=fd00::/48')).toEqual({ base: 'fd00::/48', size: 64 });
  });
  const bad: [string, RegExp][] = [
    ['', /empty address pool/],
    ['base=10.0.0.0/8', /missing size/],
    ['size=24', /missing base/],
    ['base=10.0.0.0/8,size=x', /invalid size 'x'/],
    ['base=10.0.0.0/8,size=24,colour=red', /unexpected key 'colour'/],
    ['base10.0.0.0/8', /expected key=value/],
    ['base=10.0.0.0,size=24', /invalid base pool "10.0.0.0"/],
    ['base=10.0.0.0/16,size=8', /invalid pools size: 8/],
    ['base=10.0.0.0/16,size=33', /invalid pools size: 33/],
    ['base=10.0.0.0/16,size=0', /invalid pools size: 0/],
  ];
  for (const [text, re] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      expect(() => parseAddressPoolFlag(text)).toThrow(AddressPoolsError);
      expect(() => parseAddressPoolFlag(text)).toThrow(re);
    });
  }
  it('createIpam validates lists too', () => {
    expect(() => createIpam({ defaultAddressPools: [{ base: '10.0.0.0/16', size: 12 }] })).toThrow(/invalid pools size: 12/);
  });
  it('a huge IPv6 base is not expanded', () => {
    const ipam = createIpam({ defaultAddressPools: [{ base: 'fd00::/8', size: 64 }] });
    expect(ipam.requestPool({ AddressSpace: 'LocalDefault', Pool: '', V6: true })).toMatchObject({ Pool: 'fd00::/64' });
    expect(ipam.requestPool({ AddressSpace: 'LocalDefault', Pool: '', V6: true })).toMatchObject({ Pool: 'fd00:0:0:1::/64' });
    // The list replaces Docker's: no IPv4 candidates left, found without walking 2^56 entries.
    expect(() => ipam.requestPool({ AddressSpace: 'LocalDefault', Pool: '', V6: false })).toThrow(/non-overlapping IPv4 address pool/);
  });
});
