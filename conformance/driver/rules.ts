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

export interface RouteLike {
  readonly Destination?: string;
  readonly RouteType?: number;
  readonly NextHop?: string;
}

/** IPv4 169.254.0.0/16 or IPv6 fe80::/10: on-link by definition (no address on the subnet needed). */
export function isLinkLocal(family: 4 | 6, value: bigint): boolean {
  if (family === 4) return value >> 16n === 0xa9fen;
  return value >> 118n === 0x3fan;
}

/** True when one of the reply's connected routes (RouteType != 0) covers `value`. */
export function coveredByConnectedRoute(routes: readonly RouteLike[] | null | undefined, family: 4 | 6, value: bigint): boolean {
  for (const r of routes ?? []) {
    if ((r.RouteType ?? 0) === 0) continue;
    const d = parseCidr(r.Destination ?? '');
    if (d !== null && contains(d, family, value)) return true;
  }
  return false;
}

/**
 * How the container reaches `value`: `subnet` (an address on the endpoint's
 * subnet), `link-local`, `connected-route` (the same reply adds a connected
 * route covering it), or null (unreachable: the kernel finds no route).
 */
export function reachVia(value: bigint, family: 4 | 6, subnet: Cidr | null, routes: readonly RouteLike[] | null | undefined): 'subnet' | 'link-local' | 'connected-route' | null {
  if (subnet !== null && subnet.family === family && contains(subnet, family, value)) return 'subnet';
  if (coveredByConnectedRoute(routes, family, value)) return 'connected-route';
  // Every IPv6 interface has fe80::/64, so the kernel finds an fe80:: gateway on the device dockerd names.
  // IPv4 has no such route: 169.254.x.y needs a connected route of the reply (Calico's 169.254.1.1/32).
  if (family === 6 && isLinkLocal(6, value)) return 'link-local';
  return null;
}

/**
 * Join's Gateway (IPv4) / GatewayIPv6 (no mask) must be usable as the
 * container's default route: parsable, of the right family, and reachable
 * from the interface (dockerd asks the kernel for a route to it: "route for
 * the gateway ... could not be found" otherwise). Reachable means on the
 * endpoint's subnet (then not its network/broadcast address nor the endpoint
 * itself), link-local, or covered by a connected route of the same reply
 * (routed designs: Calico answers 169.254.1.1 with a connected /32 route).
 * `subnet` is the endpoint's own address with its prefix (null: no address).
 */
export function gatewayProblem(gw: string, subnet: Cidr | null, own: string, routes?: readonly RouteLike[] | null, family: 4 | 6 = 4): string | null {
  const ip = parseIp(gw);
  const field = family === 4 ? 'Gateway' : 'GatewayIPv6';
  if (ip === null) return `${field} ${JSON.stringify(gw)} is not a bare IP${family === 6 ? 'v6' : ''} address (dockerd: "failed to parse gateway"; a mask is not allowed)`;
  if (ip.family !== family) return family === 4 ? `Gateway ${gw} is not IPv4 (IPv6 goes in GatewayIPv6)` : `GatewayIPv6 ${gw} is not IPv6`;
  const via = reachVia(ip.value, family, subnet, routes);
  const where = subnet !== null ? `the endpoint's subnet ${formatCidr(subnet)}` : 'the endpoint, which has no address of that family';
  if (via === null) return `${field} ${gw} is outside ${where}, not an IPv6 link-local address and covered by no connected static route of the same reply (container start fails: "route for the gateway ${gw} could not be found")`;
  if (via === 'subnet' && subnet !== null) {
    if (isReserved(subnet, ip.value) && subnet.prefix < (family === 4 ? 31 : 127)) return `${field} ${gw} is the network or broadcast address of ${formatCidr(subnet)}`;
    if (formatIp(family, ip.value) === own) return `${field} ${gw} is the endpoint's own address`;
  }
  return null;
}

/** A static route dockerd can program in the container (protocol.md §2.2 Join); `routes` is the whole reply's list. */
export function routeProblem(r: RouteLike, subnet: Cidr | null, routes: readonly RouteLike[] = []): string | null {
  const dest = r.Destination ?? '';
  const d = parseCidr(dest);
  if (d === null) return `StaticRoutes Destination ${JSON.stringify(dest)} is not a CIDR`;
  const hop = r.NextHop ?? '';
  if ((r.RouteType ?? 0) === 0) {
    const ip = parseIp(hop);
    if (ip === null) return `route to ${dest} has RouteType 0 (via NextHop) but NextHop ${JSON.stringify(hop)} is not an IP address`;
    if (ip.family !== d.family) return `route to ${dest} has a NextHop ${hop} of the other address family`;
    if (d.family === 4 && reachVia(ip.value, 4, subnet, routes) === null) {
      return `route to ${dest} via ${hop}: the next hop is not on the endpoint's subnet${subnet !== null ? ` ${formatCidr(subnet)}` : ''}, not an IPv6 link-local address and not covered by a connected route of the reply (the kernel refuses: "Nexthop has invalid gateway")`;
    }
  } else if (hop !== '') {
    return `route to ${dest} is connected (RouteType ${r.RouteType}) but has NextHop ${JSON.stringify(hop)}; connected routes have none`;
  }
  return null;
}

/** The subnet an Interface address (`10.1.2.3/24`) puts on the container interface, or null. */
export function subnetOf(address: string): Cidr | null {
  return address === '' ? null : parseCidr(address);
}

/**
 * Whether a Join reply shows a routed (point-to-point) design rather than a
 * shared L2 segment: the endpoint address is a host route (/32, /128), or the
 * gateway is reached link-local or through a connected route outside the
 * endpoint's subnet. Unique MACs only matter on a shared segment.
 */
export function looksRouted(address: string, reply: { Gateway?: string; StaticRoutes?: readonly RouteLike[] | null } | null): boolean {
  const sub = subnetOf(address);
  if (sub !== null && sub.prefix === (sub.family === 4 ? 32 : 128)) return true;
  if (reply === null || !reply.Gateway) return false;
  const ip = parseIp(reply.Gateway);
  if (ip === null || ip.family !== 4) return false;
  const via = reachVia(ip.value, 4, sub, reply.StaticRoutes);
  return via === 'link-local' || via === 'connected-route';
}
