/**
 * A lean HTTP/1.1 server over node:net for the plugin protocol. Measured first
 * (bench/server): node:http stays below the Go anchor at 16 clients; this
 * layer does only what dockerd's calls need and answers from the same tick as
 * the bytes arrived when the handler is synchronous.
 *
 * What it supports: keep-alive (HTTP/1.1 default, HTTP/1.0 with
 * `Connection: keep-alive`), pipelined requests answered one after the other,
 * Content-Length bodies, `Expect: 100-continue`, `Connection: close`.
 * What it rejects with a JSON `{"Err"}` and then closes the connection:
 * malformed request lines or headers (400), chunked bodies (411), bodies over
 * the limit (413, judged from Content-Length before reading), heads over the
 * limit (431), other HTTP versions (505), requests that stall (408).
 *
 * Slow or stalled clients cost only their own buffers: deadlines are checked by
 * one sweep timer per server (no timer per request), never by blocking.
 */
import type { Server as NetServer, Socket } from 'node:net';
import { CONTENT_TYPE } from '../protocol/constants.js';
import { SdkOptionsError } from './errors.js';
import { errBody, type PluginHandler, type SignalSource, type WireReply } from './handler.js';

export interface Http1Limits {
  /** Largest request head (request line + headers) in bytes (default 16 KiB); larger: 431. */
  headerLimit?: number;
  /** A started request head must be complete within this time (default 60 s); else 408. */
  headersTimeoutMs?: number;
  /** A request body must be complete within this time after its head (default 5 min); else 408. */
  bodyTimeoutMs?: number;
  /**
   * Idle keep-alive connections are closed after this time (default 10 min). Long on
   * purpose: dockerd pools connections and a close racing its reuse makes it retry
   * with an empty body (protocol.md §1.5).
   */
  keepAliveTimeoutMs?: number;
}

const DEFAULTS = {
  headerLimit: 16 * 1024,
  headersTimeoutMs: 60_000,
  bodyTimeoutMs: 300_000,
  keepAliveTimeoutMs: 600_000,
} as const;

