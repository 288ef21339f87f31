/**
 * HTTP/1.1 over unix sockets, TCP or TLS with a small keep-alive pool, as
 * Go's http.Transport talks to a plugin. Every exchange is bounded: one timer
 * covers dial, write, head and body; replies are capped; any failure destroys
 * the connection; idle connections are unref'd and dropped when the peer
 * closes them or sends unsolicited bytes.
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import zlib from 'node:zlib';
import type { RawReply, RawRequest } from '../protocol/raw.js';
import { TransportError, type TransportErrorKind, type TransportPhase } from './errors.js';
import { ReplyParser, serializeRequest } from './http1.js';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEAD_BYTES, type SendOptions, type Transport, type TransportInfo } from './transport.js';

export interface TlsSettings {
  /** PEM file paths on this host, as in a plugin `.json` TLSConfig. */
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly insecureSkipVerify?: boolean;
}

export type SocketAddress =
  | { readonly kind: 'unix'; readonly path: string }
  /** `authority`: host[:port] as written in the plugin URL; Go sends it as the Host header (default `host:port`). */
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly authority?: string }
  | { readonly kind: 'tls'; readonly host: string; readonly port: number; readonly tls: TlsSettings; readonly authority?: string };

export interface SocketTransportOptions {
  /** Reply body cap in bytes (default 4 MiB). */
  readonly maxBodyBytes?: number;
  readonly maxHeadBytes?: number;
  /** Reuse connections like Go (default true). */
  readonly keepAlive?: boolean;
  /** Idle connections kept per transport (default 4). */
  readonly maxIdle?: number;
}

/** The longest unix socket path Linux accepts (sun_path is 108 bytes incl. NUL). */
export const MAX_UNIX_PATH_BYTES = 107;

function hostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

