/**
 * A small network driver written from protocol.md alone (plain node:http; no
 * src/driver, no src/sdk): networks and endpoints in maps, no real links.
 * With no flaw it is a correct independent driver; `different` makes it
 * correct but unlike Docker's drivers; each `DriverFlaw` is one realistic bug.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import { decodeRequest, sendJson } from '../plugins/listen.js';

export type DriverFlaw =
  | 'echo-address' // CreateEndpoint answers the Interface.Address it was given
  | 'long-ifname' // SrcName "veth-" + 12 hex = 17 bytes
  | 'bad-scope' // GetCapabilities Scope "bogus"
  | 'invalid-mac' // MACs printed without zero padding (2:42:0:0:0:5)
  | 'duplicate-mac' // MAC from the network's endpoint count: reused after a delete
  | 'gateway-outside' // Join Gateway hard-coded 172.17.0.1
  | 'gateway-mask' // Join Gateway copied from IPv4Data with its /prefix
  | 'no-srcname' // Join answers no InterfaceName
  | 'missing-srcname' // Join names a link it never creates (no links at all here)
  | 'delete-leaves-endpoint' // DeleteEndpoint answers {} but keeps the endpoint
  | 'crash-port-entries' // CreateEndpoint takes exposed-port Proto for a string ("tcp"): real entries (Proto 6) kill the connection (Go: handler panic)
  | 'state-lost-on-restart' // keeps everything in memory only
  | 'operinfo-404' // no EndpointOperInfo (breaks dockerd 20.10)
  | 'slow' // Join takes 1.5 s
  | 'join-race' // interface names from a counter read before an await and written after
  | 'lazy-networks' // CreateEndpoint on an unknown network creates the network on the fly
  | 'route-hardcoded-hop' // StaticRoutes via a hard-coded next hop off the subnet
  | 'gateway6-mask' // Join GatewayIPv6 copied from IPv6Data with its /prefix
  | 'short-link-names'; // host links named "vth" + the first 7 id characters: endpoints whose ids share them get one link

export interface FlawedDriverOptions {
  readonly flaw?: DriverFlaw;
  /** Correct but different: no-op Program/Revoke, 404 DiscoverNew, errors for unknown ids, DstPrefix "net", returns MACs, static routes, 409 errors, empty strings for unset fields. */
  readonly different?: boolean;
}

