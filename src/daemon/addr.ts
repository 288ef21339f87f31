/**
 * Address text the way the daemon (Go's `net` package) parses and prints it.
 * `parseIpNet` is `types.ParseCIDR`: it keeps the host bits (`10.0.0.2/24`).
 */
import { formatIp, parseCidr, parseIp, netContains, netsOverlap, type Ip, type Net } from '../ipam/address.js';

export interface IpNet {
  readonly ip: Ip;
  readonly prefix: number;
  /** Network (host bits zero). */
  readonly net: Net;
  /** `10.0.0.2/24`: address with its prefix, as Go prints an *net.IPNet from types.ParseCIDR. */
  readonly text: string;
}

/** Go's `net.ParseCIDR` keeping the address; null when invalid. */
export function parseIpNet(text: string): IpNet | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIp(text.slice(0, slash));
  const net = parseCidr(text);
  if (ip === null || net === null) return null;
  return { ip, prefix: net.prefix, net, text: `${formatIp(ip)}/${net.prefix}` };
}

/** Error text of Go's net.ParseCIDR. */
export function invalidCidr(text: string): string {
  return `invalid CIDR address: ${text}`;
}

export function ipText(ip: Ip): string {
  return formatIp(ip);
}

/** The bare IP of a CIDR text (`10.0.0.2/24` -> `10.0.0.2`). */
export function bareIp(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

/** `ip` with the prefix length of `pool` (how the daemon shows aux addresses and gateways). */
export function withPrefix(ip: Ip, pool: Net): string {
  return `${formatIp(ip)}/${pool.prefix}`;
}

export function contains(net: Net, ip: Ip): boolean {
  return netContains(net, ip);
}

export function overlaps(a: Net, b: Net): boolean {
  return netsOverlap(a, b);
}

/** Go's net.IP.IsGlobalUnicast for IPv6 (ULA included): not unspecified, loopback, link-local or multicast. */
export function isGlobalUnicast6(ip: Ip): boolean {
  if (ip.family !== 6) return true;
  const v = ip.value as bigint;
  if (v === 0n || v === 1n) return false;
  const top = Number(v >> 112n);
  if (top >> 8 === 0xff) return false;
  if ((top & 0xffc0) === 0xfe80) return false;
  return true;
}

/** Go's `net.ParseMAC` for 6-byte colon/hyphen text; normalised lower-case colon form or null. */
export function parseMacText(text: string): string | null {
  const m = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/.exec(text);
  if (m === null) return null;
  return [m[1], m[3], m[4], m[5], m[6], m[7]].join(':').toLowerCase();
}

/** Base64 of the 6 MAC bytes: how Go marshals a net.HardwareAddr inside an interface{} map. */
export function macBase64(mac: string): string {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).toString('base64');
}

export type { Ip, Net };
export { parseIp, parseCidr, formatIp };
