/**
 * A routed layer-3 plugin in the manner of Calico's libnetwork plugin: one
 * process that is both IpamDriver and NetworkDriver. Written from
 * protocol.md and the plugin's public behaviour:
 * - IPAM: address spaces CalicoLocalAddressSpace/CalicoGlobalAddressSpace;
 *   RequestPool refuses SubPool and any Options, refuses an explicit Pool that
 *   is not a configured pool, and otherwise answers the automatic pool
 *   0.0.0.0/0 (::/0 for V6) with Data gateway "0.0.0.0/0" (so dockerd asks
 *   for no gateway address); a gateway RequestAddress is refused; endpoint
 *   addresses come from the configured pools as /32 (/128).
 * - Driver: CreateNetwork refuses any IPv4Data whose Gateway is not
 *   "0.0.0.0/0" ("Non-Calico IPAM driver is used"), IPv6Data from another
 *   address space, and any non-empty generic option or true boolean option;
 *   every endpoint gets the same MAC EE:EE:EE:EE:EE:EE (unless one is
 *   supplied); Join answers SrcName "temp"+11 id chars, DstPrefix "cali",
 *   Gateway 169.254.1.1 with a connected /32 route to it, and a link-local
 *   GatewayIPv6 with a connected /128 route.
 * Scope is "local" here (the real plugin says "global") so it runs without swarm.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { type FixtureMethods, field, refuse, serveFixture } from './serve.js';
import { fmtAddr, parseAddr, parseNet, type Net } from './shared-ipam.js';

export const ROUTED_LOCAL_SPACE = 'CalicoLocalAddressSpace';
export const ROUTED_GLOBAL_SPACE = 'CalicoGlobalAddressSpace';
const POOL_ID_V4 = 'CalicoPoolIPv4';
const POOL_ID_V6 = 'CalicoPoolIPv6';
const GATEWAY_KEY = 'com.docker.network.gateway';
const FIXED_MAC = 'EE:EE:EE:EE:EE:EE';
const NEXT_HOP_V4 = '169.254.1.1';

export interface RoutedL3Options {
  /** The operator's configured pools (`calicoctl create ippool`). */
  readonly pools?: readonly string[];
  readonly delayMs?: (path: string) => number;
}