export interface FlawedDriver {
  readonly socketPath: string;
  /** Stop and start again on the same socket (what a restart command does); state survives unless the flaw loses it. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

interface Endpoint {
  readonly mac: string;
  srcName: string | null;
}

interface Network {
  readonly gateway: string; // "10.1.2.1/28" as given
  readonly gateway6?: string; // "fd00::1/124" as given
  readonly index: number;
  readonly endpoints: Map<string, Endpoint>;
}

class PluginError extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startFlawedDriver(socketPath: string, opts: FlawedDriverOptions = {}): Promise<FlawedDriver> {
  const flaw = opts.flaw;
  const different = opts.different === true;
  let networks = new Map<string, Network>();
  let linkCounter = 0;
  let netCounter = 0;
  let macCounter = 0;

  const str = (b: Record<string, unknown>, k: string): string => {
    const v = b[k];
    if (typeof v !== 'string' || v === '') throw new PluginError(`${k} is required`);
    return v;
  };
  const network = (b: Record<string, unknown>, lazy = false): Network => {
    if (lazy && flaw === 'lazy-networks' && !networks.has(str(b, 'NetworkID'))) networks.set(str(b, 'NetworkID'), { gateway: '', index: ++netCounter % 250, endpoints: new Map() }); // FLAW lazy-networks
    const n = networks.get(str(b, 'NetworkID'));
    if (!n) throw new PluginError(`network ${String(b['NetworkID'])} not found`);
    return n;
  };
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  const newMac = (net: Network): string => {
    if (flaw === 'duplicate-mac') return `02:42:00:00:00:${hex(net.endpoints.size + 2)}`; // FLAW duplicate-mac
    const n = ++macCounter;
    const bytes = [0x02, 0x42, 0xcd, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
    if (flaw === 'invalid-mac') return bytes.map((x) => x.toString(16)).join(':'); // FLAW invalid-mac
    return bytes.map(hex).join(':');
  };

  const methods: Record<string, (b: Record<string, unknown>) => unknown> = {
    '/Plugin.Activate': () => ({ Implements: ['NetworkDriver'] }),
    '/NetworkDriver.GetCapabilities': () => ({ Scope: flaw === 'bad-scope' ? 'bogus' : 'local', ConnectivityScope: 'local' }), // FLAW bad-scope
    '/NetworkDriver.CreateNetwork': (b) => {
      const id = str(b, 'NetworkID');
      if (networks.has(id)) throw new PluginError(`network ${id} exists`);
      const v4 = Array.isArray(b['IPv4Data']) ? (b['IPv4Data'] as Array<Record<string, unknown>>) : [];
      const v6 = Array.isArray(b['IPv6Data']) ? (b['IPv6Data'] as Array<Record<string, unknown>>) : [];
      const gateway6 = typeof v6[0]?.['Gateway'] === 'string' ? (v6[0]['Gateway'] as string) : undefined;
      networks.set(id, { gateway: typeof v4[0]?.['Gateway'] === 'string' ? (v4[0]['Gateway'] as string) : '', ...(gateway6 !== undefined ? { gateway6 } : {}), index: ++netCounter % 250, endpoints: new Map() });
      return {};
    },
    '/NetworkDriver.DeleteNetwork': (b) => {
      const id = str(b, 'NetworkID');
      if (!networks.delete(id) && different) throw new PluginError(`no network ${id}`);
      return {};
    },
    '/NetworkDriver.CreateEndpoint': (b) => {
      const net = network(b, true);
      const id = str(b, 'EndpointID');
      if (flaw === 'crash-port-entries') {
        // FLAW crash-port-entries: TypeError on dockerd's numeric Proto as soon as a container publishes a port.
        const exposed = ((b['Options'] as Record<string, unknown> | null)?.['com.docker.network.endpoint.exposedports'] ?? []) as Array<{ Proto: unknown }>;
        for (const p of exposed) void (p.Proto as string).toLowerCase();
      }
      if (net.endpoints.has(id)) throw new PluginError(`endpoint ${id} already exists`);
      const iface = (b['Interface'] ?? {}) as Record<string, string>;
      const supplied = iface['MacAddress'] ?? '';
      const mac = supplied !== '' ? supplied.toLowerCase() : newMac(net);
      net.endpoints.set(id, { mac, srcName: null });
      const reply: Record<string, string> = {};
      if (flaw === 'echo-address') reply['Address'] = iface['Address'] ?? ''; // FLAW echo-address
      if (supplied === '' && (different || flaw === 'invalid-mac' || flaw === 'duplicate-mac')) reply['MacAddress'] = mac;
      // Empty strings instead of omitted fields: dockerd treats them as "not set".
      if (different) return { Interface: { Address: '', AddressIPv6: '', MacAddress: reply['MacAddress'] ?? '' } };
      return Object.keys(reply).length > 0 ? { Interface: reply } : {};
    },
    '/NetworkDriver.DeleteEndpoint': (b) => {
      const net = networks.get(String(b['NetworkID']));
      const id = str(b, 'EndpointID');
      if (flaw === 'delete-leaves-endpoint') return {}; // FLAW delete-leaves-endpoint
      if ((!net || !net.endpoints.delete(id)) && different) throw new PluginError(`no endpoint ${id}`);
      return {};
    },
    '/NetworkDriver.EndpointOperInfo': (b) => {
      const net = network(b);
      if (!net.endpoints.has(str(b, 'EndpointID'))) throw new PluginError('endpoint not found');
      return { Value: {} };
    },
    '/NetworkDriver.Join': (b) => {
      const net = network(b);
      const ep = net.endpoints.get(str(b, 'EndpointID'));
      if (!ep) throw new PluginError(`endpoint ${String(b['EndpointID'])} not found`);
      const gwCidr = net.gateway;
      const gw = gwCidr.split('/')[0] ?? '';
      const reply: Record<string, unknown> = {};
      ep.srcName = flaw === 'long-ifname' ? `veth-${String(b['EndpointID']).slice(0, 12)}` : flaw === 'short-link-names' ? `vth${String(b['EndpointID']).slice(0, 7)}` : `fd${(++linkCounter).toString(36)}`; // FLAWS long-ifname, short-link-names
      if (flaw !== 'no-srcname') reply['InterfaceName'] = { SrcName: ep.srcName, DstPrefix: different ? 'net' : 'eth' }; // FLAW no-srcname
      if (gw !== '') reply['Gateway'] = flaw === 'gateway-outside' ? '172.17.0.1' : flaw === 'gateway-mask' ? gwCidr : gw; // FLAWS gateway-*
      if (net.gateway6 !== undefined) reply['GatewayIPv6'] = flaw === 'gateway6-mask' ? net.gateway6 : net.gateway6.split('/')[0]; // FLAW gateway6-mask
      else if (different) reply['GatewayIPv6'] = '';
      if (flaw === 'route-hardcoded-hop') reply['StaticRoutes'] = [{ Destination: '10.250.0.0/16', RouteType: 0, NextHop: '10.0.0.1' }]; // FLAW route-hardcoded-hop
      if (different && gw !== '') reply['StaticRoutes'] = [{ Destination: `10.250.${net.index}.0/24`, RouteType: 0, NextHop: gw }, { Destination: `10.251.${net.index}.0/24`, RouteType: 1 }];
      return reply;
    },
    '/NetworkDriver.Leave': (b) => {
      const ep = networks.get(String(b['NetworkID']))?.endpoints.get(String(b['EndpointID']));
      if (ep) ep.srcName = null;
      else if (different) throw new PluginError('endpoint not found');
      return {};
    },
    '/NetworkDriver.ProgramExternalConnectivity': () => ({}),
    '/NetworkDriver.RevokeExternalConnectivity': () => ({}),
    '/NetworkDriver.DiscoverNew': () => ({}),
    '/NetworkDriver.DiscoverDelete': () => ({}),
  };
  if (flaw === 'operinfo-404') delete methods['/NetworkDriver.EndpointOperInfo']; // FLAW operinfo-404
  if (different) delete methods['/NetworkDriver.DiscoverNew'];

  // FLAW join-race: the name counter is read, then an await, then written back.
  const racyJoin = async (b: Record<string, unknown>): Promise<unknown> => {
    const n = linkCounter;
    await sleep(20); // e.g. an `ip link add` between reading and writing the counter
    const reply = methods['/NetworkDriver.Join']!(b) as Record<string, unknown>;
    linkCounter = n + 1;
    const name = `fd${(n + 1).toString(36)}`;
    const ep = network(b).endpoints.get(String(b['EndpointID']))!;
    ep.srcName = name;
    reply['InterfaceName'] = { SrcName: name, DstPrefix: 'eth' };
    return reply;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const send = (status: number, body: unknown): void => sendJson(res, status, body);
        const path = req.url ?? '';
        const method = methods[path];
        if (!method) return send(404, { Err: `404 page not found: ${path}` });
        const decoded = decodeRequest(path, Buffer.concat(chunks).toString('utf8'));
        if ('error' in decoded) return send(400, { Err: decoded.error });
        const body = decoded.body;
        try {
          if (flaw === 'slow' && path === '/NetworkDriver.Join') await sleep(1500); // FLAW slow
          const value = flaw === 'join-race' && path === '/NetworkDriver.Join' ? await racyJoin(body) : method(body);
          send(200, value);
        } catch (e) {
          if (e instanceof PluginError) return send(different ? 409 : 500, { Err: e.message });
          // Any other exception is a bug: like a panicking Go handler, the connection just drops.
          res.destroy();
        }
      })();
    });
  };

  let server: Server = createServer(handle);
  const listen = async (): Promise<void> => {
    await rm(socketPath, { force: true });
    server = createServer(handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  };
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  await listen();
  return {
    socketPath,
    async restart() {
      await stop();
      if (flaw === 'state-lost-on-restart') networks = new Map(); // FLAW state-lost-on-restart
      await listen();
    },
    close: stop,
  };
}
