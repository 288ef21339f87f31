/**
 * Addresses with a prefix length (`10.0.0.2/24`, `fd00::/64`) and the
 * networks they name, read the way Go's `net.ParseCIDR` reads them (what
 * dockerd does). This is the one parser for that text in cnmkit: the driver,
 * both backends, the IPAM, the daemon simulator and the conformance checks all
 * read prefixes here, each choosing how strict to be with `PrefixOptions`.
 */
import { familyBits, formatIp, formatIPv4, formatIPv6, parseIp, type Family, type Ip } from './ip.js';

/** A network: an address block with its host bits zero. */
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

/** An address with its prefix length, host bits kept (`10.0.0.2/24`): what an interface address or a gateway is. */
export interface IpPrefix {
  readonly ip: Ip;
  readonly prefix: number;
  /** The network the address is in (host bits zero). */
  readonly net: Net;
  /** `10.0.0.2/24`: the address in canonical form with its prefix length. */
  readonly text: string;
}

export interface PrefixOptions {
  /** A bare address is read as a host prefix (/32 or /128), as iproute2 does. Default: a prefix length is required. */
  readonly allowBare?: boolean;
  /** The text must name a network: host bits set are an error (E_ADDR_HOST_BITS). Default: they are kept. */
  readonly requireNetwork?: boolean;
}

/**
 * Why a text is not an address with a prefix. The codes are stable:
 * - E_ADDR_IP: the address part is not an IP address (or the value is not a string);
 * - E_ADDR_PREFIX: the prefix length is missing or is not 1-3 decimal digits;
 * - E_ADDR_PREFIX_LENGTH: the prefix length is longer than the family's 32 or 128 bits;
 * - E_ADDR_HOST_BITS: host bits are set where a network is required.
 */
export type AddressErrorCode = 'E_ADDR_IP' | 'E_ADDR_PREFIX' | 'E_ADDR_PREFIX_LENGTH' | 'E_ADDR_HOST_BITS';

/** Bad address text. (A leaf module imports nothing from cnmkit: this carries the same `code` contract as CnmkitError.) */
export class AddressError extends Error {
  readonly code: AddressErrorCode;
  /** The text that was read (String() of a non-string value). */
  readonly text: string;
  constructor(code: AddressErrorCode, text: string) {
    super(describe(code, text));
    this.code = code;
    this.text = text;
    this.name = 'AddressError';
  }
}

function describe(code: AddressErrorCode, text: string): string {
  switch (code) {
    case 'E_ADDR_IP':
      return `"${text}": not an IP address`;
    case 'E_ADDR_PREFIX':
      return `"${text}": missing or malformed prefix length`;
    case 'E_ADDR_PREFIX_LENGTH':
      return `"${text}": prefix length too long for the address family`;
    case 'E_ADDR_HOST_BITS':
      return `"${text}": host bits set in a network prefix`;
  }
}

const MASK128 = (1n << 128n) - 1n;

/** The network of `ip` with `prefix` bits (host bits cleared). */
export function networkOf(ip: Ip, prefix: number): Net {
  return ip.family === 4 ? makeNet4(ip.value as number, prefix) : makeNet6(ip.value as bigint, prefix);
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

interface Scanned {
  readonly ip: Ip;
  readonly prefix: number;
}

/** The single reading of `address/length`; a code instead of an exception so that the hot paths build no Error. */
function scan(text: unknown, allowBare: boolean): Scanned | AddressErrorCode {
  if (typeof text !== 'string') return 'E_ADDR_IP';
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip === null) return 'E_ADDR_IP';
  const max = familyBits(ip.family);
  if (slash < 0) return allowBare ? { ip, prefix: max } : 'E_ADDR_PREFIX';
  const len = text.slice(slash + 1);
  if (len.length < 1 || len.length > 3) return 'E_ADDR_PREFIX';
  let prefix = 0;
  for (let i = 0; i < len.length; i++) {
    const c = len.charCodeAt(i);
    if (c < 48 || c > 57) return 'E_ADDR_PREFIX';
    prefix = prefix * 10 + (c - 48);
  }
  return prefix > max ? 'E_ADDR_PREFIX_LENGTH' : { ip, prefix };
}

function build(s: Scanned, requireNetwork: boolean): IpPrefix | AddressErrorCode {
  const net = networkOf(s.ip, s.prefix);
  if (requireNetwork && net.base !== s.ip.value) return 'E_ADDR_HOST_BITS';
  return { ip: s.ip, prefix: s.prefix, net, text: `${formatIp(s.ip)}/${s.prefix}` };
}

function read(text: unknown, options: PrefixOptions | undefined): IpPrefix | AddressErrorCode {
  const s = scan(text, options?.allowBare === true);
  return typeof s === 'string' ? s : build(s, options?.requireNetwork === true);
}

/** `address/length` (Go's net.ParseCIDR, host bits kept); null when invalid. */
export function parseIpPrefix(text: unknown, options?: PrefixOptions): IpPrefix | null {
  const r = read(text, options);
  return typeof r === 'string' ? null : r;
}

/** Like parseIpPrefix, but says why: an AddressError with a stable code. */
export function readIpPrefix(text: unknown, options?: PrefixOptions): IpPrefix {
  const r = read(text, options);
  if (typeof r === 'string') throw new AddressError(r, String(text));
  return r;
}

/** Go net.ParseCIDR + canonicalisation (`10.0.0.5/8` -> `10.0.0.0/8`); null when invalid. */
export function parseCidr(text: unknown): Net | null {
  const s = scan(text, false);
  return typeof s === 'string' ? null : networkOf(s.ip, s.prefix);
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

/** The address part of `address/length` text without reading it (`10.0.0.2/24` -> `10.0.0.2`); the text itself when it has no `/`. */
export function addressPart(text: string): string {
  const slash = text.indexOf('/');
  return slash < 0 ? text : text.slice(0, slash);
}
