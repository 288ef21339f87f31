/**
 * servePlugin: listen on a unix socket or TCP (optionally TLS) and serve a
 * driver and/or IPAM object (go-plugins-helpers' ServeUnix / ServeTCP, protocol.md §1.1, §6).
 */
import { chmod, chown, lstat, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import type { IpamApi, NetworkDriverApi } from '../protocol/api.js';
import { PLUGIN_SOCKET_DIR, PLUGIN_SPEC_DIRS, type Profile } from '../protocol/constants.js';
import { SdkOptionsError, SocketInUseError, SocketPathError } from './errors.js';
import { preferLatencyGc } from './gc.js';
import { createPluginHandler, type PluginHandler } from './handler.js';
import { Http1Server, type Http1Limits } from './http1.js';

/** Unix socket by explicit path. */
export interface SocketListen {
  socket: string;
  /** Group owning the socket (mode stays 0660). */
  gid?: number;
}

/** Unix socket `<socketDir>/<name>.sock` (socketDir defaults to /run/docker/plugins). */
export interface NamedSocketListen {
  name: string;
  socketDir?: string;
  gid?: number;
}

export interface TlsFiles {
  /** Paths of PEM files: server certificate and key. */
  cert: string;
  key: string;
  /**
   * CA the daemon should verify the server certificate with. When given, the
   * discovery file is `<name>.json` with `TLSConfig.CAFile`; else `<name>.spec`
   * with an `https://` URL (the daemon then skips verification, protocol.md §1.1).
   */
  ca?: string;
  /** Require and verify a client certificate issued by this CA (mutual TLS). */
  clientCa?: string;
  /** Client certificate and key the daemon should present, written to the .json (`CertFile`, `KeyFile`). */
  daemonCert?: string;
  daemonKey?: string;
}

export interface TcpListen {
  /** `tcp://host:port`; host defaults to 127.0.0.1, port 0 picks a free one. */
  tcp: string;
  /** Plugin name: the discovery file is `<specDir>/<name>.spec` (or `.json`). Without it no file is written. */
  name?: string;
  /** Defaults to /etc/docker/plugins. */
  specDir?: string;
  tls?: TlsFiles;
}

export type ListenOptions = SocketListen | NamedSocketListen | TcpListen;

export interface ServePluginOptions extends Http1Limits {
  driver?: NetworkDriverApi;
  ipam?: IpamApi;
  listen: ListenOptions;
  profile?: Profile;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Validate handler results against the response schemas (debugging; 500 on mismatch). */
  validateResponses?: boolean;
  /** How long close() waits for in-flight calls before destroying connections (default 10 s). */
  closeGraceMs?: number;
  /** Listener errors after start-up (e.g. EMFILE on accept); ignored by default, serving goes on. */
  onError?: (err: Error) => void;
  /**
   * Turn off V8's parallel scavenging for this process (default true): on a busy
   * small host it stretches GC pauses, and with them the slowest calls (src/sdk/gc.ts).
   * Node flags given at start-up win.
   */
  latencyGc?: boolean;
}

export interface PluginServer {
  /** Socket path for unix, `tcp://host:port` or `https://host:port` for TCP. */
  readonly address: string;
  /** Discovery file written for TCP (removed by close), if any. */
  readonly specFile: string | undefined;
  /** Bound TCP port (0 for unix sockets). */
  readonly port: number;
  readonly handler: PluginHandler;
  /** Open client connections. */
  readonly connections: number;
  /**
   * Stop accepting, answer calls in progress (with `Connection: close`), close idle
   * keep-alive connections, then remove the socket / discovery file. Idempotent.
   */
  close(): Promise<void>;
}

/** sun_path is 108 bytes on Linux including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export async function servePlugin(options: ServePluginOptions): Promise<PluginServer> {
  const handler = createPluginHandler({
    driver: options.driver,
    ipam: options.ipam,
    profile: options.profile,
    bodyLimit: options.bodyLimit,
    validateResponses: options.validateResponses,
  });
  if (options.latencyGc !== false) preferLatencyGc();
  const http = new Http1Server(handler, options);
  const listen = options.listen;
  const grace = options.closeGraceMs ?? 10_000;
  const onError = options.onError ?? ((): void => undefined);
  if ('tcp' in listen) return serveTcp(http, listen, grace, onError);
  if ('socket' in listen) return serveUnix(http, listen.socket, listen.gid, grace, onError);
  if ('name' in listen) {
    checkName(listen.name);
    const dir = listen.socketDir ?? PLUGIN_SOCKET_DIR;
    await mkdir(dir, { recursive: true, mode: 0o755 });
    return serveUnix(http, join(dir, `${listen.name}.sock`), listen.gid, grace, onError);
  }
  throw new SdkOptionsError('listen needs { socket }, { name } or { tcp }');
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new SdkOptionsError(`plugin name ${JSON.stringify(name)} must be letters, digits, '.', '_' or '-' (it becomes a file name)`);
  }
}

/** Is something accepting connections on this unix socket? */
function probeSocket(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function prepareSocketPath(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new SocketPathError(path, `longer than ${MAX_SOCKET_PATH} bytes (sun_path)`);
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) throw new SocketPathError(path, 'exists and is not a socket; not removing it');
  if (await probeSocket(path)) throw new SocketInUseError(path);
  // Stale: left behind by a server that died without cleaning up.
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

function listenOn(server: NetServer, target: { path: string } | { host: string; port: number }, onError: (err: Error) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (e: Error): void => reject(e);
    server.once('error', failed);
    server.listen({ ...target, backlog: 1024 }, () => {
      server.off('error', failed);
      // An unhandled 'error' on a listening server would kill the process.
      server.on('error', onError);
      resolve();
    });
  });
}

