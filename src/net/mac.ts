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

/** Go's `net.ParseMAC` for the 6-byte forms `aa:bb:cc:dd:ee:ff` and `aa-bb-cc-dd-ee-ff` (what dockerd accepts), printed as the kernel prints it; null otherwise. */
export function canonicalGoMac(text: string): string | null {
  if (typeof text !== 'string' || text.length !== 17) return null;
  const sep = text[2];
  // One separator throughout: `aa-bb:cc…` is not a MAC.
  const bytes = sep === ':' ? parseMac(text) : sep === '-' && !text.includes(':') ? parseMac(text.replaceAll('-', ':')) : null;
  return bytes === null ? null : formatMac(bytes);
}

/** Base64 of the 6 bytes of `aa:bb:cc:dd:ee:ff`: how Go marshals a net.HardwareAddr inside an interface{} map. */
export function macBase64(mac: string): string {
  const bytes = parseMac(mac);
  if (bytes === null) throw new TypeError(`macBase64: not a MAC address: ${mac}`);
  return Buffer.from(bytes).toString('base64');
}

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
