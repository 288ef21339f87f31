/**
 * A minimal bridge-like driver for the daemon tests: a bridge per network with
 * the gateway on it, a veth pair per endpoint (host end on the bridge,
 * container end = SrcName), Join answers SrcName/DstPrefix/Gateway.
 * Knobs let tests shape Join's reply.
 */
import { HOST_NAMESPACE, type Backend } from '../../src/backend/backend.js';
import type { NetworkDriverApi } from '../../src/protocol/api.js';
import type * as m from '../../src/protocol/messages.js';

export interface FakeDriverKnobs {
  /** Join reply extras (merged over the default reply). */
  join?: Partial<m.JoinResponse>;
  /** Answer CreateEndpoint with this interface. */
  createEndpoint?: m.EndpointInterfaceReply;
  scope?: 'local' | 'global';
  /** moby: advertise GwAllocChecker and answer GwAllocCheck with these skips. */
  gwAllocChecker?: boolean;
  skipIPv4?: boolean;
  skipIPv6?: boolean;
}

export function fakeDriver(backend: Backend, knobs: FakeDriverKnobs = {}): NetworkDriverApi & { knobs: FakeDriverKnobs } {
  const nets = new Map<string, { bridge: string; gw4: string | null; gw6: string | null }>();
  const eps = new Map<string, { host: string; cont: string; net: string }>();
  let n = 0;
  return {
    knobs,
    getCapabilities: () => ({ Scope: knobs.scope ?? 'local', ConnectivityScope: 'local', ...(knobs.gwAllocChecker ? { GwAllocChecker: true } : {}) }),
    gwAllocCheck: () => ({ SkipIPv4: knobs.skipIPv4 === true, SkipIPv6: knobs.skipIPv6 === true }),
    async createNetwork(req) {
      const bridge = `cnm-br${n++}`;
      await backend.createBridge(HOST_NAMESPACE, bridge);
      await backend.setLinkUp(HOST_NAMESPACE, bridge);
      const gw4 = req.IPv4Data?.[0]?.Gateway ?? null;
      const gw6 = req.IPv6Data?.[0]?.Gateway ?? null;
      for (const g of [gw4, gw6]) if (g) await backend.addAddress(HOST_NAMESPACE, bridge, g);
      nets.set(req.NetworkID, { bridge, gw4, gw6 });
      return {};
    },
    async deleteNetwork(req) {
      const net = nets.get(req.NetworkID);
      if (net === undefined) throw new Error(`no network ${req.NetworkID}`);
      await backend.deleteLink(HOST_NAMESPACE, net.bridge);
      nets.delete(req.NetworkID);
      return {};
    },
    async createEndpoint(req) {
      const net = nets.get(req.NetworkID);
      if (net === undefined) throw new Error(`no network ${req.NetworkID}`);
      const tail = req.EndpointID.slice(0, 8);
      const host = `cnm-h${tail}`;
      const cont = `cnm-c${tail}`;
      await backend.createVethPair(HOST_NAMESPACE, host, cont);
      await backend.setMaster(HOST_NAMESPACE, host, net.bridge);
      await backend.setLinkUp(HOST_NAMESPACE, host);
      eps.set(req.EndpointID, { host, cont, net: req.NetworkID });
      return knobs.createEndpoint ? { Interface: knobs.createEndpoint } : {};
    },
    async deleteEndpoint(req) {
      const ep = eps.get(req.EndpointID);
      if (ep === undefined) throw new Error(`no endpoint ${req.EndpointID}`);
      eps.delete(req.EndpointID);
      // The host end takes the container end with it, wherever it is.
      await backend.deleteLink(HOST_NAMESPACE, ep.host).catch(() => undefined);
      return {};
    },
    endpointOperInfo: () => ({ Value: {} }),
    join(req) {
      const ep = eps.get(req.EndpointID);
      if (ep === undefined) throw new Error(`no endpoint ${req.EndpointID}`);
      const net = nets.get(ep.net)!;
      const reply: m.JoinResponse = {
        InterfaceName: { SrcName: ep.cont, DstPrefix: 'eth' },
        ...(net.gw4 ? { Gateway: net.gw4.split('/')[0] } : {}),
        ...(net.gw6 ? { GatewayIPv6: net.gw6.split('/')[0] } : {}),
        ...(knobs.join ?? {}),
      };
      return reply;
    },
    leave: () => ({}),
    programExternalConnectivity: () => ({}),
    revokeExternalConnectivity: () => ({}),
  };
}
