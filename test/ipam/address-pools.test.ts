import { describe, expect, it } from 'vitest';
import { parseAddressPoolFlag, AddressPoolsError, createIpam } from '../../src/ipam/index.js';

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
