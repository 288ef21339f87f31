/**
 * Byte-level exchanges for the protocol suite: malformed, truncated, oversize
 * and empty bodies that a well-behaved HTTP client would never send, sent the
 * way dockerd frames requests (no Content-Type, Accept v1.2, Go user agent).
 * Every reply is read with a size cap and a timeout, so a hostile plugin
 * (endless body, garbage, silence, reset) cannot hang the checker.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { ACCEPT_HEADER, UNIX_HOST_HEADER } from '../src/protocol/constants.js';
import type { RawHandler } from '../src/protocol/raw.js';
import type { CallSummary } from './types.js';

export interface RawExchange {
  readonly path: string;
  readonly method?: string;
  /** Body as sent; strings are UTF-8. */
  readonly body?: string | Uint8Array;
  /** Extra / replacing headers (lower-case names); `null` removes a default header. */
  readonly headers?: Readonly<Record<string, string | null>>;
  /** Declared Content-Length; more than the body bytes makes a truncated request. */
  readonly declaredLength?: number;
}

export type RawResult =
  | {
      readonly kind: 'reply';
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: string;
      /** Body cut at the size cap. */
      readonly truncated: boolean;
      readonly durationMs: number;
    }
  | { readonly kind: 'timeout' | 'transport-error' | 'bad-reply'; readonly message: string; readonly durationMs: number };

export interface RawSendOptions {
  readonly timeoutMs?: number;
  /** Reply bodies beyond this are cut (default 1 MiB). */
  readonly maxBody?: number;
}

export interface RawSender {
  send(exchange: RawExchange, opts?: RawSendOptions): Promise<RawResult>;
  /** curl arguments that reach the plugin, e.g. `--unix-socket /p.sock http://localhost`; null for in-process targets. */
  readonly curlPrefix: readonly string[] | null;
}

export type RawEndpoint = { readonly socketPath: string } | { readonly host: string; readonly port: number };

const DEFAULT_MAX_BODY = 1024 * 1024;

function encode(body: string | Uint8Array | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
}

export interface RawSenderOptions {
  /** Host header: '' like dockerd <= 20.10.25 on unix sockets, or `plugin.moby.localhost`. */
  readonly hostHeader?: string;
  readonly defaultTimeoutMs?: number;
  /** Observer of every exchange (statistics, reports, the runner's liveness watch). */
  readonly onExchange?: (summary: CallSummary, result: RawResult) => void;
}

function summarize(ex: RawExchange, res: RawResult): CallSummary {
  return {
    path: ex.path,
    request: encode(ex.body).toString('utf8'),
    ...(res.kind === 'reply' ? { status: res.status, response: res.body } : {}),
    outcome: 'raw',
    durationMs: res.durationMs,
  };
}

/** Raw HTTP/1.1 over a unix socket or TCP. */
export function socketRawSender(endpoint: RawEndpoint, options: RawSenderOptions = {}): RawSender {
  const curlPrefix =
    'socketPath' in endpoint
      ? ['--unix-socket', endpoint.socketPath, 'http://localhost']
      : [`http://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`];
  return {
    curlPrefix,
    async send(ex, opts = {}) {
      const res = await exchangeOverSocket(endpoint, ex, options, opts);
      options.onExchange?.(summarize(ex, res), res);
      return res;
    },
  };
}

