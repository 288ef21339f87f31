/**
 * Ethernet MAC addresses as the kernel sees them: 6 bytes, printed
 * `aa:bb:cc:dd:ee:ff` in lower case. A link address must be unicast and not
 * all zeros (`is_valid_ether_addr`), else EADDRNOTAVAIL.
 */

const MAC_TEXT = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;

/** The 6 bytes of `aa:bb:cc:dd:ee:ff` (either case); null when malformed. */
export function parseMac(text: string): Uint8Array | null {
  if (!MAC_TEXT.test(text)) return null;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[i] = parseInt(text.slice(3 * i, 3 * i + 2), 16);
  return out;
}

const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export function formatMac(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += i === 0 ? HEX2[bytes[i]!]! : `:${HEX2[bytes[i]!]!}`;
  return out;
}

/** `is_valid_ether_addr`: not multicast (bit 0 of the first byte) and not 00:00:00:00:00:00. */
export function isValidLinkMac(bytes: Uint8Array): boolean {
  return (bytes[0] & 1) === 0 && bytes.some((b) => b !== 0);
}

/** Locally administered (bit 1 of the first byte): what `eth_random_addr` and generated MACs use. */
export function isLocallyAdministered(bytes: Uint8Array): boolean {
  return (bytes[0] & 2) === 2;
}

/**
 * `eth_random_addr` over a caller-supplied source of 6 random bytes: clears the
 * multicast bit and sets the locally-administered bit.
 */
export function randomLinkMac(random6: Uint8Array): string {
  const b = Uint8Array.from(random6.subarray(0, 6));
  b[0] = (b[0] & 0xfe) | 0x02;
  if (!isValidLinkMac(b)) b[5] = 1;
  return formatMac(b);
}
