/**
 * A driver that gets container addresses from a DHCP server on a host bridge,
 * in the manner of docker-net-dhcp (used with `--ipam-driver null`). Written
 * from protocol.md and that plugin's public behaviour:
 * - CreateNetwork needs the generic option `bridge` (`-o bridge=br0`) and
 *   refuses any IPv4Data that is not the null IPAM's {AddressSpace "null",
 *   Pool "0.0.0.0/0"}; IPv6 networks are refused here (no DHCPv6 in this fixture).
 * - CreateEndpoint refuses supplied addresses, "leases" one from the bridge's
 *   fake DHCP range (slow: a real lease takes seconds) and answers Address
 *   (CIDR) and MacAddress (unless a MAC was supplied); the lease's gateway is
 *   kept as a hint for Join.
 * - Join answers SrcName "<12 id chars>-dh", DstPrefix = the bridge name and
 *   the Gateway of the lease; the hint is consumed, so a second Join of the
 *   same endpoint is refused. Leave of an endpoint that never joined is an error.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { type FixtureMethods, field, refuse, serveFixture } from './serve.js';

export interface DhcpDriverOptions {
  /** Time one lease takes (CreateEndpoint), ms; default 300. */
  readonly leaseMs?: number;
  /** The DHCP server's range: `<a.b.c>` of a /24, hosts .100-.199, gateway .1. */
  readonly subnet24?: string;
}

interface Lease {
  readonly host: number;
  readonly gateway: string;
}

interface Endpoint {
  readonly net: string;
  readonly lease: Lease;
  /** Join hint: the gateway learnt at CreateEndpoint, consumed by the first Join. */
  hint: string | null;
  joined: boolean;
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function dhcpDriverMethods(opts: DhcpDriverOptions = {}): FixtureMethods {
  const base = opts.subnet24 ?? '192.168.77';
  const networks = new Map<string, { bridge: string }>();
  const endpoints = new Map<string, Endpoint>();
  // Leases are the DHCP server's: one range per bridge, shared by the networks on it.
  const leased = new Map<string, Set<number>>();
  let macs = 0;
  const lease = (bridge: string): Lease => {
    const used = leased.get(bridge) ?? new Set<number>();
    leased.set(bridge, used);
    for (let h = 100; h < 200; h++) {
      if (used.has(h)) continue;
      used.add(h);
      return { host: h, gateway: `${base}.1` };
    }
    refuse('failed to get initial IP address via DHCP: no lease offered (timeout)');
  };
  return {
    '/NetworkDriver.GetCapabilities': () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    '/NetworkDriver.CreateNetwork': (b) => {
      const options = obj(b['Options']);
      const generic = obj(options['com.docker.network.generic']);
      const bridge = typeof generic['bridge'] === 'string' ? generic['bridge'] : '';
      if (bridge === '') refuse('bridge required');
      for (const d of (Array.isArray(b['IPv4Data']) ? b['IPv4Data'] : []) as unknown[]) {
        const data = obj(d);
        if (data['AddressSpace'] !== 'null' || data['Pool'] !== '0.0.0.0/0') refuse('only the null IPAM driver is supported');
      }
      if (options['com.docker.network.enable_ipv6'] === true) refuse('IPv6 is not supported by this DHCP network');
      networks.set(field(b, 'NetworkID'), { bridge });
      return {};
    },
    // The real plugin keeps nothing per network and reads a network's options from `docker network inspect`,
    // which knows nothing of a removed network: forgetting it here has the same effect.
    '/NetworkDriver.DeleteNetwork': (b) => {
      networks.delete(field(b, 'NetworkID'));
      return {};
    },
    '/NetworkDriver.CreateEndpoint': (b) => {
      const netId = field(b, 'NetworkID');
      const id = field(b, 'EndpointID');
      const net = networks.get(netId);
      if (!net) refuse(`failed to get network options: network ${netId} not found`);
      const iface = obj(b['Interface']);
      if ((typeof iface['Address'] === 'string' && iface['Address'] !== '') || (typeof iface['AddressIPv6'] === 'string' && iface['AddressIPv6'] !== '')) refuse('only the null IPAM driver is supported');
      if (endpoints.has(id)) refuse(`failed to create veth pair: file exists (dh-${id.slice(0, 12)})`);
      const l = lease(net.bridge);
      endpoints.set(id, { net: netId, lease: l, hint: l.gateway, joined: false });
      const supplied = typeof iface['MacAddress'] === 'string' ? iface['MacAddress'] : '';
      const n = ++macs;
      const mac = [0x0a, 0x58, 0x4d, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff].map((x) => x.toString(16).padStart(2, '0')).join(':');
      return { Interface: { Address: `${base}.${l.host}/24`, ...(supplied === '' ? { MacAddress: mac } : {}) } };
    },
    '/NetworkDriver.DeleteEndpoint': (b) => {
      const id = field(b, 'EndpointID');
      const ep = endpoints.get(id);
      if (!ep) refuse(`failed to lookup host veth interface dh-${id.slice(0, 12)}: Link not found`);
      endpoints.delete(id);
      const net = networks.get(ep.net);
      if (net) leased.get(net.bridge)?.delete(ep.lease.host);
      return {};
    },
    '/NetworkDriver.EndpointOperInfo': (b) => {
      const id = field(b, 'EndpointID');
      const ep = endpoints.get(id);
      if (!ep) refuse(`failed to find host side of veth pair: Link not found`);
      return { Value: { bridge: networks.get(ep.net)?.bridge ?? '', veth_host: `dh-${id.slice(0, 12)}` } };
    },
    '/NetworkDriver.Join': (b) => {
      const netId = field(b, 'NetworkID');
      const net = networks.get(netId);
      if (!net) refuse(`failed to get network options: network ${netId} not found`);
      const id = field(b, 'EndpointID');
      const ep = endpoints.get(id);
      if (!ep || ep.hint === null) refuse('missing join hint for endpoint');
      const gateway = ep.hint;
      ep.hint = null;
      ep.joined = true;
      return { InterfaceName: { SrcName: `${id.slice(0, 12)}-dh`, DstPrefix: net.bridge }, Gateway: gateway };
    },
    '/NetworkDriver.Leave': (b) => {
      const ep = endpoints.get(field(b, 'EndpointID'));
      if (!ep || !ep.joined) refuse('sandbox not found for endpoint (no persistent DHCP client)');
      ep.joined = false;
      return {};
    },
    '/NetworkDriver.DiscoverNew': () => ({}),
    '/NetworkDriver.DiscoverDelete': () => ({}),
    '/NetworkDriver.ProgramExternalConnectivity': () => ({}),
    '/NetworkDriver.RevokeExternalConnectivity': () => ({}),
  };
}

export function startDhcpDriver(socketPath: string, opts: DhcpDriverOptions = {}): Promise<ListeningPlugin> {
  const leaseMs = opts.leaseMs ?? 300;
  return serveFixture(socketPath, dhcpDriverMethods(opts), {
    implements: ['NetworkDriver'],
    delayMs: (path) => (path === '/NetworkDriver.CreateEndpoint' ? leaseMs : 0),
  });
}
