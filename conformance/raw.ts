/**
 * Byte-level exchanges for the protocol suite: malformed, truncated, oversize
 * and empty bodies that a well-behaved HTTP client would never send, sent the
 * way dockerd frames requests (no Content-Type, Accept v1.2, Go user agent).
 * Every reply is read with a size cap and a timeout, so a hostile plugin
 * (endless body, garbage, silence, reset) cannot hang the checker. Replies are
 * parsed by the client's HTTP/1.1 reply parser (src/client/http1.ts), in its
 * mode that cuts an oversize body instead of failing the reply.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { ACCEPT_HEADER, UNIX_HOST_HEADER } from '../src/protocol/constants.js';
import type { RawHandler } from '../src/protocol/raw.js';
import { TransportError } from '../src/client/errors.js';
import { ReplyParser, serializeRequest, type ParsedReply } from '../src/client/http1.js';
import { DEFAULT_MAX_HEAD_BYTES } from '../src/client/transport.js';
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
  // Written as Go's net/http writes it (canonical header names, in this order); a declared length beyond the body makes a truncated request.
  // An exchange that cannot be written (a bad method, path or header name) is a bug of the check: TypeError.
  const request = serializeRequest({ method: ex.method ?? 'POST', path: ex.path, headers, body });

  return new Promise<RawResult>((resolve) => {
    let settled = false;
    // The client's reply parser (what dockerd-like calls use), in the mode that ends an oversize body at the cap.
    const parser = new ReplyParser(DEFAULT_MAX_HEAD_BYTES, maxBody, { truncateBody: true });
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
    /** Feeds the parser; settles on a complete reply or on a reply the parser refuses. */
    const read = (step: () => ParsedReply | null): void => {
      if (settled) return;
      try {
        const r = step();
        if (r !== null) finish({ kind: 'reply', status: r.status, headers: r.headers, body: r.body.toString('utf8'), truncated: r.truncated, durationMs: elapsed() });
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
        if (e.kind === 'eof' && !parser.gotBytes) finish({ kind: 'transport-error', message: 'connection closed without a reply', durationMs: elapsed() });
        else finish({ kind: 'bad-reply', message: e.kind === 'eof' ? `reply cut short (${e.message})` : e.message, durationMs: elapsed() });
      }
    };
    // Head and body in one write, as Go's client buffers them: a plugin that answers (say 404)
    // and closes before reading the body must not turn its reply into an EPIPE on a second write.
    socket.on('connect', () => {
      socket.write(request);
    });
    socket.on('data', (d: Buffer) => read(() => parser.push(d)));
    socket.on('end', () => read(() => parser.end()));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // A reply that arrived before the error (the plugin answered, then reset or closed) wins.
      if (parser.gotBytes) read(() => parser.end());
      const closedEarly = e.code === 'EPIPE' || e.code === 'ECONNRESET';
      finish({ kind: 'transport-error', message: `${e.code ?? 'error'}: ${e.message}${closedEarly ? ' (the plugin closed the connection before reading the whole request)' : ''}`, durationMs: elapsed() });
    });
    socket.on('close', () => read(() => parser.end()));
  });
}

/** The Host header dockerd sends on unix sockets for a profile. */
export function hostHeaderFor(profile: string): string {
  return profile === 'moby' ? UNIX_HOST_HEADER : '';
}