export function infoOf(addr: SocketAddress): TransportInfo {
  if (addr.kind === 'unix') {
    return { kind: 'unix', address: addr.path, compression: false, urlBase: `http://${encodeURIComponent(addr.path)}` };
  }
  const hp = addr.authority ?? hostPort(addr.host, addr.port);
  return { kind: addr.kind, address: hp, compression: true, urlBase: `${addr.kind === 'tls' ? 'https' : 'http'}://${hp}` };
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Map a socket error to a transport error with a Go-like text. */
function fromSocketError(err: NodeJS.ErrnoException, addr: SocketAddress, phase: TransportPhase, sent: boolean, partial?: ReturnType<ReplyParser['partial']>): TransportError {
  const code = err.code ?? '';
  const where = addr.kind === 'unix' ? `unix ${addr.path}` : `tcp ${hostPort(addr.host, addr.port)}`;
  let kind: TransportErrorKind = 'dial';
  let text = err.message;
  if (code === 'ECONNREFUSED') [kind, text] = ['refused', `dial ${where}: connect: connection refused`];
  else if (code === 'ENOENT') [kind, text] = ['no-socket', `dial ${where}: connect: no such file or directory`];
  else if (code === 'ECONNRESET') [kind, text] = ['reset', `read ${where}: read: connection reset by peer`];
  else if (code === 'EPIPE') [kind, text] = ['reset', `write ${where}: write: broken pipe`];
  else if (TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) [kind, text] = ['tls', `tls: failed to verify certificate: ${err.message}`];
  else if (phase === 'connect') text = `dial ${where}: ${err.message}`;
  if (kind === 'dial' && phase !== 'connect') kind = 'reset';
  return new TransportError(kind, kind === 'refused' || kind === 'no-socket' ? 'connect' : phase, sent, text, partial, err);
}

interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export class SocketTransport implements Transport {
  readonly info: TransportInfo;
  private readonly maxBody: number;
  private readonly maxHead: number;
  private readonly keepAlive: boolean;
  private readonly maxIdle: number;
  private readonly idle: net.Socket[] = [];
  private readonly active = new Set<net.Socket>();
  private closed = false;
  private tlsMaterial: Promise<TlsMaterial> | undefined;

  constructor(
    readonly address: SocketAddress,
    opts: SocketTransportOptions = {},
  ) {
    this.info = infoOf(address);
    this.maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.maxHead = opts.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    this.keepAlive = opts.keepAlive ?? true;
    this.maxIdle = opts.maxIdle ?? 4;
  }

  /** Connections currently open (idle + in use): for leak checks. */
  get openConnections(): number {
    return this.idle.length + this.active.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.idle.splice(0)) s.destroy();
    // Exchanges in flight see their socket close and fail with `aborted`.
    for (const s of [...this.active]) s.destroy();
  }

  private loadTls(): Promise<TlsMaterial> {
    if (this.address.kind !== 'tls') return Promise.resolve({});
    const t = this.address.tls;
    this.tlsMaterial ??= (async () => ({
      ca: t.caFile ? await readFile(t.caFile) : undefined,
      cert: t.certFile ? await readFile(t.certFile) : undefined,
      key: t.keyFile ? await readFile(t.keyFile) : undefined,
    }))();
    return this.tlsMaterial;
  }

  private dial(material: TlsMaterial): net.Socket {
    const a = this.address;
    if (a.kind === 'unix') return net.connect({ path: a.path });
    if (a.kind === 'tcp') return net.connect({ host: a.host, port: a.port });
    return tls.connect({
      host: a.host,
      port: a.port,
      ...(net.isIP(a.host) === 0 ? { servername: a.host } : {}),
      ca: material.ca,
      cert: material.cert,
      key: material.key,
      rejectUnauthorized: !(a.tls.insecureSkipVerify ?? false),
      ALPNProtocols: ['http/1.1'],
    });
  }

  private takeIdle(): net.Socket | undefined {
    for (;;) {
      const s = this.idle.pop();
      if (s === undefined) return undefined;
      s.removeAllListeners('data').removeAllListeners('end').removeAllListeners('close').removeAllListeners('error');
      if (!s.destroyed && s.readable && s.writable) return s;
      s.destroy();
    }
  }

  private park(s: net.Socket): void {
    if (this.closed || !this.keepAlive || this.idle.length >= this.maxIdle) {
      s.destroy();
      return;
    }
    const drop = (): void => {
      const i = this.idle.indexOf(s);
      if (i >= 0) this.idle.splice(i, 1);
      s.destroy();
    };
    // Unsolicited bytes or a close while idle make the connection unusable.
    s.on('data', drop).on('end', drop).on('close', drop).on('error', drop);
    s.unref();
    this.idle.push(s);
  }

  async send(req: RawRequest, opts: SendOptions): Promise<RawReply> {
    if (this.closed) throw new TransportError('aborted', 'connect', false, 'transport is closed');
    if (this.address.kind === 'unix' && Buffer.byteLength(this.address.path) > MAX_UNIX_PATH_BYTES) {
      throw new TransportError('dial', 'connect', false, `dial unix ${this.address.path}: socket path longer than ${MAX_UNIX_PATH_BYTES} bytes`);
    }
    let payload: Buffer;
    try {
      payload = serializeRequest(req);
    } catch (e) {
      throw new TransportError('dial', 'connect', false, (e as Error).message, undefined, e);
    }
    let material: TlsMaterial = {};
    try {
      material = await this.loadTls();
    } catch (e) {
      this.tlsMaterial = undefined;
      throw new TransportError('tls', 'connect', false, `loading TLS files: ${(e as Error).message}`, undefined, e);
    }
    const wantGzip = this.info.compression && (req.headers['accept-encoding'] ?? '').toLowerCase() === 'gzip';
    const parsed = await this.exchange(payload, material, opts);
    const headers = { ...parsed.headers };
    let body: Uint8Array = parsed.body;
    if (wantGzip && (headers['content-encoding'] ?? '').toLowerCase() === 'gzip') {
      body = await this.gunzip(parsed.body, parsed.status, headers);
      // Go's transport hides the encoding once it inflated the body.
      delete headers['content-encoding'];
      delete headers['content-length'];
    }
    return { status: parsed.status, headers, body };
  }

  private gunzip(data: Buffer, status: number, headers: Record<string, string>): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      zlib.gunzip(data, { maxOutputLength: this.maxBody }, (err, out) => {
        if (err === null) return resolve(out);
        const tooBig = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError;
        reject(
          new TransportError(
            tooBig ? 'body-too-large' : 'not-http',
            'body',
            true,
            tooBig ? `inflated reply body exceeds the client's limit of ${this.maxBody} bytes` : `gzip: ${err.message}`,
            { status, headers, body: data.subarray(0, this.maxBody) },
            err,
          ),
        );
      });
    });
  }

  private exchange(payload: Buffer, material: TlsMaterial, opts: SendOptions): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const parser = new ReplyParser(this.maxHead, this.maxBody);
      let phase: TransportPhase = 'connect';
      let sent = false;
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      let socket = this.takeIdle();
      const reused = socket !== undefined;
      if (socket === undefined) {
        try {
          socket = this.dial(material);
        } catch (e) {
          reject(fromSocketError(e as NodeJS.ErrnoException, this.address, 'connect', false));
          return;
        }
      }
      const s = socket;
      s.ref();
      this.active.add(s);

      const cleanup = (): void => {
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        s.removeListener('data', onData).removeListener('end', onEnd).removeListener('error', onError).removeListener('close', onClose);
        s.removeListener('connect', onConnect).removeListener('secureConnect', onConnect);
        this.active.delete(s);
      };
      const failWith = (err: TransportError): void => {
        if (done) return;
        cleanup();
        s.destroy();
        reject(err);
      };
      const currentPhase = (): TransportPhase => (phase === 'connect' || phase === 'send' ? phase : parser.phase);
      const onTimeout = (): void =>
        failWith(new TransportError('timeout', currentPhase(), sent, `context deadline exceeded (no complete reply within ${opts.timeoutMs} ms)`, parser.partial()));
      const onAbort = (): void => failWith(new TransportError('aborted', currentPhase(), sent, 'context canceled', parser.partial()));
      const onError = (err: Error): void => failWith(fromSocketError(err as NodeJS.ErrnoException, this.address, currentPhase(), sent, parser.partial()));
      const onData = (chunk: Buffer): void => {
        if (done) return;
        if (!sent) {
          // Bytes before our request was written: the peer is not an HTTP server.
          failWith(new TransportError('not-http', 'send', false, `unsolicited bytes from the server before the request was sent`));
          return;
        }
        phase = 'headers';
        let reply;
        try {
          reply = parser.push(chunk);
        } catch (e) {
          failWith(e as TransportError);
          return;
        }
        if (reply !== null) {
          cleanup();
          if (reply.reusable) this.park(s);
          else s.destroy();
          resolve(reply);
        }
      };
      const onEnd = (): void => {
        if (done) return;
        try {
          const reply = parser.end();
          cleanup();
          s.destroy();
          resolve(reply);
        } catch (e) {
          const err = e as TransportError;
          failWith(sent && phase !== 'body' && !parser.gotBytes ? new TransportError('eof', 'headers', sent, 'EOF') : err);
        }
      };
      const onClose = (): void => {
        if (done) return;
        if (this.closed) failWith(new TransportError('aborted', currentPhase(), sent, 'transport is closed', parser.partial()));
        else onEnd();
      };
      const write = (): void => {
        if (done) return;
        phase = 'send';
        sent = true;
        s.write(payload);
        phase = 'headers';
      };
      const onConnect = (): void => write();

      if (opts.signal?.aborted) {
        onAbort();
        return;
      }
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs > 0) timer = setTimeout(onTimeout, opts.timeoutMs);
      s.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
      if (reused) write();
      else if (this.address.kind === 'tls') s.once('secureConnect', onConnect);
      else s.once('connect', onConnect);
    });
  }
}