/** Raw exchanges with an in-process RawHandler (the SDK's handler, tests). */
export function handlerRawSender(handler: RawHandler, options: RawSenderOptions = {}): RawSender {
  return {
    curlPrefix: null,
    async send(ex, opts = {}) {
      const started = performance.now();
      const timeoutMs = opts.timeoutMs ?? options.defaultTimeoutMs ?? 5000;
      const ac = new AbortController();
      const body = encode(ex.body);
      const declared = ex.declaredLength ?? body.length;
      // A declared length beyond the body is a truncated request: the handler sees what arrived.
      const headers: Record<string, string> = { accept: ACCEPT_HEADER, 'content-length': String(declared) };
      for (const [k, v] of Object.entries(ex.headers ?? {})) {
        if (v === null) delete headers[k];
        else headers[k] = v;
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<RawResult>((resolve) => {
        timer = setTimeout(() => {
          ac.abort();
          resolve({ kind: 'timeout', message: `no reply within ${timeoutMs} ms`, durationMs: performance.now() - started });
        }, timeoutMs);
      });
      const call = handler
        .handle({ method: ex.method ?? 'POST', path: ex.path, headers, body }, ac.signal)
        .then<RawResult>((reply) => {
          const max = opts.maxBody ?? DEFAULT_MAX_BODY;
          const text = Buffer.from(reply.body).toString('utf8');
          return {
            kind: 'reply',
            status: reply.status,
            headers: reply.headers,
            body: text.length > max ? text.slice(0, max) : text,
            truncated: text.length > max,
            durationMs: performance.now() - started,
          };
        })
        .catch<RawResult>((e: unknown) => ({ kind: 'transport-error', message: e instanceof Error ? e.message : String(e), durationMs: performance.now() - started }));
      const res = await Promise.race([call, timeout]);
      clearTimeout(timer);
      options.onExchange?.(summarize(ex, res), res);
      return res;
    },
  };
}

function exchangeOverSocket(endpoint: RawEndpoint, ex: RawExchange, options: RawSenderOptions, opts: RawSendOptions): Promise<RawResult> {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? options.defaultTimeoutMs ?? 5000;
  const maxBody = opts.maxBody ?? DEFAULT_MAX_BODY;
  const body = encode(ex.body);
  const headers: Record<string, string> = {
    host: options.hostHeader ?? ('socketPath' in endpoint ? '' : `${endpoint.host}:${endpoint.port}`),
    'user-agent': 'Go-http-client/1.1',
    'content-length': String(ex.declaredLength ?? body.length),
    accept: ACCEPT_HEADER,
    connection: 'close',
  };
  for (const [k, v] of Object.entries(ex.headers ?? {})) {
    if (v === null) delete headers[k];
    else headers[k] = v;
  }
  const head =
    `${ex.method ?? 'POST'} ${ex.path} HTTP/1.1\r\n` +
    Object.entries(headers)
      .map(([k, v]) => `${k.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase())}: ${v}\r\n`)
      .join('') +
    '\r\n';

  return new Promise<RawResult>((resolve) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let received = 0;
    const socket: Socket = 'socketPath' in endpoint ? netConnect({ path: endpoint.socketPath }) : netConnect({ host: endpoint.host, port: endpoint.port });
    const finish = (res: RawResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(res);
    };
    const elapsed = (): number => performance.now() - started;
    const timer = setTimeout(() => finish({ kind: 'timeout', message: `no complete reply within ${timeoutMs} ms`, durationMs: elapsed() }), timeoutMs);
    const tryParse = (ended: boolean): void => {
      const buf = Buffer.concat(chunks);
      const parsed = parseReply(buf, ended, maxBody);
      if (parsed === 'incomplete') {
        if (ended) finish({ kind: 'transport-error', message: received === 0 ? 'connection closed without a reply' : 'connection closed mid-reply', durationMs: elapsed() });
        return;
      }
      if (typeof parsed === 'string') {
        finish({ kind: 'bad-reply', message: parsed, durationMs: elapsed() });
        return;
      }
      finish({ kind: 'reply', ...parsed, durationMs: elapsed() });
    };
    // Head and body in one write, as Go's client buffers them: a plugin that answers (say 404)
    // and closes before reading the body must not turn its reply into an EPIPE on a second write.
    socket.on('connect', () => {
      socket.write(body.length > 0 ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head);
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      received += d.length;
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // A reply that arrived before the error (the plugin answered, then reset or closed) wins.
      if (chunks.length > 0) tryParse(true);
      const closedEarly = e.code === 'EPIPE' || e.code === 'ECONNRESET';
      finish({ kind: 'transport-error', message: `${e.code ?? 'error'}: ${e.message}${closedEarly ? ' (the plugin closed the connection before reading the whole request)' : ''}`, durationMs: elapsed() });
    });
    socket.on('close', () => tryParse(true));
  });
}

type Parsed = { status: number; headers: Record<string, string>; body: string; truncated: boolean };

/** Parse an HTTP/1.x reply; 'incomplete' = need more bytes; string = malformed. */
function parseReply(buf: Buffer, ended: boolean, maxBody: number): Parsed | 'incomplete' | string {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (buf.length > 64 * 1024) return 'reply headers larger than 64 KiB';
    if (ended && buf.length > 0) return `not an HTTP reply: ${JSON.stringify(buf.subarray(0, 60).toString('latin1'))}`;
    return 'incomplete';
  }
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) return `not an HTTP status line: ${JSON.stringify((lines[0] ?? '').slice(0, 60))}`;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  const rest = buf.subarray(headEnd + 4);
  const status = Number(m[1]);
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const out: Buffer[] = [];
    let total = 0;
    let pos = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', pos);
      if (lineEnd < 0) return ended ? 'chunked reply cut short' : total > maxBody ? cut(status, headers, out, maxBody) : 'incomplete';
      const size = parseInt(rest.subarray(pos, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) return 'malformed chunk size';
      if (size === 0) return { status, headers, body: Buffer.concat(out).toString('utf8'), truncated: false };
      if (rest.length < lineEnd + 2 + size + 2) {
        if (total + (rest.length - lineEnd - 2) > maxBody) return cut(status, headers, [...out, rest.subarray(lineEnd + 2)], maxBody);
        return ended ? 'chunked reply cut short' : 'incomplete';
      }
      out.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      total += size;
      if (total > maxBody) return cut(status, headers, out, maxBody);
      pos = lineEnd + 2 + size + 2;
    }
  }
  const cl = headers['content-length'];
  if (cl !== undefined) {
    const len = Number(cl);
    if (!Number.isInteger(len) || len < 0) return `bad Content-Length ${cl}`;
    if (rest.length >= len) return { status, headers, body: rest.subarray(0, len).toString('utf8'), truncated: false };
    if (rest.length > maxBody) return cut(status, headers, [rest], maxBody);
    return ended ? 'reply body shorter than Content-Length' : 'incomplete';
  }
  if (rest.length > maxBody) return cut(status, headers, [rest], maxBody);
  return ended ? { status, headers, body: rest.toString('utf8'), truncated: false } : 'incomplete';
}

function cut(status: number, headers: Record<string, string>, parts: Buffer[], maxBody: number): Parsed {
  return { status, headers, body: Buffer.concat(parts).subarray(0, maxBody).toString('utf8'), truncated: true };
}

/** The Host header dockerd sends on unix sockets for a profile. */
export function hostHeaderFor(profile: string): string {
  return profile === 'moby' ? UNIX_HOST_HEADER : '';
}
