/**
 * Minimal address arithmetic for the checks: addresses as bigint so IPv4 and
 * IPv6 share one code path. Parsing is strict (what dockerd's Go parser takes).
 */
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface Cidr {
  readonly family: Family;
  /** Network address (host bits zero). */
  readonly base: bigint;
  readonly prefix: number;
}

const bitsOf = (f: Family): number => (f === 4 ? 32 : 128);

export function parseIp(text: string): { family: Family; value: bigint } | null {
  if (!ipaddr.isValid(text)) return null;
  // ipaddr accepts shorthand like "10.1" or octal; dockerd's Go parser does not.
  // Go (1.17+) rejects leading zeros too (no octal); ipaddr.js would read "010" as 8.
  if (text.includes('.') && !text.includes(':') && !/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(text)) return null;
  const addr = ipaddr.parse(text);
  const bytes = addr.toByteArray();
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return { family: addr.kind() === 'ipv4' ? 4 : 6, value };
}

/** `a.b.c.d/n` or `x::y/n`; null when not a CIDR. Host bits are kept in `addr`. */
export function parseCidrWithAddress(text: string): { cidr: Cidr; addr: bigint } | null {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return null;
  const ip = parseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return null;
  const prefix = Number(lenText);
  if (prefix > bitsOf(ip.family)) return null;
  const mask = maskOf(ip.family, prefix);
  return { cidr: { family: ip.family, base: ip.value & mask, prefix }, addr: ip.value };
}

export function parseCidr(text: string): Cidr | null {
  return parseCidrWithAddress(text)?.cidr ?? null;
}

function maskOf(family: Family, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  const all = (1n << bits) - 1n;
  return all ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

export function sizeOf(c: Cidr): bigint {
  return 1n << BigInt(bitsOf(c.family) - c.prefix);
}

export function lastOf(c: Cidr): bigint {
  return c.base + sizeOf(c) - 1n;
}

export function contains(c: Cidr, family: Family, addr: bigint): boolean {
  return c.family === family && addr >= c.base && addr <= lastOf(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base <= lastOf(b) && b.base <= lastOf(a);
}

export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base === b.base && a.prefix === b.prefix;
}

export function formatIp(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  }
  const bytes: number[] = [];
  for (let i = 15; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 255n));
  return ipaddr.fromByteArray(bytes).toString();
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.base)}/${c.prefix}`;
}

export function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new TypeError(`not a CIDR: ${text}`);
  return c;
}

/** The `index`-th sub-network of length `prefix` inside `c`. */
export function subnet(c: Cidr, prefix: number, index: bigint | number): Cidr {
  const step = 1n << BigInt(bitsOf(c.family) - prefix);
  return { family: c.family, base: c.base + step * BigInt(index), prefix };
}

/** How many `prefix`-long sub-networks fit in `c` (capped for huge IPv6 ranges). */
export function subnetCount(c: Cidr, prefix: number): bigint {
  if (prefix < c.prefix) return 0n;
  return 1n << BigInt(prefix - c.prefix);
}

/** Addresses dockerd's default IPAM never hands out: IPv4 network+broadcast, IPv6 subnet-router anycast. */
export function isReserved(c: Cidr, addr: bigint): boolean {
  if (addr === c.base) return true;
  return c.family === 4 && c.prefix < 31 && addr === lastOf(c);
}

/** Usable host count as Docker counts it (ipam-semantics.md §2.1). */
export function usableCount(c: Cidr): bigint {
  const size = sizeOf(c);
  return c.family === 4 ? (c.prefix >= 31 ? 0n : size - 2n) : size - 1n;
}
