/**
 * Address arithmetic the IPAM design fixtures share (bigint addresses, strict
 * CIDR parsing, Go's text forms). Written for the fixtures only: they must not
 * borrow the checker's own arithmetic (conformance/cidr.ts) or src/.
 */
import ipaddr from 'ipaddr.js';
import { refuse } from './serve.js';

export type Fam = 4 | 6;

export interface Net {
  readonly family: Fam;
  /** Network address (host bits cleared). */
  readonly base: bigint;
  readonly prefix: number;
  /** 32 or 128. */
  readonly bits: number;
  readonly size: bigint;
  readonly last: bigint;
}

/** An IP address as Go's net.ParseIP takes it (no shorthand, no leading zeros). */
export function parseAddr(text: string): { family: Fam; value: bigint } | null {
  if (typeof text !== 'string' || !ipaddr.isValid(text)) return null;
  if (!text.includes(':') && !/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(text)) return null;
  const a = ipaddr.parse(text);
  return { family: a.kind() === 'ipv4' ? 4 : 6, value: a.toByteArray().reduce((v, b) => (v << 8n) | BigInt(b), 0n) };
}

/** `a.b.c.d/n`: the network (host bits cleared) and the address as written. */
export function parseNetWithAddr(text: string): { net: Net; addr: bigint } | null {
  if (typeof text !== 'string') return null;
  const slash = text.lastIndexOf('/');
  if (slash < 0) return null;
  const ip = parseAddr(text.slice(0, slash));
  const len = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(len)) return null;
  const bits = ip.family === 4 ? 32 : 128;
  const prefix = Number(len);
  if (prefix > bits) return null;
  const size = 1n << BigInt(bits - prefix);
  const base = ip.value - (ip.value % size);
  return { net: { family: ip.family, base, prefix, bits, size, last: base + size - 1n }, addr: ip.value };
}

export function parseNet(text: string): Net | null {
  return parseNetWithAddr(text)?.net ?? null;
}

export function netOf(family: Fam, base: bigint, prefix: number): Net {
  const bits = family === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - prefix);
  const b = base - (base % size);
  return { family, base: b, prefix, bits, size, last: b + size - 1n };
}

/** Go's text form: dotted quad, or RFC 5952 where a single zero group is not shortened. */
export function fmtAddr(family: Fam, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1; // runs of one zero group stay written out
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function fmtNet(n: Net): string {
  return `${fmtAddr(n.family, n.base)}/${n.prefix}`;
}

export function inNet(n: Net, family: Fam, v: bigint): boolean {
  return n.family === family && v >= n.base && v <= n.last;
}

export function netsOverlap(a: Net, b: Net): boolean {
  return a.family === b.family && a.base <= b.last && b.base <= a.last;
}

/** A request field as Go would decode it into a string (missing/null = ""; another type fails the decode). */
export function str(b: Record<string, unknown>, key: string): string {
  const v = b[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') refuse(`json: cannot unmarshal ${typeof v} into Go struct field .${key} of type string`);
  return v;
}

/** The Options map of a request (null/missing = empty; another type fails the decode). */
export function opts(b: Record<string, unknown>, key = 'Options'): Record<string, unknown> {
  const v = b[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) refuse(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field .${key} of type map[string]string`);
  return v as Record<string, unknown>;
}

/** A bool field (missing/null = false; another type fails the decode). */
export function flag(b: Record<string, unknown>, key: string): boolean {
  const v = b[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') refuse(`json: cannot unmarshal ${typeof v} into Go struct field .${key} of type bool`);
  return v;
}

export const GATEWAY_KEY = 'com.docker.network.gateway';
export const isGatewayRequest = (b: Record<string, unknown>): boolean => opts(b)['RequestAddressType'] === GATEWAY_KEY;
