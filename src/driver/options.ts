/**
 * Network options of the reference driver: what `docker network create
 * --opt k=v` (delivered in `com.docker.network.generic`) and the daemon's
 * top-level flags may say, validated into a `NetworkConfig`.
 *
 * Documented options (generic map, string values):
 * | key | meaning |
 * |---|---|
 * | `com.docker.network.bridge.name`, `cnmkit.bridge.name` | bridge name; must start with `cnm-`, kernel name rules, <= 15 bytes |
 * | `com.docker.network.driver.mtu`, `cnmkit.mtu` | MTU of the bridge and veths, 68..65535 (>= 1280 with IPv6) |
 * | `cnmkit.internal` | `true`/`false`; same as `--internal`: Join returns no gateway |
 * | `cnmkit.dst-prefix` | DstPrefix of Join (default `eth`) |
 * | `cnmkit.static-routes` | `DEST[ via NEXTHOP][, ...]`: StaticRoutes of Join (no `via`: connected, RouteType 1) |
 * | `cnmkit.disable-gateway-service` | `true`/`false`: Join's DisableGatewayService |
 * | `cnmkit.segment` | the network's segment id (1..16777215, like a VXLAN VNI), handed out by AllocateNetwork on the swarm manager (global scope) |
 * Unknown `cnmkit.*` keys are errors; other unknown keys are ignored (Docker's
 * own drivers ignore options they do not know too).
 */
import type { IPAMData, StaticRoute } from '../protocol/messages.js';
import { Options } from '../protocol/constants.js';
import { DEFAULT_MTU, MAX_MTU, MIN_MTU, OWNED_LINK_PREFIX, isNameTemplate, linkNameProblem } from '../backend/backend.js';
import { formatIp, netContains, parseCidr, parseIp, parseIpPrefix, type Ip, type Net } from '../net/index.js';
import { DriverError } from './errors.js';

export const DriverOptions = {
  BridgeName: 'com.docker.network.bridge.name',
  Mtu: 'com.docker.network.driver.mtu',
  CnmBridgeName: 'cnmkit.bridge.name',
  CnmMtu: 'cnmkit.mtu',
  CnmInternal: 'cnmkit.internal',
  CnmDstPrefix: 'cnmkit.dst-prefix',
  CnmStaticRoutes: 'cnmkit.static-routes',
  CnmDisableGatewayService: 'cnmkit.disable-gateway-service',
  CnmSegment: 'cnmkit.segment',
} as const;

/** Segment ids AllocateNetwork hands out (24 bits, like VXLAN VNIs; the low ones left for manual use, as Docker's overlay does). */
export const SEGMENT_FIRST = 4096;
export const SEGMENT_MAX = 0xffffff;

const KNOWN_CNMKIT = new Set<string>(Object.values(DriverOptions).filter((k) => k.startsWith('cnmkit.')));
const IPV6_MIN_MTU = 1280;
export const DEFAULT_DST_PREFIX = 'eth';

/** One IPAM pool of the network, with the gateway the driver puts on the bridge. */
export interface PoolConfig {
  /** Canonical pool CIDR. */
  readonly pool: string;
  /** `10.0.0.1/24` (gateway IP with the pool's prefix) or null when IPAM gave none. */
  readonly gateway: string | null;
}

export interface NetworkConfig {
  /** Explicit bridge name, or null to derive one from the network id. */
  readonly bridgeName: string | null;
  readonly mtu: number;
  readonly internal: boolean;
  readonly dstPrefix: string;
  readonly staticRoutes: readonly StaticRoute[];
  readonly disableGatewayService: boolean;
  readonly ipv4: readonly PoolConfig[];
  readonly ipv6: readonly PoolConfig[];
  /** `cnmkit.segment` (from AllocateNetwork), or null. */
  readonly segment: number | null;
}