function closeListener(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function serveUnix(
  http: Http1Server,
  path: string,
  gid: number | undefined,
  grace: number,
  onError: (err: Error) => void,
): Promise<PluginServer> {
  await prepareSocketPath(path);
  const server = createServer({ allowHalfOpen: true, noDelay: true });
  http.attach(server);
  try {
    await listenOn(server, { path }, onError);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new SocketInUseError(path);
    throw e;
  }
  try {
    await chmod(path, 0o660);
    if (gid !== undefined) await chown(path, process.getuid?.() ?? 0, gid);
  } catch (e) {
    await closeListener(server);
    await unlink(path).catch(() => undefined);
    throw e;
  }
  return makeHandle(http, server, path, undefined, 0, grace, path);
}

async function serveTcp(http: Http1Server, listen: TcpListen, grace: number, onError: (err: Error) => void): Promise<PluginServer> {
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/\s]*)(?::([0-9]{1,5}))?\/?$/.exec(listen.tcp);
  if (m === null) throw new SdkOptionsError(`listen.tcp must look like tcp://127.0.0.1:9000, got ${JSON.stringify(listen.tcp)}`);
  const host = (m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1]).replace(/^\[|\]$/g, '');
  const port = m[2] === undefined ? 0 : Number(m[2]);
  if (port > 65535) throw new SdkOptionsError(`port ${port} out of range`);
  if (listen.name !== undefined) checkName(listen.name);
  let server: NetServer;
  if (listen.tls !== undefined) {
    const t = listen.tls;
    if ((t.daemonCert === undefined) !== (t.daemonKey === undefined)) throw new SdkOptionsError('tls.daemonCert and tls.daemonKey go together');
    const [cert, key, clientCa] = await Promise.all([readFile(t.cert), readFile(t.key), t.clientCa === undefined ? undefined : readFile(t.clientCa)]);
    server = createTlsServer(
      clientCa === undefined ? { cert, key, allowHalfOpen: true } : { cert, key, ca: clientCa, requestCert: true, rejectUnauthorized: true, allowHalfOpen: true },
    );
  } else {
    server = createServer({ allowHalfOpen: true, noDelay: true });
  }
  http.attach(server, listen.tls !== undefined);
  await listenOn(server, { host, port }, onError);
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new SdkOptionsError('TCP listener has no address');
  const hostPart = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${listen.tls !== undefined ? 'https' : 'tcp'}://${hostPart}:${addr.port}`;
  let specFile: string | undefined;
  if (listen.name !== undefined) {
    const dir = listen.specDir ?? PLUGIN_SPEC_DIRS[0];
    try {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      const t = listen.tls;
      if (t !== undefined && (t.ca !== undefined || t.daemonCert !== undefined)) {
        specFile = join(dir, `${listen.name}.json`);
        // Without CAFile the daemon forces InsecureSkipVerify (protocol.md §1.1).
        const tlsConfig: Record<string, unknown> = { InsecureSkipVerify: t.ca === undefined };
        if (t.ca !== undefined) tlsConfig['CAFile'] = t.ca;
        if (t.daemonCert !== undefined) {
          tlsConfig['CertFile'] = t.daemonCert;
          tlsConfig['KeyFile'] = t.daemonKey;
        }
        const spec = { Name: listen.name, Addr: url, TLSConfig: tlsConfig };
        await writeFile(specFile, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o644 });
      } else {
        specFile = join(dir, `${listen.name}.spec`);
        await writeFile(specFile, `${url}\n`, { mode: 0o644 });
      }
    } catch (e) {
      await closeListener(server);
      throw e;
    }
  }
  return makeHandle(http, server, url, specFile, addr.port, grace, undefined);
}

function makeHandle(
  http: Http1Server,
  server: NetServer,
  address: string,
  specFile: string | undefined,
  port: number,
  grace: number,
  socketPath: string | undefined,
): PluginServer {
  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    const listenerClosed = closeListener(server);
    // Remove the discovery entry first so the daemon stops finding a server that is going away.
    if (specFile !== undefined) await unlink(specFile).catch(() => undefined);
    await http.shutdown(grace);
    await listenerClosed;
    // net.Server unlinks its unix socket on close; make sure for older runtimes.
    if (socketPath !== undefined) await unlink(socketPath).catch(() => undefined);
  };
  return {
    address,
    specFile,
    port,
    handler: http.handler,
    get connections() {
      return http.connectionCount;
    },
    close: () => (closing ??= close()),
  };
}
