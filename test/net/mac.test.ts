import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalGoMac, formatMac, isLocallyAdministered, isValidLinkMac, macBase64, parseMac, randomLinkMac } from '../../src/net/index.js';

const bytes6 = fc.uint8Array({ minLength: 6, maxLength: 6 });

describe('MAC addresses', () => {
  it('format then parse round-trips, in either case', () => {
    fc.assert(
      fc.property(bytes6, (b) => {
        const text = formatMac(b);
        expect(text).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        expect(parseMac(text)).toEqual(b);
        expect(parseMac(text.toUpperCase())).toEqual(b);
      }),
    );
  });

  it("Go's ParseMAC forms: colons or hyphens, one separator throughout", () => {
    fc.assert(
      fc.property(bytes6, (b) => {
        const text = formatMac(b);
        expect(canonicalGoMac(text.toUpperCase())).toBe(text);
        expect(canonicalGoMac(text.replaceAll(':', '-'))).toBe(text);
        expect(canonicalGoMac(text.replace(':', '-'))).toBeNull();
      }),
    );
    for (const bad of ['', '02:42:ac:11:00', '02:42:ac:11:00:02:03', '0242.ac11.0002', '02:42:ac:11:00:0g', '2:42:ac:11:00:02', '02-42-ac-11-00:02']) {
      expect(canonicalGoMac(bad)).toBeNull();
    }
  });

  it('generated link addresses are unicast, locally administered and not zero', () => {
    fc.assert(
      fc.property(bytes6, (b) => {
        const mac = parseMac(randomLinkMac(b))!;
        expect(isValidLinkMac(mac)).toBe(true);
        expect(isLocallyAdministered(mac)).toBe(true);
      }),
    );
    expect(isValidLinkMac(parseMac('01:00:5e:00:00:01')!)).toBe(false);
    expect(isValidLinkMac(parseMac('00:00:00:00:00:00')!)).toBe(false);
  });

  it("base64 of the 6 bytes, as Go marshals a HardwareAddr", () => {
    expect(macBase64('02:42:ac:11:00:02')).toBe(Buffer.from([2, 0x42, 0xac, 0x11, 0, 2]).toString('base64'));
    expect(() => macBase64('nope')).toThrow(TypeError);
  });
});
