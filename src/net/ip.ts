/**
 * Bare IP addresses the way Go's `net` package reads and prints them (what
 * dockerd does): strict dotted quads (no leading zeros), RFC 4291 IPv6 text
 * with an optional trailing dotted quad, IPv6 printed per RFC 5952 as Go does
 * (a single zero group is not shortened).
 *
 * IPv4 values are unsigned 32-bit numbers; IPv6 values are bigints.
 */

export type Family = 4 | 6;

export interface Ip {
  readonly family: Family;
  readonly value: number | bigint;
}

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

/** Bits in an address of the family. */
export function familyBits(family: Family): 32 | 128 {
  return family === 4 ? 32 : 128;
}

export function sameIp(a: Ip, b: Ip): boolean {
  return a.family === b.family && a.value === b.value;
}

/** Go's net.IP.IsGlobalUnicast for IPv6 (ULA included): not unspecified, loopback, link-local or multicast. IPv4 is always true here. */
export function isGlobalUnicast6(ip: Ip): boolean {
  if (ip.family !== 6) return true;
  const v = ip.value as bigint;
  if (v === 0n || v === 1n) return false;
  const top = Number(v >> 112n);
  if (top >> 8 === 0xff) return false;
  if ((top & 0xffc0) === 0xfe80) return false;
  return true;
}
