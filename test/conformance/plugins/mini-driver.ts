/**
 * A tiny network driver written from protocol.md alone (no src/sdk): keeps
 * networks and endpoints in maps, creates nothing. Used for the protocol
 * suite's driver checks; each `DriverFlaw` is one realistic bug.
 */
import { createServer } from 'node:http';
import { decodeRequest, listenOn, sendJson } from './listen.js';

export type DriverFlaw =
  | 'bad-scope' // GetCapabilities answers Scope "bogus"
  | 'error-field-200'; // errors as 200 {"Error": ...} (the IPAM field)

export async function startMiniDriver(socketPath: string, flaws: readonly DriverFlaw[] = []): Promise<{ socketPath: string; close(): Promise<void> }> {
  const flaw = new Set(flaws);
  const networks = new Map<string, Set<string>>();
  const fail = (msg: string): never => {
    throw new Error(msg);
  };
  const id = (b: Record<string, unknown>, k: string): string => (typeof b[k] === 'string' && b[k] ? (b[k] as string) : fail(`${k} required`));
  const endpoints = (b: Record<string, unknown>): Set<string> => networks.get(id(b, 'NetworkID')) ?? fail(`network ${String(b['NetworkID'])} not found`);
  const methods: Record<string, (b: Record<string, unknown>) => unknown> = {
    '/Plugin.Activate': () => ({ Implements: ['NetworkDriver'] }),
    '/NetworkDriver.GetCapabilities': () => ({ Scope: flaw.has('bad-scope') ? 'bogus' : 'local', ConnectivityScope: 'local' }), // FLAW bad-scope
    '/NetworkDriver.CreateNetwork': (b) => (networks.set(id(b, 'NetworkID'), new Set()), {}),
    '/NetworkDriver.DeleteNetwork': (b) => (networks.delete(id(b, 'NetworkID')), {}),
    '/NetworkDriver.CreateEndpoint': (b) => (endpoints(b).add(id(b, 'EndpointID')), {}),
    '/NetworkDriver.DeleteEndpoint': (b) => (endpoints(b).delete(id(b, 'EndpointID')), {}),
    '/NetworkDriver.EndpointOperInfo': () => ({ Value: {} }),
    '/NetworkDriver.Join': (b) => (endpoints(b).has(id(b, 'EndpointID')) ? { InterfaceName: { SrcName: 'veth0', DstPrefix: 'eth' } } : fail('endpoint not found')),
    '/NetworkDriver.Leave': () => ({}),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown): void => sendJson(res, status, body);
      const method = methods[req.url ?? ''];
      if (!method) return send(404, { Err: 'page not found' });
      const decoded = decodeRequest(req.url ?? '', Buffer.concat(chunks).toString('utf8'));
      if ('error' in decoded) return send(400, { Err: decoded.error });
      const body = decoded.body;
      try {
        send(200, method(body));
      } catch (e) {
        if (flaw.has('error-field-200')) send(200, { Error: (e as Error).message }); // FLAW error-field-200
        else send(500, { Err: (e as Error).message });
      }
    });
  });
  return listenOn(server, socketPath);
}
