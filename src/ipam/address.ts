/**
 * IP addresses and networks the way Go's `net` package reads and prints them
 * (what Docker 20.10 does): strict dotted quads (no leading zeros), RFC 4291
 * IPv6 text with an optional trailing dotted quad, CIDRs canonicalised by
 * masking, IPv6 printed per RFC 5952 (a single zero group is not shortened).
 *
 * IPv4 values are unsigned 32-bit numbers; IPv6 values are bigints.
 */

export type Family = 4 | 6;

export interface Net {
  readonly family: Family;
  readonly prefix: number;
  /** Number of host bits: 32 - prefix or 128 - prefix. */
  readonly hostBits: number;
  /** Network address: a number for IPv4, a bigint for IPv6. */
  readonly base: number | bigint;
  /** Canonical text, e.g. `10.0.0.0/8`, `fd00:1:2:3:4:5:6:0/112`. */
  readonly text: string;
}

export interface Ip {
  readonly family: Family;
  readonly value: number | bigint;
}

const DEC = /^[0-9]+$/;

/** Strict dotted quad (Go >= 1.17: no leading zeros). Returns the uint32 or -1. */
export function parseIPv4(text: string): number {
  // One pass over the characters (this runs on every address of every call).
  let v = 0;
  let parts = 0;
  let n = 0;
  let digits = 0;
  let leadingZero = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 46 : text.charCodeAt(i);
    if (c === 46) {
      // '.' or the end
      if (digits === 0 || (leadingZero && digits > 1) || n > 255) return -1;
      v = v * 256 + n;
      parts++;
      if (parts > 4) return -1;
      n = 0;
      digits = 0;
      continue;
    }
    if (c < 48 || c > 57) return -1;
    if (digits === 0) leadingZero = c === 48;
    if (++digits > 3) return -1;
    n = n * 10 + (c - 48);
  }
  return parts === 4 ? v : -1;
}

const HEX = /^[0-9a-fA-F]{1,4}$/;

/** RFC 4291 text form; returns the 128-bit value or -1n. */
export function parseIPv6(text: string): bigint {
  if (text.length < 2 || text.length > 45) return -1n;
  let groups: number[] = [];
  let tail4 = -1;
  const lastColon = text.lastIndexOf(':');
  let head = text;
  if (text.indexOf('.', lastColon) >= 0) {
    tail4 = parseIPv4(text.slice(lastColon + 1));
    if (tail4 < 0) return -1n;
    head = text.slice(0, lastColon + 1);
    // `::1.2.3.4` keeps its `::`; `a:b:...:1.2.3.4` leaves a trailing ':' to drop.
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const want = tail4 >= 0 ? 6 : 8;
  const dbl = head.indexOf('::');
  const parseList = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!HEX.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  if (dbl >= 0) {
    if (head.indexOf('::', dbl + 1) >= 0) return -1n;
    const left = parseList(head.slice(0, dbl));
    const right = parseList(head.slice(dbl + 2));
    if (left === null || right === null) return -1n;
    const fill = want - left.length - right.length;
    if (fill < 1) return -1n;
    groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    const all = parseList(head);
    if (all === null || all.length !== want) return -1n;
    groups = all;
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  if (tail4 >= 0) v = (v << 32n) | BigInt(tail4);
  return v;
}

/** Parses a bare IP address (either family); null when it is not one. */
export function parseIp(text: string): Ip | null {
  if (text.includes(':')) {
    const v = parseIPv6(text);
    return v < 0n ? null : { family: 6, value: v };
  }
  const v = parseIPv4(text);
  return v < 0 ? null : { family: 4, value: v };
}

export function formatIPv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** RFC 5952 as Go prints it: longest run (>= 2) of zero groups becomes `::`, first run on ties. */
export function formatIPv6(v: bigint): string {
  const g = new Array<number>(8);
  const words = [Number((v >> 96n) & 0xffffffffn), Number((v >> 64n) & 0xffffffffn), Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn)];
  for (let i = 0; i < 4; i++) {
    g[2 * i] = words[i] >>> 16;
    g[2 * i + 1] = words[i] & 0xffff;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':');
  const left = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const right = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${left}::${right}`;
}

export function formatIp(ip: Ip): string {
  return ip.family === 4 ? formatIPv4(ip.value as number) : formatIPv6(ip.value as bigint);
}

const MASK128 = (1n << 128n) - 1n;

/** Go net.ParseCIDR + canonicalisation (`10.0.0.5/8` -> `10.0.0.0/8`); null when invalid. */
export function parseCidr(text: string): Net | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const addr = text.slice(0, slash);
  const len = text.slice(slash + 1);
  if (!DEC.test(len) || len.length > 3) return null;
  const prefix = Number(len);
  const ip = parseIp(addr);
  if (ip === null) return null;
  if (ip.family === 4) {
    if (prefix > 32) return null;
    return makeNet4(ip.value as number, prefix);
  }
  if (prefix > 128) return null;
  return makeNet6(ip.value as bigint, prefix);
}

export function makeNet4(addr: number, prefix: number): Net {
  const hostBits = 32 - prefix;
  const size = 2 ** hostBits;
  const base = addr - (addr % size);
  return { family: 4, prefix, hostBits, base, text: `${formatIPv4(base)}/${prefix}` };
}

export function makeNet6(addr: bigint, prefix: number): Net {
  const hostBits = 128 - prefix;
  const base = addr & (MASK128 ^ ((1n << BigInt(hostBits)) - 1n));
  return { family: 6, prefix, hostBits, base, text: `${formatIPv6(base)}/${prefix}` };
}

/** Last address of the network. */
export function netEnd(n: Net): number | bigint {
  return n.family === 4 ? (n.base as number) + 2 ** n.hostBits - 1 : (n.base as bigint) + (1n << BigInt(n.hostBits)) - 1n;
}

/** Go IPNet.Contains for same-family values. */
export function netContains(n: Net, ip: Ip): boolean {
  if (ip.family !== n.family) return false;
  if (n.family === 4) {
    const v = ip.value as number;
    return v >= (n.base as number) && v <= (netEnd(n) as number);
  }
  const v = ip.value as bigint;
  return v >= (n.base as bigint) && v <= (netEnd(n) as bigint);
}

/** Either network contains the other's base address (Docker's overlap test). */
export function netsOverlap(a: Net, b: Net): boolean {
  if (a.family !== b.family) return false;
  return netContains(a, { family: b.family, value: b.base }) || netContains(b, { family: a.family, value: a.base });
}
