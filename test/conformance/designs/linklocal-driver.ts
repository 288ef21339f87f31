/**
 * A driver (default IPAM) whose containers reach the host through a
 * link-local next hop instead of an address on their subnet, as routed
 * drivers do: Join answers Gateway 169.254.0.1 with a connected route
 * 169.254.0.1/32 (so the kernel finds the gateway on the interface), and on
 * IPv6 networks GatewayIPv6 fe80::1 (on-link: every IPv6 interface has
 * fe80::/64). It keeps the addresses IPAM gave and returns no MAC.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { type FixtureMethods, field, refuse, serveFixture } from './serve.js';

export function linkLocalDriverMethods(): FixtureMethods {
  const networks = new Map<string, { v6: boolean }>();
  const endpoints = new Map<string, { net: string; link: string | null }>();
  let links = 0;
  return {
    '/NetworkDriver.GetCapabilities': () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    '/NetworkDriver.CreateNetwork': (b) => {
      const id = field(b, 'NetworkID');
      if (networks.has(id)) refuse(`network ${id} already exists`);
      const v6 = Array.isArray(b['IPv6Data']) && b['IPv6Data'].length > 0;
      networks.set(id, { v6 });
      return {};
    },
    '/NetworkDriver.DeleteNetwork': (b) => {
      networks.delete(field(b, 'NetworkID'));
      return {};
    },
    '/NetworkDriver.CreateEndpoint': (b) => {
      const net = field(b, 'NetworkID');
      const id = field(b, 'EndpointID');
      if (!networks.has(net)) refuse(`network ${net} not found`);
      if (endpoints.has(id)) refuse(`endpoint ${id} already exists`);
      endpoints.set(id, { net, link: null });
      return {};
    },
    '/NetworkDriver.DeleteEndpoint': (b) => {
      endpoints.delete(field(b, 'EndpointID'));
      return {};
    },
    '/NetworkDriver.EndpointOperInfo': (b) => {
      if (!endpoints.has(field(b, 'EndpointID'))) refuse('endpoint not found');
      return { Value: {} };
    },
    '/NetworkDriver.Join': (b) => {
      const id = field(b, 'EndpointID');
      const ep = endpoints.get(id);
      if (!ep) refuse(`endpoint ${id} not found`);
      ep.link = `ll${(++links).toString(36)}`;
      const v6 = networks.get(ep.net)?.v6 === true;
      return {
        InterfaceName: { SrcName: ep.link, DstPrefix: 'eth' },
        Gateway: '169.254.0.1',
        ...(v6 ? { GatewayIPv6: 'fe80::1' } : {}),
        StaticRoutes: [{ Destination: '169.254.0.1/32', RouteType: 1 }],
      };
    },
    '/NetworkDriver.Leave': (b) => {
      const ep = endpoints.get(field(b, 'EndpointID'));
      if (ep) ep.link = null;
      return {};
    },
    '/NetworkDriver.DiscoverNew': () => ({}),
    '/NetworkDriver.DiscoverDelete': () => ({}),
    '/NetworkDriver.ProgramExternalConnectivity': () => ({}),
    '/NetworkDriver.RevokeExternalConnectivity': () => ({}),
  };
}

export function startLinkLocalDriver(socketPath: string): Promise<ListeningPlugin> {
  return serveFixture(socketPath, linkLocalDriverMethods(), { implements: ['NetworkDriver'] });
}