const enum Phase {
  /** Between requests: waiting for the first byte of the next one. */
  Idle,
  /** Reading a request head. */
  Head,
  /** Head parsed, reading the body. */
  Body,
  /** Request dispatched, reply not yet written. */
  Busy,
  /** Final reply written (FIN sent); draining until the peer closes. */
  Closing,
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const LFLF = Buffer.from('\n\n', 'latin1');
/** RFC 9110 tchar, by char code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/** s[from, to) is a non-empty token (methods, header names). */
function isToken(s: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** s[from, to) is a non-empty run of visible ASCII (a request target). */
function isTarget(s: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** The headers the server reads, by the length of their name. */
const HEADER_BY_LENGTH = new Map<number, 'content-length' | 'transfer-encoding' | 'connection' | 'expect'>([
  [14, 'content-length'],
  [17, 'transfer-encoding'],
  [10, 'connection'],
  [6, 'expect'],
]);

/** s[from, from + lower.length) equals `lower` (an ASCII lower-case header name) ignoring case. */
function sameIgnoringCase(s: string, from: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    // ASCII letters differ from their upper case by 0x20 only; the names hold only letters and '-'.
    if ((s.charCodeAt(from + i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** A Content-Length value between optional blanks: 1-15 digits; -1 when malformed. */
function parseLength(s: string, from: number, to: number): number {
  while (from < to && (s.charCodeAt(from) === 32 || s.charCodeAt(from) === 9)) from++;
  while (to > from && (s.charCodeAt(to - 1) === 32 || s.charCodeAt(to - 1) === 9)) to--;
  if (from === to || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
/** How long a closing connection may keep sending before it is destroyed. */
const LINGER_MS = 5_000;
const SWEEP_MS = 1_000;

const REASONS: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  409: 'Conflict', 411: 'Length Required', 413: 'Payload Too Large', 417: 'Expectation Failed', 422: 'Unprocessable Entity',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented',
  503: 'Service Unavailable', 505: 'HTTP Version Not Supported',
};

const statusLines = new Map<number, string>();
function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${REASONS[status] ?? (status < 500 ? 'Client Error' : 'Server Error')}\r\nContent-Type: ${CONTENT_TYPE}\r\n${
      status === 405 ? 'Allow: POST\r\n' : ''
    }`;
    statusLines.set(status, line);
  }
  return line;
}

function positive(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new SdkOptionsError(`${name} must be a positive number, got ${String(v)}`);
  return v;
}

class HeadError {
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

/** The HTTP/1.1 layer: attach it to a net.Server or tls.Server. */
export class Http1Server {
  readonly handler: PluginHandler;
  private readonly headerLimit: number;
  private readonly headersTimeoutMs: number;
  private readonly bodyTimeoutMs: number;
  private readonly keepAliveTimeoutMs: number;
  private readonly conns = new Set<Connection>();
  private sweeper: NodeJS.Timeout | null = null;
  private dateHeader = '';
  private okPrefix: string | null = null;
  private now = Date.now();
  /** Set once close() starts: replies carry `Connection: close`. */
  closing = false;
  private drained: (() => void) | null = null;

  constructor(handler: PluginHandler, limits: Http1Limits = {}) {
    this.handler = handler;
    this.headerLimit = positive('headerLimit', limits.headerLimit ?? DEFAULTS.headerLimit);
    this.headersTimeoutMs = positive('headersTimeoutMs', limits.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs);
    this.bodyTimeoutMs = positive('bodyTimeoutMs', limits.bodyTimeoutMs ?? DEFAULTS.bodyTimeoutMs);
    this.keepAliveTimeoutMs = positive('keepAliveTimeoutMs', limits.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs);
    this.refreshDate();
  }

  /** Serve connections of `server` (for TLS pass the tls.Server; its secure connections are used). */
  attach(server: NetServer, secure = false): void {
    server.on(secure ? 'secureConnection' : 'connection', (socket: Socket) => this.accept(socket));
    if (this.sweeper === null) {
      const every = Math.max(10, Math.min(SWEEP_MS, this.headersTimeoutMs, this.bodyTimeoutMs, this.keepAliveTimeoutMs));
      this.sweeper = setInterval(() => this.sweep(), every).unref();
    }
  }

  /** Open connections (for tests and diagnostics). */
  get connectionCount(): number {
    return this.conns.size;
  }

  accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new Connection(this, socket);
    this.conns.add(conn);
  }

  /** Deadlines for a connection entering a phase. */
  deadlineFor(phase: Phase): number {
    // Coarse clock, refreshed by the sweeper: deadlines only need sweep precision.
    const now = this.now;
    switch (phase) {
      case Phase.Idle:
        return now + this.keepAliveTimeoutMs;
      case Phase.Head:
        return now + this.headersTimeoutMs;
      case Phase.Body:
        return now + this.bodyTimeoutMs;
      case Phase.Busy:
        return 0;
      case Phase.Closing:
        return now + LINGER_MS;
    }
  }

  get limitOfHead(): number {
    return this.headerLimit;
  }

  get date(): string {
    return this.dateHeader;
  }

  /**
   * Status line, Content-Type and Date up to the Content-Length value. The 200
   * one is kept until the Date changes: a reply then builds one short string
   * less per request (the young-generation GC runs less often, bench/server).
   */
  headPrefix(status: number): string {
    if (status !== 200) return `${statusLine(status)}Date: ${this.dateHeader}\r\nContent-Length: `;
    return (this.okPrefix ??= `${statusLine(200)}Date: ${this.dateHeader}\r\nContent-Length: `);
  }

  forget(conn: Connection): void {
    this.conns.delete(conn);
    if (this.conns.size === 0 && this.drained !== null) this.drained();
  }

  private refreshDate(): void {
    this.now = Date.now();
    const date = new Date(this.now).toUTCString();
    if (date !== this.dateHeader) this.okPrefix = null;
    this.dateHeader = date;
  }

  private sweep(): void {
    this.refreshDate();
    const now = this.now;
    for (const conn of this.conns) {
      if (conn.deadline !== 0 && now >= conn.deadline) conn.expire();
    }
  }

  /**
   * Graceful stop of the connections (the caller closes the listener first):
   * idle ones are closed now, requests in progress are answered (with
   * `Connection: close`), and whatever is left after `graceMs` is destroyed
   * and its calls' signals aborted.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    for (const conn of this.conns) conn.closeIfIdle();
    if (this.conns.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const conn of this.conns) conn.destroy();
          // destroy() emits 'close' asynchronously; resolve when they are gone.
        }, graceMs);
        timer.unref();
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.drained = null;
    }
    if (this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }
}

class Connection implements SignalSource {
  private readonly server: Http1Server;
  private readonly socket: Socket;
  private buf: Buffer | null = null;
  /** Growable backing store `buf` may live in (see append); bytes used: storeEnd. */
  private store: Buffer | null = null;
  private storeEnd = 0;
  /** Where to resume searching for the end of the head. */
  private scanFrom = 0;
  phase: Phase = Phase.Idle;
  deadline: number;
  // The request being read (valid from Phase.Body on).
  private method = '';
  private path = '';
  private headEnd = 0;
  private bodyLen = 0;
  private keepAlive = true;
  private http10 = false;
  private expectContinue = false;
  private peerEnded = false;
  private writeBlocked = false;
  private paused = false;
  /** Controller of the call in progress, created only if its handler reads ctx.signal. */
  private callController: AbortController | null = null;
  /** Why the peer is gone (connection closed or EOF), once it is. */
  private goneReason: string | null = null;
  private closed = false;

  constructor(server: Http1Server, socket: Socket) {
    this.server = server;
    this.socket = socket;
    this.deadline = server.deadlineFor(Phase.Idle);
    if (typeof socket.setNoDelay === 'function' && socket.remoteAddress !== undefined) socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onClose());
  }

  /**
   * Signal of the call in progress: one per call (so listeners never pile up on a
   * keep-alive connection), created lazily (most handlers never look), aborted
   * when the peer closes or half-closes the connection while the call runs.
   */
  get signal(): AbortSignal {
    if (this.callController === null) {
      this.callController = new AbortController();
      if (this.goneReason !== null) this.callController.abort(new Error(this.goneReason));
    }
    return this.callController.signal;
  }

  private onData(chunk: Buffer): void {
    if (this.phase === Phase.Closing) return; // draining after a final reply
    this.append(chunk);
    if (this.phase === Phase.Idle) {
      this.phase = Phase.Head;
      this.deadline = this.server.deadlineFor(Phase.Head);
    }
    if (this.phase === Phase.Busy || this.writeBlocked) {
      // Pipelined bytes while a call runs: keep them, but stop reading when they pile up.
      if (this.buf!.length > this.server.limitOfHead + this.server.handler.bodyLimit && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    this.process();
  }

  /**
   * Add received bytes to `buf`. The common case (a whole request in one chunk)
   * copies nothing; otherwise bytes go into a buffer grown by doubling, so a peer
   * dribbling a request byte by byte costs linear, not quadratic, copying.
   */
  private append(chunk: Buffer): void {
    const buf = this.buf;
    if (buf === null) {
      this.buf = chunk;
      return;
    }
    const total = buf.length + chunk.length;
    const store = this.store;
    if (
      store !== null &&
      buf.buffer === store.buffer &&
      buf.byteOffset + buf.length === store.byteOffset + this.storeEnd &&
      this.storeEnd + chunk.length <= store.length
    ) {
      chunk.copy(store, this.storeEnd);
      this.storeEnd += chunk.length;
      this.buf = store.subarray(this.storeEnd - total, this.storeEnd);
      return;
    }
    const grown = Buffer.allocUnsafe(Math.max(total * 2, 4096));
    buf.copy(grown, 0);
    chunk.copy(grown, buf.length);
    this.store = grown;
    this.storeEnd = total;
    this.buf = grown.subarray(0, total);
  }

  /** Parse and dispatch as many complete requests as the buffer holds, one at a time. */
  private process(): void {
    while (this.buf !== null && !this.closed && this.phase !== Phase.Busy && this.phase !== Phase.Closing && !this.writeBlocked) {
      const buf: Buffer = this.buf;
      if (this.phase !== Phase.Body) {
        if (this.scanFrom === 0 && buf[0] === 13 && buf[1] === 10) {
          // RFC 9112 §2.2: ignore empty lines before a request line.
          this.buf = buf.length > 2 ? buf.subarray(2) : null;
          continue;
        }
        const end = buf.indexOf(CRLFCRLF, this.scanFrom);
        if (end < 0) {
          if (buf.length > this.server.limitOfHead) {
            this.fail(431, `request head exceeds ${this.server.limitOfHead} bytes`);
          } else if (buf.indexOf(LFLF, Math.max(0, this.scanFrom - 1)) >= 0) {
            this.fail(400, 'malformed request: lines must end with CRLF');
          } else {
            this.scanFrom = Math.max(0, buf.length - 3);
          }
          return;
        }
        if (end + 4 > this.server.limitOfHead) {
          this.fail(431, `request head exceeds ${this.server.limitOfHead} bytes`);
          return;
        }
        const err = this.parseHead(buf.toString('latin1', 0, end));
        if (err !== null) {
          this.fail(err.status, err.message);
          return;
        }
        this.headEnd = end + 4;
        this.scanFrom = 0;
        this.phase = Phase.Body;
        this.deadline = this.server.deadlineFor(Phase.Body);
        if (this.bodyLen > this.server.handler.bodyLimit) {
          this.fail(413, `request body of ${this.bodyLen} bytes exceeds the limit of ${this.server.handler.bodyLimit}`);
          return;
        }
      }
      const need = this.headEnd + this.bodyLen;
      if (buf.length < need) {
        if (this.expectContinue) {
          this.expectContinue = false;
          this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
        return;
      }
      const body = buf.subarray(this.headEnd, need);
      this.buf = need < buf.length ? buf.subarray(need) : null;
      if (this.buf === null) this.store = null;
      this.phase = Phase.Busy;
      this.deadline = 0;
      const reply = this.server.handler.dispatch(this.method, this.path, body, this);
      if (reply instanceof Promise) {
        reply.then(
          (r) => this.reply(r),
          () => this.reply({ status: 500, body: errBody('internal error') }),
        );
        return;
      }
      this.reply(reply);
    }
  }

  private parseHead(head: string): HeadError | null {
    let lineEnd = head.indexOf('\r\n');
    if (lineEnd < 0) lineEnd = head.length;
    const sp1 = head.indexOf(' ');
    const sp2 = sp1 < 0 ? -1 : head.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 < 0 || sp2 >= lineEnd) return new HeadError(400, 'malformed request line');
    if (!isToken(head, 0, sp1)) return new HeadError(400, 'malformed request line: bad method');
    if (!isTarget(head, sp1 + 1, sp2)) return new HeadError(400, 'malformed request line: bad request target');
    const version = head.slice(sp2 + 1, lineEnd);
    if (version === 'HTTP/1.1') this.http10 = false;
    else if (version === 'HTTP/1.0') this.http10 = true;
    else if (/^HTTP\/[0-9]\.[0-9]$/.test(version)) return new HeadError(505, `HTTP version ${version} is not supported; use HTTP/1.1`);
    else return new HeadError(400, 'malformed request line: bad HTTP version');
    let target = head.slice(sp1 + 1, sp2);
    if (target.charCodeAt(0) !== 47 /* / */) {
      // absolute-form (`http://plugin/Path`) is allowed by RFC 9112; keep only the path.
      const m = /^https?:\/\/[^/?#]*(\/[^#]*)?$/i.exec(target);
      if (m === null) return new HeadError(400, 'malformed request line: request target must be a path');
      target = m[1] ?? '/';
    }
    this.method = head.slice(0, sp1);
    this.path = target;
    this.keepAlive = !this.http10;
    this.expectContinue = false;
    let contentLength = -1;
    let chunked = false;
    let pos = lineEnd + 2;
    while (pos < head.length) {
      let next = head.indexOf('\r\n', pos);
      if (next < 0) next = head.length;
      const colon = head.indexOf(':', pos);
      if (colon < 0 || colon >= next || colon === pos) return new HeadError(400, 'malformed header line');
      const first = head.charCodeAt(pos);
      if (first === 32 || first === 9) return new HeadError(400, 'malformed header line: folded headers are not allowed');
      if (!isToken(head, pos, colon)) return new HeadError(400, 'malformed header name');
      // Only a handful of headers matter; compared in place, so a request allocates no string per header.
      const name = HEADER_BY_LENGTH.get(colon - pos);
      if (name !== undefined && sameIgnoringCase(head, pos, name)) {
        if (name === 'content-length') {
          const n = parseLength(head, colon + 1, next);
          if (n < 0) return new HeadError(400, 'malformed Content-Length header');
          if (contentLength >= 0 && contentLength !== n) return new HeadError(400, 'conflicting Content-Length headers');
          contentLength = n;
        } else if (name === 'transfer-encoding') {
          chunked = true;
        } else if (name === 'connection') {
          const v = head.slice(colon + 1, next).toLowerCase();
          if (v.includes('close')) this.keepAlive = false;
          else if (this.http10 && v.includes('keep-alive')) this.keepAlive = true;
        } else if (name === 'expect') {
          const value = head.slice(colon + 1, next).trim();
          if (value.toLowerCase() !== '100-continue') return new HeadError(417, `unsupported Expect: ${value}`);
          this.expectContinue = !this.http10;
        }
      }
      pos = next + 2;
    }
    if (chunked) {
      if (contentLength >= 0) return new HeadError(400, 'both Transfer-Encoding and Content-Length given');
      return new HeadError(411, 'chunked request bodies are not supported; send a Content-Length');
    }
    this.bodyLen = contentLength < 0 ? 0 : contentLength;
    return null;
  }

  private reply(reply: WireReply): void {
    this.callController = null;
    if (this.closed) return;
    const close = !this.keepAlive || this.peerEnded || this.server.closing;
    const head =
      this.server.headPrefix(reply.status) +
      Buffer.byteLength(reply.body) +
      (close ? '\r\nConnection: close\r\n\r\n' : this.http10 ? '\r\nConnection: keep-alive\r\n\r\n' : '\r\n\r\n');
    // A reply to HEAD carries the headers of the body but never the body itself.
    const flushed = this.socket.write(this.method === 'HEAD' ? head : head + reply.body);
    if (close) {
      this.finish();
      return;
    }
    if (this.buf === null) {
      this.phase = Phase.Idle;
      this.deadline = this.server.deadlineFor(Phase.Idle);
    } else {
      this.phase = Phase.Head;
      this.deadline = this.server.deadlineFor(Phase.Head);
    }
    if (!flushed) {
      // The peer is not reading its replies: stop reading its requests until it does.
      this.writeBlocked = true;
      if (!this.paused) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (this.buf !== null) this.process();
  }

  /** Answer an unusable request and close: the rest of the stream cannot be framed. */
  private fail(status: number, message: string): void {
    const body = errBody(message);
    this.socket.write(`${statusLine(status)}Date: ${this.server.date}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    this.finish();
  }

  /** Send FIN and linger, reading and discarding, so the peer gets the reply rather than a reset. */
  private finish(): void {
    this.phase = Phase.Closing;
    this.deadline = this.server.deadlineFor(Phase.Closing);
    this.buf = null;
    this.store = null;
    this.socket.end();
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private onDrain(): void {
    if (!this.writeBlocked) return;
    this.writeBlocked = false;
    if (this.paused && this.phase !== Phase.Busy) {
      this.paused = false;
      this.socket.resume();
    }
    if (this.phase !== Phase.Busy) this.process();
  }

  private onEnd(): void {
    this.peerEnded = true;
    if (this.phase === Phase.Idle || this.phase === Phase.Closing) {
      this.socket.end();
      return;
    }
    if (this.phase === Phase.Head || this.phase === Phase.Body) {
      // A request cut short by the peer: nothing complete will follow.
      if (this.phase === Phase.Body && this.buf !== null && this.buf.length >= this.headEnd + this.bodyLen) return;
      this.fail(400, 'connection closed in the middle of a request');
    }
    // Busy: like Go's net/http, a peer that stopped sending is taken as gone and the
    // call's signal is aborted; the reply (if any) still goes out with Connection: close.
    if (this.phase === Phase.Busy) this.abort('client closed the connection');
  }

  private abort(why: string): void {
    this.goneReason ??= why;
    const c = this.callController;
    if (c !== null && !c.signal.aborted) c.abort(new Error(why));
  }

  /** Called by the sweeper when the deadline of the current phase passed. */
  expire(): void {
    switch (this.phase) {
      case Phase.Idle:
        this.socket.end();
        this.phase = Phase.Closing;
        this.deadline = this.server.deadlineFor(Phase.Closing);
        return;
      case Phase.Head:
      case Phase.Body:
        this.fail(408, 'request not completed in time');
        return;
      case Phase.Closing:
        this.socket.destroy();
        return;
      case Phase.Busy:
        return;
    }
  }

  closeIfIdle(): void {
    if (this.phase === Phase.Idle) {
      this.phase = Phase.Closing;
      this.deadline = this.server.deadlineFor(Phase.Closing);
      this.socket.end();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    this.buf = null;
    this.abort('connection closed');
    this.server.forget(this);
  }
}
