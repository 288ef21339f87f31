/**
 * A driver that makes real links on the kernel, in a namespace given to it
 * (it plays the plugin's host), written from protocol.md and the public
 * behaviour of two real plugins, never from src/:
 *
 * - `design: 'l2'` (default), like docker-net-dhcp: CreateNetwork makes a
 *   bridge `kbr<12 id chars>` (up, with the gateway address); CreateEndpoint
 *   makes a veth pair `kv<12>` (host end, on the bridge, up) / `kc<12>` and
 *   answers the container end's MAC when none was given; Join answers SrcName
 *   `kc<12>` and the network's gateway; DeleteEndpoint deletes the pair,
 *   DeleteNetwork the bridge.
 * - `design: 'routed'`, like Calico's libnetwork plugin: no bridge;
 *   CreateEndpoint answers MacAddress ee:ee:ee:ee:ee:ee (the same on every
 *   endpoint) and makes no link; Join makes a veth `cali<11>` (host end, up,
 *   with a /32 route to the endpoint) / `temp<11>` and answers SrcName
 *   `temp<11>`, DstPrefix "cali", Gateway 169.254.1.1 (outside every
 *   endpoint subnet) with the connected route {169.254.1.1/32, RouteType 1};
 *   Leave deletes the veth.
 * - `design: 'macvlan'`, like Docker's macvlan driver run as a plugin:
 *   CreateNetwork makes a parent device `kpa<12>`; CreateEndpoint makes a
 *   macvlan `km<12>` (bridge mode) on it, which Join hands over (no veth, no
 *   host end); DeleteEndpoint / DeleteNetwork delete them.
 * - `dstPrefix` changes DstPrefix; `gatewayIPv6` adds a link-local
 *   GatewayIPv6 (fe80::1); `sharedBridge` (L2) makes one bridge
 *   `kbr000000000` at the first CreateNetwork and keeps it for every network,
 *   as plugins with one host bridge do (each network's gateway address is
 *   added to it and removed at DeleteNetwork).
 * - `addressing: 'driver'` (L2), docker-net-dhcp with `--ipam-driver null`:
 *   CreateNetwork takes only the null IPAM's IPv4Data {AddressSpace "null",
 *   Pool 0.0.0.0/0}; each network gets its own 10.197.N.0/24 (gateway .1 on
 *   the bridge); CreateEndpoint refuses a supplied address and answers
 *   Address and MacAddress itself; links are named `dh-<12>` / `<12>-dh`.
 *
 * Leaks, one realistic bug each: `endpoint` (DeleteEndpoint / Leave answer {}
 * but never delete the veth), `network` (DeleteNetwork leaves the bridge),
 * `join-missing` (Join names a link it never made).
 *
 * `ip` runs synchronously (execFileSync, argv arrays): the shared serve.ts
 * answers from synchronous handlers, and an `ip` call takes milliseconds.
 */
import { execFileSync } from 'node:child_process';
import type { ListeningPlugin } from '../plugins/listen.js';
import { type FixtureMethods, field, refuse, serveFixture } from './serve.js';

export interface KernelDriverOptions {
  /** `ip netns` name where links are made (the plugin's "host"). */
  readonly ns: string;
  readonly design?: 'l2' | 'routed' | 'macvlan';
  readonly leak?: 'endpoint' | 'network' | 'join-missing';
  readonly dstPrefix?: string;
  readonly gatewayIPv6?: boolean;
  readonly sharedBridge?: boolean;
  readonly addressing?: 'ipam' | 'driver';
}

const SHARED_BRIDGE = 'kbr000000000';

interface Network {
  readonly bridge: string | null;
  /** Gateway without mask, e.g. 10.199.0.1 (L2). */
  readonly gateway: string;
  /** Gateway with its prefix, as CreateNetwork gave it. */
  readonly gatewayCidr: string;
}

interface Endpoint {
  readonly net: string;
  readonly address: string;
  /** Host end and container end of the veth, once made. */
  host: string | null;
  container: string | null;
}

