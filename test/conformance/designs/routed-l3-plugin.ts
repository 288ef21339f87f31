/**
 * A routed layer-3 plugin in the manner of Calico's libnetwork plugin: one
 * process that is both IpamDriver and NetworkDriver. Written from
 * protocol.md and the plugin's public behaviour:
 * - IPAM: Calico's configured-pools IPAM (configured-pools-ipam.ts): an
 *   explicit Pool must be a configured pool, the automatic pool is 0.0.0.0/0
 *   (::/0) with Data gateway "0.0.0.0/0" (so dockerd asks for no gateway
 *   address); endpoint addresses come from the configured pools as /32 (/128).
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
import { configuredPoolsIpamMethods } from './configured-pools-ipam.js';
import { parseNet } from './shared-ipam.js';

export const ROUTED_LOCAL_SPACE = 'CalicoLocalAddressSpace';
export const ROUTED_GLOBAL_SPACE = 'CalicoGlobalAddressSpace';
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

/** The IPAM half: Calico's configured-pools IPAM (configured-pools-ipam.ts). */
export function routedIpamMethods(poolTexts: readonly string[]): FixtureMethods {
  return configuredPoolsIpamMethods(poolTexts);
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
