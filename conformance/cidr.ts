/**
 * Address arithmetic of the conformance models: addresses as bigint so IPv4
 * and IPv6 share one code path (sizes, reserved addresses, overlap, sub-pools).
 *
 * Reading and printing address text is NOT modelled here: it uses src/net, the
 * leaf module that reads text the way dockerd's Go parser does. src/net belongs
 * to no implementation (it imports nothing from cnmkit, and the reference IPAM
 * and driver are its clients just as this is), so using it keeps the suites
 * independent of the reference while every layer agrees on what is an address.
 * The independent oracle for the parser itself is test/net (checked against
 * ipaddr.js and against Go's rules); the oracle role of this file lies in the
 * semantics below, which never come from src/ipam.
 */
import { formatIPv4, formatIPv6, parseIp as parseNetIp, parseIpPrefix } from '../src/net/index.js';

export type Family = 4 | 6;

export interface Cidr {
  readonly family: Family;
  /** Network address (host bits zero). */
  readonly base: bigint;
  readonly prefix: number;
}

const bitsOf = (f: Family): number => (f === 4 ? 32 : 128);

/** A bare IP as dockerd's Go parser reads it (strict dotted quads, no zones); null otherwise. */
export function parseIp(text: string): { family: Family; value: bigint } | null {
  const ip = parseNetIp(text);
  return ip === null ? null : { family: ip.family, value: BigInt(ip.value) };
}

/** `a.b.c.d/n` or `x::y/n`; null when not a CIDR. Host bits are kept in `addr`. */
export function parseCidrWithAddress(text: string): { cidr: Cidr; addr: bigint } | null {
  const p = parseIpPrefix(text);
  if (p === null) return null;
  return { cidr: { family: p.ip.family, base: BigInt(p.net.base), prefix: p.prefix }, addr: BigInt(p.ip.value) };
}

export function parseCidr(text: string): Cidr | null {
  return parseCidrWithAddress(text)?.cidr ?? null;
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
  return family === 4 ? formatIPv4(Number(value)) : formatIPv6(value);
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