/** The generic option map as strings (`com.docker.network.generic`, or AllocateNetwork's plain map). */
export function genericOptions(value: unknown, where: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new DriverError('E_DRIVER_OPTION', `${where} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else throw new DriverError('E_DRIVER_OPTION', `option ${k}: expected a string, got ${v === null ? 'null' : typeof v}`);
  }
  return out;
}

function parseBool(key: string, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0' || t === '') return false;
  throw new DriverError('E_DRIVER_OPTION', `option ${key}: expected true or false, got "${text}"`);
}

/** Reads one option that may be given under two keys; both given must agree. */
function either(opts: Record<string, string>, a: string, b: string): [string, string] | null {
  const va = opts[a];
  const vb = opts[b];
  if (va !== undefined && vb !== undefined && va !== vb) {
    throw new DriverError('E_DRIVER_OPTION', `options ${a} and ${b} disagree ("${va}" vs "${vb}")`);
  }
  if (va !== undefined) return [a, va];
  if (vb !== undefined) return [b, vb];
  return null;
}

/** Validates a bridge name given by the user. */
export function checkBridgeName(key: string, name: string): string {
  const problem = linkNameProblem(name);
  if (problem !== null || isNameTemplate(name)) {
    throw new DriverError('E_DRIVER_OPTION', `option ${key}: "${name}" is not a valid interface name (${problem ?? 'templates are not allowed'})`);
  }
  if (!name.startsWith(OWNED_LINK_PREFIX)) {
    throw new DriverError('E_DRIVER_OPTION', `option ${key}: "${name}" must start with "${OWNED_LINK_PREFIX}" (cnmkit only manages links it owns)`);
  }
  return name;
}

export function parseSegment(key: string, text: string): number {
  const n = /^[0-9]{1,8}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > SEGMENT_MAX) throw new DriverError('E_DRIVER_OPTION', `option ${key}: "${text}" is not a segment id (1..${SEGMENT_MAX})`);
  return n;
}

function parseMtu(key: string, text: string): number {
  if (!/^[0-9]+$/.test(text.trim())) throw new DriverError('E_DRIVER_OPTION', `option ${key}: "${text}" is not an integer`);
  const mtu = Number(text.trim());
  if (mtu < MIN_MTU || mtu > MAX_MTU) throw new DriverError('E_DRIVER_OPTION', `option ${key}: MTU ${mtu} is outside ${MIN_MTU}..${MAX_MTU}`);
  return mtu;
}

function parsePools(data: readonly IPAMData[] | null | undefined, family: 4 | 6, field: string): PoolConfig[] {
  if (data === undefined || data === null) return [];
  return data.map((d, i) => {
    const at = `${field}[${i}]`;
    const pool = typeof d?.Pool === 'string' ? parseCidr(d.Pool) : null;
    if (pool === null || pool.family !== family) {
      throw new DriverError('E_DRIVER_REQUEST', `${at}.Pool: expected an IPv${family} CIDR, got "${String(d?.Pool)}"`);
    }
    let gateway: string | null = null;
    if (d.Gateway !== undefined && d.Gateway !== '') {
      const ip = parseIpPrefix(d.Gateway, { allowBare: true })?.ip ?? null;
      if (ip === null || ip.family !== family) {
        throw new DriverError('E_DRIVER_REQUEST', `${at}.Gateway: expected an IPv${family} CIDR, got "${d.Gateway}"`);
      }
      if (!netContains(pool, ip)) throw new DriverError('E_DRIVER_REQUEST', `${at}.Gateway: ${d.Gateway} is outside the pool ${pool.text}`);
      gateway = `${formatIp(ip)}/${pool.prefix}`;
    }
    return { pool: pool.text, gateway };
  });
}

function parseStaticRoutes(key: string, text: string, ipv4: readonly PoolConfig[], ipv6: readonly PoolConfig[]): StaticRoute[] {
  const routes: StaticRoute[] = [];
  const pools = [...ipv4, ...ipv6].map((p) => parseCidr(p.pool)!);
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const m = /^(\S+)(?:\s+via\s+(\S+))?$/.exec(item);
    const dest = m === null ? null : parseCidr(m[1]);
    if (m === null || dest === null) throw new DriverError('E_DRIVER_OPTION', `option ${key}: expected "DEST[ via NEXTHOP]", got "${item}"`);
    if (dest.text !== m[1]) throw new DriverError('E_DRIVER_OPTION', `option ${key}: destination "${m[1]}" has host bits set (use ${dest.text})`);
    if (m[2] === undefined) {
      routes.push({ Destination: dest.text, RouteType: 1 });
      continue;
    }
    const hop: Ip | null = parseIp(m[2]);
    if (hop === null || hop.family !== dest.family) {
      throw new DriverError('E_DRIVER_OPTION', `option ${key}: next hop "${m[2]}" is not an IPv${dest.family} address`);
    }
    if (!pools.some((p: Net) => netContains(p, hop))) {
      throw new DriverError('E_DRIVER_OPTION', `option ${key}: next hop ${m[2]} is in none of the network's subnets, the container could not reach it`);
    }
    routes.push({ Destination: dest.text, RouteType: 0, NextHop: formatIp(hop) });
  }
  return routes;
}

