/**
 * Reply rules of the NetworkDriver methods as pure functions: each returns
 * the problem as a sentence, or null. They accept every form dockerd accepts.
 */
import { type Cidr, contains, formatCidr, formatIp, isReserved, parseCidr, parseIp } from '../cidr.js';

/**
 * A MAC dockerd can put on the container interface: Go's net.ParseMAC of a
 * 48-bit address (`:` or `-` separated), unicast (the kernel refuses
 * multicast) and not all zero.
 */
export function macProblem(text: string): string | null {
  const m = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/.exec(text);
  if (!m) return `MacAddress ${JSON.stringify(text)} is not a 48-bit MAC (dockerd: "invalid MAC address")`;
  const first = parseInt(m[1]!, 16);
  if ((first & 1) === 1) return `MacAddress ${text} is a multicast address (the kernel refuses it on an interface: EADDRNOTAVAIL)`;
  if (/^(00[:-]){5}00$/.test(text)) return `MacAddress ${text} is all zero`;
  return null;
}

/** The canonical form used to compare MACs. */
export function normalMac(text: string): string {
  return text.toLowerCase().replace(/-/g, ':');
}

/** Linux dev_valid_name: 1..15 bytes, not `.`/`..`, no `/`, `:` or whitespace. */
export function ifNameProblem(name: string, what: string): string | null {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0) return `${what} is empty`;
  if (bytes > 15) return `${what} ${JSON.stringify(name)} is ${bytes} bytes; Linux interface names have at most 15 (IFNAMSIZ 16)`;
  if (name === '.' || name === '..') return `${what} ${JSON.stringify(name)} is not a valid interface name`;
  if (/[/:\s]/.test(name)) return `${what} ${JSON.stringify(name)} contains '/', ':' or whitespace (not a valid interface name)`;
  return null;
}

/** InterfaceName of a Join reply (SrcName must exist to be moved; DstPrefix+index becomes the container's name). */
export function interfaceNameProblem(srcName: string, dstPrefix: string): string | null {
  const src = ifNameProblem(srcName, 'SrcName');
  if (src !== null) return src;
  // The daemon appends an index (eth -> eth0); an empty prefix gives "0", "1", ... which are valid names.
  if (dstPrefix !== '') return ifNameProblem(`${dstPrefix}0`, 'DstPrefix + index');
  return null;
}

/**
 * Join's Gateway (IPv4, no mask) must be usable as the container's default
 * route: parsable, inside the endpoint's subnet, not the network/broadcast
 * address and not the endpoint's own address.
 */
export function gatewayProblem(gw: string, pool: Cidr, own: string): string | null {
  const ip = parseIp(gw);
  if (ip === null) return `Gateway ${JSON.stringify(gw)} is not a bare IP address (dockerd: "failed to parse gateway"; a mask is not allowed)`;
  if (ip.family !== 4) return `Gateway ${gw} is not IPv4 (IPv6 goes in GatewayIPv6)`;
  if (!contains(pool, 4, ip.value)) return `Gateway ${gw} is outside the endpoint's subnet ${formatCidr(pool)} (container start fails: "route for the gateway ${gw} could not be found")`;
  if (isReserved(pool, ip.value)) return `Gateway ${gw} is the network or broadcast address of ${formatCidr(pool)}`;
  if (formatIp(4, ip.value) === own) return `Gateway ${gw} is the endpoint's own address`;
  return null;
}

export interface RouteLike {
  readonly Destination?: string;
  readonly RouteType?: number;
  readonly NextHop?: string;
}

/** A static route dockerd can program in the container (protocol.md §2.2 Join). */
export function routeProblem(r: RouteLike, pool: Cidr): string | null {
  const dest = r.Destination ?? '';
  const d = parseCidr(dest);
  if (d === null) return `StaticRoutes Destination ${JSON.stringify(dest)} is not a CIDR`;
  const hop = r.NextHop ?? '';
  if ((r.RouteType ?? 0) === 0) {
    const ip = parseIp(hop);
    if (ip === null) return `route to ${dest} has RouteType 0 (via NextHop) but NextHop ${JSON.stringify(hop)} is not an IP address`;
    if (ip.family !== d.family) return `route to ${dest} has a NextHop ${hop} of the other address family`;
    if (d.family === 4 && !contains(pool, 4, ip.value)) return `route to ${dest} via ${hop}: the next hop is not on the endpoint's subnet ${formatCidr(pool)} (the kernel refuses: "Nexthop has invalid gateway")`;
  } else if (hop !== '') {
    return `route to ${dest} is connected (RouteType ${r.RouteType}) but has NextHop ${JSON.stringify(hop)}; connected routes have none`;
  }
  return null;
}