const CALICO_MAC = 'ee:ee:ee:ee:ee:ee';
const CALICO_GATEWAY = '169.254.1.1';

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export async function startKernelDriver(socketPath: string, opts: KernelDriverOptions): Promise<ListeningPlugin> {
  const design = opts.design ?? 'l2';
  const networks = new Map<string, Network>();
  const endpoints = new Map<string, Endpoint>();
  const byDriver = opts.addressing === 'driver';
  let subnets = 0;
  /** Driver addressing: per network its /24 prefix (10.197.N) and the next host. */
  const leases = new Map<string, { prefix: string; next: number }>();

  const ip = (...args: string[]): string => {
    try {
      return execFileSync('ip', ['-n', opts.ns, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const stderr = (e as { stderr?: unknown }).stderr;
      refuse(`ip ${args.join(' ')}: ${typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : (e as Error).message}`);
    }
  };
  const exists = (name: string): boolean => {
    try {
      execFileSync('ip', ['-n', opts.ns, 'link', 'show', 'dev', name], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  const macOf = (name: string): string => {
    const parsed = JSON.parse(ip('-j', 'link', 'show', 'dev', name)) as Array<{ address?: string }>;
    return parsed[0]?.address ?? refuse(`no MAC on ${name}`);
  };
  const network = (b: Record<string, unknown>): Network => networks.get(field(b, 'NetworkID')) ?? refuse(`network ${field(b, 'NetworkID')} not found`);
  const endpoint = (b: Record<string, unknown>): Endpoint => endpoints.get(field(b, 'EndpointID')) ?? refuse(`endpoint ${field(b, 'EndpointID')} not found`);

  const methods: FixtureMethods = {
    '/NetworkDriver.GetCapabilities': () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    '/NetworkDriver.CreateNetwork': (b) => {
      const id = field(b, 'NetworkID');
      if (id === '') refuse('NetworkID is required');
      if (networks.has(id)) refuse(`network ${id} exists`);
      const v4 = Array.isArray(b['IPv4Data']) ? (b['IPv4Data'] as unknown[]).map(obj) : [];
      let gwCidr = typeof v4[0]?.['Gateway'] === 'string' ? (v4[0]['Gateway'] as string) : '';
      if (byDriver) {
        if (v4.length !== 1 || v4[0]!['AddressSpace'] !== 'null' || v4[0]!['Pool'] !== '0.0.0.0/0') refuse('this driver allocates addresses itself: use --ipam-driver null');
        const prefix = `10.197.${subnets++ % 250}`;
        leases.set(id, { prefix, next: 100 });
        gwCidr = `${prefix}.1/24`;
      }
      if (design === 'routed') {
        networks.set(id, { bridge: null, gateway: CALICO_GATEWAY, gatewayCidr: '' });
        return {};
      }
      if (design === 'macvlan') {
        const parent = `kpa${id.slice(0, 12)}`;
        // A bridge as the parent: this kernel may lack the dummy module; macvlan takes any Ethernet lower device.
        ip('link', 'add', 'name', parent, 'type', 'bridge');
        ip('link', 'set', 'dev', parent, 'up');
        networks.set(id, { bridge: parent, gateway: gwCidr.split('/')[0] ?? '', gatewayCidr: '' });
        return {};
      }
      const bridge = opts.sharedBridge === true ? SHARED_BRIDGE : `kbr${id.slice(0, 12)}`;
      if (!exists(bridge)) {
        ip('link', 'add', 'name', bridge, 'type', 'bridge');
        ip('link', 'set', 'dev', bridge, 'up');
      }
      if (gwCidr !== '') ip('addr', 'add', gwCidr, 'dev', bridge);
      networks.set(id, { bridge, gateway: gwCidr.split('/')[0] ?? '', gatewayCidr: gwCidr });
      return {};
    },
    '/NetworkDriver.DeleteNetwork': (b) => {
      const id = field(b, 'NetworkID');
      const n = network(b);
      if ([...endpoints.values()].some((e) => e.net === id)) refuse(`network ${id} has active endpoints`);
      if (n.bridge === SHARED_BRIDGE) {
        if (n.gatewayCidr !== '') ip('addr', 'del', n.gatewayCidr, 'dev', n.bridge);
      } else if (n.bridge !== null && opts.leak !== 'network' && exists(n.bridge)) ip('link', 'del', 'dev', n.bridge); // the 'network' leak skips this
      networks.delete(id);
      return {};
    },
    '/NetworkDriver.CreateEndpoint': (b) => {
      const id = field(b, 'EndpointID');
      const n = network(b);
      if (endpoints.has(id)) refuse(`endpoint ${id} exists`);
      const iface = obj(b['Interface']);
      const address = typeof iface['Address'] === 'string' ? iface['Address'] : '';
      const givenMac = typeof iface['MacAddress'] === 'string' ? iface['MacAddress'] : '';
      const ep: Endpoint = { net: field(b, 'NetworkID'), address, host: null, container: null };
      if (design === 'routed') {
        endpoints.set(id, ep);
        return givenMac === '' ? { Interface: { MacAddress: CALICO_MAC } } : {};
      }
      if (design === 'macvlan') {
        const link = `km${id.slice(0, 12)}`;
        ip('link', 'add', 'name', link, 'link', n.bridge!, 'type', 'macvlan', 'mode', 'bridge');
        ep.host = link;
        ep.container = link;
        endpoints.set(id, ep);
        return givenMac === '' ? { Interface: { MacAddress: macOf(link) } } : {};
      }
      let lease = '';
      if (byDriver) {
        if (address !== '') refuse('this driver allocates addresses itself: use --ipam-driver null');
        const l = leases.get(field(b, 'NetworkID'))!;
        lease = `${l.prefix}.${l.next++}/24`;
      }
      const host = byDriver ? `dh-${id.slice(0, 12)}` : `kv${id.slice(0, 12)}`;
      const container = byDriver ? `${id.slice(0, 12)}-dh` : `kc${id.slice(0, 12)}`;
      ip('link', 'add', 'name', host, 'type', 'veth', 'peer', 'name', container);
      ip('link', 'set', 'dev', host, 'master', n.bridge!);
      ip('link', 'set', 'dev', host, 'up');
      ep.host = host;
      ep.container = container;
      endpoints.set(id, ep);
      const mac = givenMac === '' ? { MacAddress: macOf(container) } : {};
      return byDriver ? { Interface: { Address: lease, ...mac } } : givenMac === '' ? { Interface: mac } : {};
    },
    '/NetworkDriver.DeleteEndpoint': (b) => {
      const ep = endpoint(b);
      // Deleting one end of a veth deletes both; the 'endpoint' leak skips it.
      if (ep.host !== null && opts.leak !== 'endpoint' && exists(ep.host)) ip('link', 'del', 'dev', ep.host);
      endpoints.delete(field(b, 'EndpointID'));
      return {};
    },
    '/NetworkDriver.Join': (b) => {
      const id = field(b, 'EndpointID');
      const ep = endpoint(b);
      const n = network(b);
      const gw6 = opts.gatewayIPv6 === true ? { GatewayIPv6: 'fe80::1' } : {};
      if (design === 'routed') {
        const host = `cali${id.slice(0, 11)}`;
        const container = `temp${id.slice(0, 11)}`;
        ip('link', 'add', 'name', host, 'type', 'veth', 'peer', 'name', container);
        ip('link', 'set', 'dev', host, 'up');
        if (ep.address !== '') ip('route', 'add', `${ep.address.split('/')[0]}/32`, 'dev', host);
        ep.host = host;
        ep.container = container;
        return {
          InterfaceName: { SrcName: opts.leak === 'join-missing' ? `temp${id.slice(1, 12)}` : container, DstPrefix: opts.dstPrefix ?? 'cali' },
          Gateway: CALICO_GATEWAY,
          StaticRoutes: [{ Destination: `${CALICO_GATEWAY}/32`, RouteType: 1 }],
          ...gw6,
        };
      }
      if (ep.container === null) refuse(`endpoint ${id} has no link`);
      // 'join-missing': a name the plugin never made (its link is kc<12 chars>).
      const src = opts.leak === 'join-missing' ? `kx${id.slice(0, 12)}` : ep.container;
      return { InterfaceName: { SrcName: src, DstPrefix: opts.dstPrefix ?? 'eth' }, Gateway: n.gateway, ...gw6 };
    },
    '/NetworkDriver.Leave': (b) => {
      const ep = endpoint(b);
      if (design === 'routed' && ep.host !== null) {
        if (opts.leak !== 'endpoint' && exists(ep.host)) ip('link', 'del', 'dev', ep.host);
        ep.host = null;
        ep.container = null;
      }
      return {};
    },
    '/NetworkDriver.EndpointOperInfo': (b) => {
      endpoint(b);
      return { Value: {} };
    },
    '/NetworkDriver.ProgramExternalConnectivity': () => ({}),
    '/NetworkDriver.RevokeExternalConnectivity': () => ({}),
    '/NetworkDriver.DiscoverNew': () => ({}),
    '/NetworkDriver.DiscoverDelete': () => ({}),
  };
  return serveFixture(socketPath, methods, { implements: ['NetworkDriver'] });
}