/** Validates a CreateNetwork request's options and IPAM data. */
export function parseNetworkConfig(
  options: Record<string, unknown> | null | undefined,
  ipv4Data: readonly IPAMData[] | null | undefined,
  ipv6Data: readonly IPAMData[] | null | undefined,
): NetworkConfig {
  const top = options ?? {};
  const generic = genericOptions(top[Options.Generic], `option ${Options.Generic}`);
  for (const k of Object.keys(generic)) {
    if (k.startsWith('cnmkit.') && !KNOWN_CNMKIT.has(k)) {
      throw new DriverError('E_DRIVER_OPTION', `unknown option ${k} (known: ${[...KNOWN_CNMKIT].join(', ')})`);
    }
  }
  const ipv4 = parsePools(ipv4Data, 4, 'IPv4Data');
  const ipv6 = parsePools(ipv6Data, 6, 'IPv6Data');

  const nameOpt = either(generic, DriverOptions.CnmBridgeName, DriverOptions.BridgeName);
  const bridgeName = nameOpt === null ? null : checkBridgeName(nameOpt[0], nameOpt[1]);
  const mtuOpt = either(generic, DriverOptions.CnmMtu, DriverOptions.Mtu);
  const mtu = mtuOpt === null ? DEFAULT_MTU : parseMtu(mtuOpt[0], mtuOpt[1]);
  if (ipv6.length > 0 && mtu < IPV6_MIN_MTU) {
    throw new DriverError('E_DRIVER_OPTION', `option ${mtuOpt?.[0] ?? 'mtu'}: MTU ${mtu} is below ${IPV6_MIN_MTU}, the minimum for IPv6`);
  }
  const topInternal = top[Options.Internal];
  if (topInternal !== undefined && topInternal !== null && typeof topInternal !== 'boolean') {
    throw new DriverError('E_DRIVER_REQUEST', `option ${Options.Internal}: expected a boolean, got ${typeof topInternal}`);
  }
  const cnmInternal = generic[DriverOptions.CnmInternal];
  const internal = topInternal === true || (cnmInternal !== undefined && parseBool(DriverOptions.CnmInternal, cnmInternal));

  const prefix = generic[DriverOptions.CnmDstPrefix] ?? DEFAULT_DST_PREFIX;
  // The daemon appends an index: leave room for at least two digits.
  const prefixProblem = linkNameProblem(`${prefix}99`);
  if (prefix === '' || prefixProblem !== null || prefix.includes('%')) {
    throw new DriverError('E_DRIVER_OPTION', `option ${DriverOptions.CnmDstPrefix}: "${prefix}" is not a valid interface name prefix (${prefixProblem ?? 'empty or templated'})`);
  }
  const routesText = generic[DriverOptions.CnmStaticRoutes];
  const staticRoutes = routesText === undefined ? [] : parseStaticRoutes(DriverOptions.CnmStaticRoutes, routesText, ipv4, ipv6);
  const dgs = generic[DriverOptions.CnmDisableGatewayService];
  const disableGatewayService = dgs !== undefined && parseBool(DriverOptions.CnmDisableGatewayService, dgs);
  const seg = generic[DriverOptions.CnmSegment];
  const segment = seg === undefined ? null : parseSegment(DriverOptions.CnmSegment, seg);
  return { bridgeName, mtu, internal, dstPrefix: prefix, staticRoutes, disableGatewayService, ipv4, ipv6, segment };
}
