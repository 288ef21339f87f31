/** Small hand-written plugin servers for the client tests (no SDK involved). */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { RawHandler, RawReply, RawRequest } from '../../src/protocol/raw.js';

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cnmkit-client-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface SeenRequest {
  /** Exact bytes of request line + headers + body. */
  readonly raw: Buffer;
  readonly method: string;
  readonly path: string;
  /** Header lines as sent: [name, value] with original case, in order. */
  readonly headerLines: readonly [string, string][];
  readonly body: Buffer;
  /** Index of the connection the request came on (0, 1, ...). */
  readonly conn: number;
}

export type Behaviour = (req: SeenRequest, sock: net.Socket) => void;

export interface TestServer {
  readonly requests: SeenRequest[];
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Connections still open on the server side. */
  readonly open: () => number;
  /** `{ socket }` or `{ url }` target. */
  readonly path?: string;
  readonly port?: number;
  close(): Promise<void>;
}

/** Parse requests off a connection (Content-Length bodies) and hand each to `behaviour`. */
function serveConnection(sock: net.Socket, conn: number, requests: SeenRequest[], behaviour: Behaviour): void {
  let buf = Buffer.alloc(0);
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1').split('\r\n');
      const [method = '', p = ''] = head[0]!.split(' ');
      const headerLines = head.slice(1).map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i), l.slice(i + 1).trim()] as [string, string];
      });
      const cl = Number(headerLines.find(([k]) => k.toLowerCase() === 'content-length')?.[1] ?? '0');
      if (buf.length < end + 4 + cl) return;
      const raw = Buffer.from(buf.subarray(0, end + 4 + cl));
      const body = raw.subarray(end + 4);
      buf = buf.subarray(end + 4 + cl);
      const req: SeenRequest = { raw, method, path: p, headerLines, body, conn };
      requests.push(req);
      behaviour(req, sock);
    }
  });
}

export async function startServer(
  where: { unix: string } | { tcp: true } | { tls: tls.TlsOptions },
  behaviour: Behaviour,
): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const onConn = (sock: net.Socket): void => {
    const n = accepted++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    serveConnection(sock, n, requests, behaviour);
  };
  const server = 'tls' in where ? tls.createServer(where.tls, onConn) : net.createServer(onConn);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('unix' in where) server.listen(where.unix, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  const addr = server.address();
  return {
    requests,
    accepted: () => accepted,
    open: () => sockets.size,
    ...('unix' in where ? { path: where.unix } : { port: (addr as net.AddressInfo).port }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Write a complete HTTP/1.1 reply. */
export function reply(sock: net.Socket, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  let head = `HTTP/1.1 ${status} X\r\n`;
  for (const [k, v] of Object.entries({ 'Content-Length': String(b.length), ...headers })) head += `${k}: ${v}\r\n`;
  sock.write(Buffer.concat([Buffer.from(`${head}\r\n`), b]));
}

/** Answer every request with a JSON body per path (default `{}`). */
export function jsonBehaviour(byPath: Record<string, [number, string]> = {}): Behaviour {
  return (req, sock) => {
    const [status, body] = byPath[req.path] ?? [200, '{}\n'];
    reply(sock, status, body);
  };
}

/** A RawHandler answering from a table `path -> [status, body]`, recording requests. */
export function tableHandler(byPath: Record<string, [number, string] | ((req: RawRequest) => RawReply | Promise<RawReply>)>): RawHandler & { seen: RawRequest[] } {
  const seen: RawRequest[] = [];
  return {
    seen,
    async handle(req): Promise<RawReply> {
      seen.push(req);
      const entry = byPath[req.path];
      if (entry === undefined) return { status: 404, headers: { 'content-type': 'text/plain' }, body: Buffer.from('404 page not found\n') };
      if (typeof entry === 'function') return entry(req);
      return { status: entry[0], headers: {}, body: Buffer.from(entry[1]) };
    },
  };
}

export function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() - start > ms) return reject(new Error('condition not reached'));
      setTimeout(tick, 5);
    };
    tick();
  });
}
