/**
 * The endpoint side of the simple fixture drivers (link-local gateway, global
 * overlay-like): endpoints on known networks, a fresh link name per Join, no
 * MAC and no address of their own, and the no-op discovery and external
 * connectivity calls. Written from protocol.md, not from src/.
 */
import { type FixtureMethods, field, refuse } from './serve.js';

export interface LinkEndpointOptions {
  /** Whether the driver knows the network (CreateEndpoint on another is refused). */
  readonly hasNetwork: (id: string) => boolean;
  /** Prefix of the link names Join answers (`ll1`, `ov1`, ...). */
  readonly linkPrefix: string;
  /** Leave of an unknown endpoint: refused, or answered {} as if it were done. */
  readonly leaveUnknown: 'refuse' | 'ignore';
  /** What Join answers besides the interface name, for the endpoint's network. */
  readonly joinExtra?: (net: string) => Record<string, unknown>;
}

export function linkEndpointMethods(o: LinkEndpointOptions): FixtureMethods {
  const endpoints = new Map<string, { net: string; link: string | null }>();
  let links = 0;
  return {
    '/NetworkDriver.CreateEndpoint': (b) => {
      const net = field(b, 'NetworkID');
      const id = field(b, 'EndpointID');
      if (!o.hasNetwork(net)) refuse(`network ${net} not found`);
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
      ep.link = `${o.linkPrefix}${(++links).toString(36)}`;
      return { InterfaceName: { SrcName: ep.link, DstPrefix: 'eth' }, ...(o.joinExtra?.(ep.net) ?? {}) };
    },
    '/NetworkDriver.Leave': (b) => {
      const ep = endpoints.get(field(b, 'EndpointID'));
      if (!ep && o.leaveUnknown === 'refuse') refuse('endpoint not found');
      if (ep) ep.link = null;
      return {};
    },
    '/NetworkDriver.DiscoverNew': () => ({}),
    '/NetworkDriver.DiscoverDelete': () => ({}),
    '/NetworkDriver.ProgramExternalConnectivity': () => ({}),
    '/NetworkDriver.RevokeExternalConnectivity': () => ({}),
  };
}
