import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import {
  AddressError,
  addressPart,
  formatIp,
  formatIPv4,
  formatIPv6,
  netContains,
  netsOverlap,
  parseCidr,
  parseIp,
  parseIpPrefix,
  readIpPrefix,
  type AddressErrorCode,
  type Family,
  type Ip,
} from '../../src/net/index.js';

const v4 = fc.integer({ min: 0, max: 0xffffffff }).map((value): Ip => ({ family: 4, value }));
const v6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((value): Ip => ({ family: 6, value }));
const anyIp = fc.oneof(v4, v6);
const withPrefix = anyIp.chain((ip) => fc.record({ ip: fc.constant(ip), prefix: fc.integer({ min: 0, max: ip.family === 4 ? 32 : 128 }) }));

/** The bits of `ip` from the top: an independent way to say what the network of a prefix is. */
function bitString(ip: Ip): string {
  return ip.family === 4 ? (ip.value as number).toString(2).padStart(32, '0') : (ip.value as bigint).toString(2).padStart(128, '0');
}

function codeOf(text: unknown, options?: Parameters<typeof readIpPrefix>[1]): AddressErrorCode | 'ok' {
  try {
    readIpPrefix(text, options);
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(AddressError);
    return (e as AddressError).code;
  }
}

describe('address/length: one parser', () => {
  it('round-trips: formatting then parsing gives the same address and length, host bits kept', () => {
    fc.assert(
      fc.property(withPrefix, ({ ip, prefix }) => {
        const text = `${formatIp(ip)}/${prefix}`;
        const p = readIpPrefix(text);
        expect(p.ip).toEqual(ip);
        expect(p.prefix).toBe(prefix);
        expect(p.text).toBe(text);
        // Canonical text is a fixed point.
        expect(readIpPrefix(p.text).text).toBe(p.text);
        expect(parseCidr(text)).toEqual(p.net);
      }),
      { numRuns: 500 },
    );
  });

  it('the network keeps the first `prefix` bits and clears the rest, and contains the address', () => {
    fc.assert(
      fc.property(withPrefix, ({ ip, prefix }) => {
        const p = readIpPrefix(`${formatIp(ip)}/${prefix}`);
        const base: Ip = { family: ip.family, value: p.net.base };
        const bits = bitString(ip);
        expect(bitString(base)).toBe(bits.slice(0, prefix).padEnd(bits.length, '0'));
        expect(p.net.hostBits).toBe(bits.length - prefix);
        expect(netContains(p.net, ip)).toBe(true);
        expect(p.net.text).toBe(`${formatIp(base)}/${prefix}`);
        // requireNetwork accepts exactly the texts whose host bits are zero.
        expect(codeOf(p.text, { requireNetwork: true })).toBe(base.value === ip.value ? 'ok' : 'E_ADDR_HOST_BITS');
      }),
      { numRuns: 500 },
    );
  });

  it('reads what ipaddr.js reads for canonical text (an independent implementation), in both families', () => {
    fc.assert(
      fc.property(withPrefix, ({ ip, prefix }) => {
        const text = `${formatIp(ip)}/${prefix}`;
        const [addr, len] = ipaddr.parseCIDR(text);
        expect(len).toBe(prefix);
        expect(addr.kind()).toBe(ip.family === 4 ? 'ipv4' : 'ipv6');
        const bytes = addr.toByteArray();
        let value = 0n;
        for (const b of bytes) value = (value << 8n) | BigInt(b);
        expect(value).toBe(BigInt(ip.value));
        // And prints IPv6 the way ipaddr.js's RFC 5952 form does (a single zero group is not shortened in either).
        if (ip.family === 6) expect(formatIPv6(ip.value as bigint)).toBe(addr.toString());
      }),
      { numRuns: 500 },
    );
  });

  it('reads non-canonical IPv6 (upper case, leading zeros in groups, embedded IPv4) to the same value', () => {
    fc.assert(
      fc.property(v6, fc.integer({ min: 0, max: 128 }), (ip, prefix) => {
        const v = ip.value as bigint;
        const groups = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
        const long = groups.map((g) => g.toString(16).toUpperCase().padStart(4, '0')).join(':');
        const dotted = `${groups.slice(0, 6).map((g) => g.toString(16)).join(':')}:${formatIPv4(Number(v & 0xffffffffn))}`;
        expect(readIpPrefix(`${long}/${prefix}`).ip).toEqual(ip);
        expect(readIpPrefix(`${dotted}/${prefix}`).ip).toEqual(ip);
      }),
      { numRuns: 300 },
    );
  });

  it('a bare address is a host prefix only when allowed', () => {
    fc.assert(
      fc.property(anyIp, (ip) => {
        const text = formatIp(ip);
        expect(codeOf(text)).toBe('E_ADDR_PREFIX');
        expect(parseIpPrefix(text)).toBeNull();
        const p = readIpPrefix(text, { allowBare: true });
        expect(p.prefix).toBe(ip.family === 4 ? 32 : 128);
        expect(p.ip).toEqual(ip);
        expect(p.net.base).toBe(ip.value);
        expect(addressPart(p.text)).toBe(text);
      }),
    );
  });

  it('prefix lengths beyond the family are E_ADDR_PREFIX_LENGTH', () => {
    fc.assert(
      fc.property(anyIp, fc.integer({ min: 0, max: 999 }), (ip, n) => {
        const max = ip.family === 4 ? 32 : 128;
        expect(codeOf(`${formatIp(ip)}/${n}`)).toBe(n > max ? 'E_ADDR_PREFIX_LENGTH' : 'ok');
      }),
    );
  });

  const bad: Array<[unknown, AddressErrorCode]> = [
    ['', 'E_ADDR_IP'],
    ['/24', 'E_ADDR_IP'],
    ['10.0.0/24', 'E_ADDR_IP'],
    ['010.0.0.1/24', 'E_ADDR_IP'], // Go >= 1.17: no leading zeros
    ['10.0.0.256/24', 'E_ADDR_IP'],
    ['167772161/8', 'E_ADDR_IP'], // one number is not an address for Go (ipaddr.js would take it)
    ['0x0a.0.0.1/8', 'E_ADDR_IP'],
    ['fe80::1%eth0/64', 'E_ADDR_IP'], // Go's ParseCIDR takes no zone
    ['1::2::3/64', 'E_ADDR_IP'],
    [' 10.0.0.1/24', 'E_ADDR_IP'],
    [24, 'E_ADDR_IP'],
    [null, 'E_ADDR_IP'],
    [undefined, 'E_ADDR_IP'],
    ['10.0.0.1', 'E_ADDR_PREFIX'],
    ['10.0.0.1/', 'E_ADDR_PREFIX'],
    ['10.0.0.1/-1', 'E_ADDR_PREFIX'],
    ['10.0.0.1/+8', 'E_ADDR_PREFIX'],
    ['10.0.0.1/ 8', 'E_ADDR_PREFIX'],
    ['10.0.0.1/8 ', 'E_ADDR_PREFIX'],
    ['10.0.0.1/24/8', 'E_ADDR_PREFIX'],
    ['10.0.0.1/33', 'E_ADDR_PREFIX_LENGTH'],
    ['::/129', 'E_ADDR_PREFIX_LENGTH'],
  ];
  for (const [text, code] of bad) {
    it(`rejects ${JSON.stringify(text)} with ${code}`, () => {
      expect(codeOf(text)).toBe(code);
      expect(parseIpPrefix(text)).toBeNull();
      expect(parseCidr(text)).toBeNull();
      expect(() => readIpPrefix(text)).toThrow(AddressError);
      expect(() => readIpPrefix(text)).toThrow(`"${String(text)}"`);
    });
  }

  it('host bits set are E_ADDR_HOST_BITS only where a network is required', () => {
    expect(readIpPrefix('10.0.0.5/24').text).toBe('10.0.0.5/24');
    expect(readIpPrefix('10.0.0.5/24').net.text).toBe('10.0.0.0/24');
    expect(codeOf('10.0.0.5/24', { requireNetwork: true })).toBe('E_ADDR_HOST_BITS');
    expect(codeOf('fd00::1/64', { requireNetwork: true })).toBe('E_ADDR_HOST_BITS');
    expect(readIpPrefix('FD00:0::/64', { requireNetwork: true }).text).toBe('fd00::/64');
  });

  it('overlap is symmetric and agrees with containment of the other base', () => {
    fc.assert(
      fc.property(withPrefix, withPrefix, (a, b) => {
        const na = readIpPrefix(`${formatIp(a.ip)}/${a.prefix}`).net;
        const nb = readIpPrefix(`${formatIp(b.ip)}/${b.prefix}`).net;
        const o = netsOverlap(na, nb);
        expect(netsOverlap(nb, na)).toBe(o);
        if (na.family !== nb.family) expect(o).toBe(false);
        const fam: Family = na.family;
        if (na.family === nb.family) {
          expect(o).toBe(netContains(na, { family: fam, value: nb.base }) || netContains(nb, { family: fam, value: na.base }));
        }
      }),
    );
  });

  it('parseIp and the address part of a prefix agree', () => {
    fc.assert(
      fc.property(withPrefix, ({ ip, prefix }) => {
        expect(parseIp(addressPart(`${formatIp(ip)}/${prefix}`))).toEqual(ip);
      }),
    );
  });
});
