/**
 * A driver (default IPAM) whose containers reach the host through a
 * link-local next hop instead of an address on their subnet, as routed
 * drivers do: Join answers Gateway 169.254.0.1 with a connected route
 * 169.254.0.1/32 (so the kernel finds the gateway on the interface), and on
 * IPv6 networks GatewayIPv6 fe80::1 (on-link: every IPv6 interface has
 * fe80::/64). It keeps the addresses IPAM gave and returns no MAC.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { linkEndpointMethods } from './link-endpoints.js';
import { type FixtureMethods, field, refuse, serveFixture } from './serve.js';

export function linkLocalDriverMethods(): FixtureMethods {
  const networks = new Map<string, { v6: boolean }>();
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
    ...linkEndpointMethods({
      hasNetwork: (id) => networks.has(id),
      linkPrefix: 'll',
      leaveUnknown: 'ignore',
      joinExtra: (net) => ({
        Gateway: '169.254.0.1',
        ...(networks.get(net)?.v6 === true ? { GatewayIPv6: 'fe80::1' } : {}),
        StaticRoutes: [{ Destination: '169.254.0.1/32', RouteType: 1 }],
      }),
    }),
  };
}

export function startLinkLocalDriver(socketPath: string): Promise<ListeningPlugin> {
  return serveFixture(socketPath, linkLocalDriverMethods(), { implements: ['NetworkDriver'] });
}
