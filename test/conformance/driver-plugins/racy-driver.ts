/**
 * An asynchronous network driver written from protocol.md alone (plain
 * node:http on top of serve.ts' conventions; no src/driver, no src/sdk): every
 * handler awaits a little, as a real driver awaits `ip link` or its datastore.
 * Without a flaw it is correct (IPv4, IPv6-only and dual-stack networks,
 * --internal, aux addresses, any endpoint options). Each `RacyFlaw` is one
 * realistic bug of real drivers that only shows under parallel calls, with
 * endpoint ids sharing a prefix, with reused ids, or with option shapes
 * dockerd really sends.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import { decodeRequest, listenOn, sendJson, type ListeningPlugin } from '../plugins/listen.js';

export type RacyFlaw =
  | 'shared-current-network' // CreateNetwork keeps the request in a shared "current" variable and stores it after an await: parallel creates mix networks up
  | 'leave-counter-race' // Leave reads the link counter before an await and writes it back after: a parallel Join's name is handed out again
  | 'prefix-delete' // DeleteEndpoint removes the state of every endpoint whose id shares its first 7 characters (cleanup by name prefix)
  | 'links-by-5' // host links named "vth" + the first 5 id characters
  | 'links-by-12' // host links named "dh-" + the first 12 id characters (docker-net-dhcp's scheme)
  | 'delete-network-keeps-state' // DeleteNetwork only marks the network deleted; CreateNetwork of the same id revives the old record (old gateway, old endpoints)
  | 'crash-aux-array' // reads IPv4Data[].AuxAddresses as an array: a real --aux-address map kills the connection
  | 'crash-no-gateway' // reads IPv4Data[0].Gateway.split('/'): a pool without Gateway kills the connection
  | 'crash-portmap'; // reads portmap HostIP as required and Proto as a string ("tcp"): real -p entries kill ProgramExternalConnectivity

export interface RacyDriverOptions {
  readonly flaw?: RacyFlaw;
}

interface Endpoint {
  readonly id: string;
  readonly net: string;
  link: string | null;
}

interface Network {
  readonly gateway: string; // bare IPv4 gateway or ''
  readonly gateway6: string; // bare IPv6 gateway or ''
  readonly options: unknown;
  readonly endpoints: Map<string, Endpoint>;
  deleted: boolean;
}

class Refusal extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? (v as unknown[]).map(obj) : []);
const bare = (cidr: unknown): string => (typeof cidr === 'string' ? (cidr.split('/')[0] ?? '') : '');

export async function startRacyDriver(socketPath: string, opts: RacyDriverOptions = {}): Promise<ListeningPlugin> {
  const flaw = opts.flaw;
  const networks = new Map<string, Network>();
  let next = 0;
  let macs = 0;
  let current: Record<string, unknown> = {};

  const id = (b: Record<string, unknown>, k: string): string => {
    const v = b[k];
    if (typeof v !== 'string' || v === '') throw new Refusal(`${k} is required`);
    return v;
  };
  const live = (b: Record<string, unknown>): Network => {
    const n = networks.get(id(b, 'NetworkID'));
    if (!n || n.deleted) throw new Refusal(`network ${String(b['NetworkID'])} not found`);
    return n;
  };
  const endpoint = (b: Record<string, unknown>): Endpoint => {
    const ep = live(b).endpoints.get(id(b, 'EndpointID'));
    if (!ep) throw new Refusal(`endpoint ${String(b['EndpointID'])} not found`);
    return ep;
  };
  const linkName = (epId: string): string => {
    if (flaw === 'links-by-5') return `vth${epId.slice(0, 5)}`; // FLAW links-by-5
    if (flaw === 'links-by-12') return `dh-${epId.slice(0, 12)}`; // FLAW links-by-12
    return `rc${(next++).toString(36)}`;
  };

  const methods: Record<string, (b: Record<string, unknown>) => Promise<unknown>> = {
    '/Plugin.Activate': async () => ({ Implements: ['NetworkDriver'] }),
    '/NetworkDriver.GetCapabilities': async () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    '/NetworkDriver.CreateNetwork': async (b) => {
      const nid = id(b, 'NetworkID');
      const old = networks.get(nid);
      if (old && !old.deleted) throw new Refusal(`network ${nid} exists`);
      if (old && flaw === 'delete-network-keeps-state') {
        old.deleted = false; // FLAW delete-network-keeps-state: the old record (gateway, endpoints) comes back
        return {};
      }
      const v4 = arr(b['IPv4Data']);
      const v6 = arr(b['IPv6Data']);
      for (const d of v4) {
        if (flaw === 'crash-aux-array' && d['AuxAddresses'] !== undefined) for (const a of d['AuxAddresses'] as unknown[]) void a; // FLAW crash-aux-array (a map is not iterable)
        if (flaw === 'crash-no-gateway') void (d['Gateway'] as string).split('/'); // FLAW crash-no-gateway
      }
      current = b;
      await sleep(10); // creating a bridge
      const req = flaw === 'shared-current-network' ? current : b; // FLAW shared-current-network
      networks.set(nid, {
        gateway: bare(arr(req['IPv4Data'])[0]?.['Gateway']),
        gateway6: bare(arr(req['IPv6Data'])[0]?.['Gateway']),
        options: obj(req['Options']),
        endpoints: new Map(),
        deleted: false,
      });
      void v6;
      return {};
    },
    '/NetworkDriver.DeleteNetwork': async (b) => {
      const nid = id(b, 'NetworkID');
      await sleep(2);
      const n = networks.get(nid);
      if (flaw === 'delete-network-keeps-state' && n) n.deleted = true;
      else networks.delete(nid);
      return {};
    },
    '/NetworkDriver.CreateEndpoint': async (b) => {
      const net = live(b);
      const eid = id(b, 'EndpointID');
      await sleep(2);
      if (net.endpoints.has(eid)) throw new Refusal(`endpoint ${eid} exists`);
      net.endpoints.set(eid, { id: eid, net: id(b, 'NetworkID'), link: null });
      const iface = obj(b['Interface']);
      if (typeof iface['MacAddress'] === 'string' && iface['MacAddress'] !== '') return {};
      const n = ++macs;
      return { Interface: { MacAddress: [0x02, 0x52, 0xac, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff].map((x) => x.toString(16).padStart(2, '0')).join(':') } };
    },
    '/NetworkDriver.DeleteEndpoint': async (b) => {
      const net = live(b);
      const eid = id(b, 'EndpointID');
      await sleep(2);
      if (!net.endpoints.has(eid)) throw new Refusal(`endpoint ${eid} not found`);
      if (flaw === 'prefix-delete') {
        for (const k of [...net.endpoints.keys()]) if (k.startsWith(eid.slice(0, 7))) net.endpoints.delete(k); // FLAW prefix-delete
      } else net.endpoints.delete(eid);
      return {};
    },
    '/NetworkDriver.EndpointOperInfo': async (b) => {
      const ep = endpoint(b);
      return { Value: { link: ep.link ?? '' } };
    },
    '/NetworkDriver.Join': async (b) => {
      const net = live(b);
      const ep = endpoint(b);
      await sleep(10); // looking the endpoint up in the datastore
      ep.link = linkName(ep.id);
      await sleep(5); // ip link add
      return {
        InterfaceName: { SrcName: ep.link, DstPrefix: 'eth' },
        ...(net.gateway !== '' ? { Gateway: net.gateway } : {}),
        ...(net.gateway6 !== '' ? { GatewayIPv6: net.gateway6 } : {}),
      };
    },
    '/NetworkDriver.Leave': async (b) => {
      const ep = endpoint(b);
      const name = ep.link;
      if (name === null) throw new Refusal(`endpoint ${ep.id} is not joined`);
      // Give the highest name back so names stay short (rc0, rc1, ...).
      const n = next;
      if (flaw === 'leave-counter-race') {
        await sleep(30); // ip link del: the counter read above is stale by now
        if (name === `rc${(n - 1).toString(36)}`) next = n - 1; // FLAW leave-counter-race
      } else {
        await sleep(30);
        if (name === `rc${(next - 1).toString(36)}`) next--;
      }
      ep.link = null;
      return {};
    },
    '/NetworkDriver.ProgramExternalConnectivity': async (b) => {
      endpoint(b);
      if (flaw === 'crash-portmap') {
        for (const p of arr(obj(b['Options'])['com.docker.network.portmap'])) void ((p['HostIP'] as string).length > 0 ? (p['Proto'] as string).toUpperCase() : (p['Proto'] as string).toLowerCase()); // FLAW crash-portmap
      }
      return {};
    },
    '/NetworkDriver.RevokeExternalConnectivity': async () => ({}),
    '/NetworkDriver.DiscoverNew': async () => ({}),
    '/NetworkDriver.DiscoverDelete': async () => ({}),
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown): void => sendJson(res, status, body);
      const path = req.url ?? '';
      const method = methods[path];
      if (!method) return send(404, { Err: `404 page not found: ${path}` });
      const decoded = decodeRequest(path, Buffer.concat(chunks).toString('utf8'));
      if ('error' in decoded) return send(400, { Err: decoded.error });
      const body = decoded.body;
      method(body).then(
        (v) => send(200, v),
        (e: unknown) => {
          if (e instanceof Refusal) return send(500, { Err: e.message });
          // Any other exception is a bug: like a panicking Go handler, the connection just drops.
          res.destroy();
        },
      );
    });
  });
  await rm(socketPath, { force: true });
  return listenOn(server, socketPath);
}