function obj(b: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = b[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The IPAM half: a host-wide allocator over the configured pools. */
export function routedIpamMethods(poolTexts: readonly string[]): FixtureMethods {
  const pools: Net[] = poolTexts.map((p) => {
    const n = parseNet(p);
    if (!n) throw new Error(`bad configured pool ${p}`);
    return n;
  });
  // Assigned addresses, host-wide (not per docker network): "family:value".
  const assigned = new Set<string>();
  const key = (family: 4 | 6, v: bigint): string => `${family}:${v}`;
  const autoAssign = (family: 4 | 6, within: Net[]): string => {
    for (const p of within.filter((x) => x.family === family)) {
      // Skip the pool's first and last address like block allocators do.
      for (let v = p.base + 1n; v < p.last; v++) {
        if (assigned.has(key(family, v))) continue;
        assigned.add(key(family, v));
        return `${fmtAddr(family, v)}/${family === 4 ? 32 : 128}`;
      }
    }
    refuse('IP assignment error: no more free affine blocks');
  };
  return {
    '/IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: ROUTED_LOCAL_SPACE, GlobalDefaultAddressSpace: ROUTED_GLOBAL_SPACE }),
    '/IpamDriver.RequestPool': (b) => {
      if (field(b, 'SubPool') !== '') refuse('Calico IPAM does not support sub pool configuration on docker network create');
      if (Object.keys(obj(b, 'Options')).length > 0) refuse('Arbitrary options are not supported');
      const v6 = b['V6'] === true;
      const requested = field(b, 'Pool');
      if (requested !== '') {
        const n = parseNet(requested);
        if (!n) refuse('Invalid CIDR');
        if (!pools.some((p) => p.family === n.family && p.base === n.base && p.prefix === n.prefix)) refuse('The requested subnet must match the CIDR of a configured Calico IP Pool.');
        return { PoolID: requested, Pool: requested, Data: { [GATEWAY_KEY]: v6 ? '::/0' : '0.0.0.0/0' } };
      }
      return v6 ? { PoolID: POOL_ID_V6, Pool: '::/0', Data: { [GATEWAY_KEY]: '::/0' } } : { PoolID: POOL_ID_V4, Pool: '0.0.0.0/0', Data: { [GATEWAY_KEY]: '0.0.0.0/0' } };
    },
    '/IpamDriver.ReleasePool': () => ({}),
    '/IpamDriver.RequestAddress': (b) => {
      if (obj(b, 'Options')['RequestAddressType'] === GATEWAY_KEY) refuse('Calico IPAM does not support specifying a gateway.');
      const poolId = field(b, 'PoolID');
      const wanted = field(b, 'Address');
      if (wanted === '') {
        if (poolId === POOL_ID_V4) return { Address: autoAssign(4, pools) };
        if (poolId === POOL_ID_V6) return { Address: autoAssign(6, pools) };
        const n = parseNet(poolId);
        const p = n ? pools.find((x) => x.family === n.family && x.base === n.base && x.prefix === n.prefix) : undefined;
        if (!p) refuse('The network references a Calico pool which has been deleted.');
        return { Address: autoAssign(p.family, [p]) };
      }
      const ip = parseAddr(wanted);
      if (!ip) refuse(`IP assignment error: bad address ${wanted}`);
      if (!pools.some((p) => p.family === ip.family && ip.value >= p.base && ip.value <= p.last)) refuse(`IP assignment error: ${wanted} is not in a configured pool`);
      if (assigned.has(key(ip.family, ip.value))) refuse(`IP assignment error: ${wanted} is already assigned`);
      assigned.add(key(ip.family, ip.value));
      return { Address: `${wanted}/${ip.family === 4 ? 32 : 128}` };
    },
    // Releasing an address that is not assigned is a no-op.
    '/IpamDriver.ReleaseAddress': (b) => {
      const ip = parseAddr(field(b, 'Address'));
      if (ip) assigned.delete(key(ip.family, ip.value));
      return {};
    },
  };
}

/** The driver half. */
export function routedDriverMethods(): FixtureMethods {
  const networks = new Set<string>();
  // endpoint id -> host-side link name while joined ('' = created, not joined)
  const endpoints = new Map<string, { net: string; link: string }>();
  const prefix = (id: string): string => id.slice(0, 11);
  return {
    '/NetworkDriver.GetCapabilities': () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    '/NetworkDriver.CreateNetwork': (b) => {
      const opts = obj(b, 'Options');
      for (const [k, v] of Object.entries(opts)) {
        if (k === 'com.docker.network.enable_ipv6') continue;
        if (typeof v === 'boolean') {
          if (v) refuse(`Calico driver does not support the flag --${k.replace(/^com\.docker\.network\./, '')}.`);
        } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
          const flags = Object.keys(v).sort();
          if (flags.length > 0) refuse(`Calico driver does not support the flag${flags.length > 1 ? 's' : ''} ${flags.join(', ')}.`);
        } else refuse(`Calico driver does not support the flag ${k} (${String(v)}).`);
      }
      for (const d of (Array.isArray(b['IPv4Data']) ? b['IPv4Data'] : []) as Record<string, unknown>[]) {
        if (d['Gateway'] !== '0.0.0.0/0') refuse('Non-Calico IPAM driver is used. Note: Docker before 1.12.3 is unsupported');
      }
      for (const d of (Array.isArray(b['IPv6Data']) ? b['IPv6Data'] : []) as Record<string, unknown>[]) {
        if (d['AddressSpace'] !== ROUTED_GLOBAL_SPACE && d['AddressSpace'] !== ROUTED_LOCAL_SPACE) refuse('Non-Calico IPAM driver is used');
      }
      networks.add(field(b, 'NetworkID'));
      return {};
    },
    // The real plugin keeps nothing per network: deleting answers {} always.
    '/NetworkDriver.DeleteNetwork': (b) => {
      networks.delete(field(b, 'NetworkID'));
      return {};
    },
    '/NetworkDriver.CreateEndpoint': (b) => {
      const net = field(b, 'NetworkID');
      const id = field(b, 'EndpointID');
      if (!networks.has(net)) refuse(`Network ${net} inspection error: no such network`);
      const iface = obj(b, 'Interface');
      const addr = typeof iface['Address'] === 'string' ? iface['Address'] : '';
      const addr6 = typeof iface['AddressIPv6'] === 'string' ? iface['AddressIPv6'] : '';
      if (addr === '' && addr6 === '') refuse('No address assigned for endpoint');
      if (addr !== '' && !parseNet(addr)) refuse(`Parsing ${addr} as CIDR failed`);
      if (endpoints.has(id)) refuse(`Workload endpoints creation error: endpoint ${id} already exists`);
      endpoints.set(id, { net, link: '' });
      const mac = typeof iface['MacAddress'] === 'string' ? iface['MacAddress'] : '';
      // A supplied MAC is kept and answered as "" (not set).
      return { Interface: { MacAddress: mac === '' ? FIXED_MAC : '' } };
    },
    '/NetworkDriver.DeleteEndpoint': (b) => {
      const id = field(b, 'EndpointID');
      if (!endpoints.delete(id)) refuse(`Endpoint ${id} removal error: resource does not exist`);
      return {};
    },
    '/NetworkDriver.EndpointOperInfo': () => null,
    '/NetworkDriver.Join': (b) => {
      const id = field(b, 'EndpointID');
      const ep = endpoints.get(id);
      if (!ep || ep.net !== field(b, 'NetworkID')) refuse(`Veth creation error: endpoint ${id} not found`);
      const host = `cali${prefix(id)}`;
      if (ep.link !== '') refuse(`Veth creation error, hostInterfaceName=${host}: file exists`);
      ep.link = host;
      // The link-local address the kernel would give the host end (EUI-64 of its MAC).
      const ll = `fe80::ecee:eeff:feee:${prefix(id).slice(0, 4)}`;
      return {
        InterfaceName: { SrcName: `temp${prefix(id)}`, DstPrefix: 'cali' },
        Gateway: NEXT_HOP_V4,
        GatewayIPv6: ll,
        StaticRoutes: [
          { Destination: `${NEXT_HOP_V4}/32`, RouteType: 1, NextHop: '' },
          { Destination: `${ll}/128`, RouteType: 1, NextHop: '' },
        ],
      };
    },
    '/NetworkDriver.Leave': (b) => {
      const id = field(b, 'EndpointID');
      const ep = endpoints.get(id);
      // Removing a veth that is not there fails, as `ip link del` would.
      if (!ep || ep.link === '') refuse(`Link not found: cali${prefix(id)}`);
      ep.link = '';
      return {};
    },
    '/NetworkDriver.DiscoverNew': () => ({}),
    '/NetworkDriver.DiscoverDelete': () => ({}),
    '/NetworkDriver.ProgramExternalConnectivity': () => ({}),
    '/NetworkDriver.RevokeExternalConnectivity': () => ({}),
  };
}

export const DEFAULT_ROUTED_POOLS = ['10.233.0.0/16', 'fd80:24e2:f998:72d6::/64'] as const;

export function startRoutedL3Plugin(socketPath: string, opts: RoutedL3Options = {}): Promise<ListeningPlugin> {
  const methods = { ...routedIpamMethods(opts.pools ?? DEFAULT_ROUTED_POOLS), ...routedDriverMethods() };
  return serveFixture(socketPath, methods, { implements: ['IpamDriver', 'NetworkDriver'], ...(opts.delayMs ? { delayMs: opts.delayMs } : {}) });
}
