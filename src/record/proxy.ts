/**
 * The byte-exact forwarding proxy of `cnmkit record`. Each connection dockerd
 * opens gets its own upstream connection; bytes go through unchanged in both
 * directions (status line, header order and case, empty Host, chunking,
 * keep-alive, half-closes). The proxy only splits the streams into HTTP/1
 * messages to tell its hooks what passed:
 *
 * - a request is handed to `hooks.request` once complete and its bytes go
 *   upstream as they arrive;
 * - a reply is held until complete, `hooks.end` runs (it writes the trace
 *   line and may take a moment, e.g. Join's kernel look-up), then its bytes
 *   go to dockerd in order. Replies beyond `holdBytes` are streamed instead;
 * - a stream that is not HTTP/1 is passed through untouched from then on.
 *
 * When the plugin dies mid-call dockerd gets what it would get directly: the
 * bytes the plugin sent, then the close.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { MessageSplitter, type ReplyHead, type RequestHead, type SplitMessage } from './http1-split.js';

export type UpstreamAddress = { readonly path: string } | { readonly host: string; readonly port: number };

export type ExchangeErrorKind = 'upstream-closed' | 'upstream-unreachable' | 'client-closed' | 'not-http';

export type ExchangeEnd =
  | { readonly reply: SplitMessage<ReplyHead>; readonly t1: number }
  | {
      readonly error: { readonly kind: ExchangeErrorKind; readonly message: string };
      readonly t1: number;
      /** The plugin had closed this (idle keep-alive) connection before the request came: it never saw the call. */
      readonly idle?: boolean;
    };

export interface ExchangeHooks<T> {
  /** A complete request (before its bytes are written upstream). `t0`: epoch ms, fractional. */
  request(conn: number, message: SplitMessage<RequestHead>, t0: number): T;
  /** The exchange ended. The reply reaches dockerd after the returned promise (if any) settles. */
  end(token: T, outcome: ExchangeEnd): void | Promise<void>;
  /** A connection stopped being interpreted (not HTTP/1). */
  opaque?(conn: number, why: string): void;
  /** A hook threw: the bytes are forwarded regardless (checking must never break dockerd's traffic). */
  failed?(conn: number, err: unknown): void;
}

export interface ProxyOptions<T> {
  readonly listen: { readonly path: string } | { readonly host: string; readonly port: number };
  readonly upstream: UpstreamAddress;
  readonly hooks: ExchangeHooks<T>;
  /** Body bytes kept per message for the hooks (default 1 MiB). */
  readonly keepBodyBytes?: number;
  /** A reply larger than this is streamed to dockerd before it is complete (default 8 MiB). */
  readonly holdBytes?: number;
  /** How long a connection whose upstream could not be reached waits for its request, to record it (default 1 s). */
  readonly unreachableWaitMs?: number;
}

export interface RunningProxy {
  /** The socket path or host:port the proxy listens on. */
  readonly address: string;
  readonly port?: number;
  /** Connections currently open. */
  connections(): number;
  /** Stop listening and cut every connection (pending exchanges end as client-closed). */
  close(): Promise<void>;
}

/** Epoch milliseconds with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

interface Pending<T> {
  /** Undefined when the request hook threw. */
  readonly token: T | undefined;
  readonly head: boolean;
}

const EMPTY = Buffer.alloc(0);

class ConnectionPair<T> {
  private readonly up: Socket;
  private readonly req: MessageSplitter<RequestHead>;
  private readonly rep: MessageSplitter<ReplyHead>;
  private readonly pending: Pending<T>[] = [];
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** The current reply outgrew holdBytes: its bytes flow as they come. */
  private streaming = false;
  /** Not HTTP/1 (or upstream gone): bytes pass through uninterpreted. */
  private opaque = false;
  private unreachable: string | null = null;
  private unreachableTimer: NodeJS.Timeout | null = null;
  private outTail: Promise<void> | null = null;
  private outPending = 0;
  private finished = false;
  private connected = false;
  private upDone = false;
  private downEnded = false;

  constructor(
    readonly id: number,
    private readonly down: Socket,
    upstream: UpstreamAddress,
    private readonly opts: ProxyOptions<T>,
    private readonly onGone: () => void,
  ) {
    const keep = opts.keepBodyBytes ?? 1024 * 1024;
    this.req = new MessageSplitter<RequestHead>('request', keep);
    this.rep = new MessageSplitter<ReplyHead>('reply', keep, () => this.pending[0]?.head === true);
    this.up = 'path' in upstream ? createConnection({ path: upstream.path, allowHalfOpen: true }) : createConnection({ host: upstream.host, port: upstream.port, allowHalfOpen: true });
    if ('host' in upstream) this.up.setNoDelay(true);
    this.up.once('connect', () => {
      this.connected = true;
    });
    this.up.on('data', (c: Buffer) => this.fromUp(c));
    this.up.on('end', () => this.upEnded(null));
    this.up.on('error', (e: NodeJS.ErrnoException) => this.upFailed(e));
    this.up.on('drain', () => this.down.resume());
    down.on('data', (c: Buffer) => this.fromDown(c));
    down.on('end', () => {
      // dockerd hung up (Go clients close both ways): pass the FIN on, the plugin sees what it would see directly.
      this.downEnded = true;
      if (this.unreachable === null) this.up.end();
    });
    down.on('error', () => undefined);
    down.on('close', () => this.downClosed());
    down.on('drain', () => this.up.resume());
  }

  // --- dockerd -> plugin ---------------------------------------------------

  private fromDown(chunk: Buffer): void {
    if (!this.opaque) {
      const done = this.req.push(chunk);
      for (const d of done) {
        const t0 = nowMs();
        let token: T | undefined;
        try {
          token = this.opts.hooks.request(this.id, d.message, t0);
        } catch (e) {
          this.opts.hooks.failed?.(this.id, e);
        }
        this.pending.push({ token, head: d.message.head.method === 'HEAD' });
      }
      if (this.req.broken) this.goOpaque(`request stream: ${this.req.problem}`);
    }
    if (this.unreachable !== null) {
      if (this.pending.length > 0) this.failUnreachable();
      return;
    }
    if (this.upDone) {
      // The plugin closed this connection (idle keep-alive) as dockerd reused it: dockerd gets the close, as directly.
      for (const p of this.pending.splice(0)) this.endWithError(p, 'upstream-closed', 'the plugin had closed this idle connection when the request came', true);
      return;
    }
    if (!this.up.write(chunk)) this.down.pause();
  }

  // --- plugin -> dockerd ---------------------------------------------------

  private fromUp(chunk: Buffer): void {
    if (this.opaque) return this.emit(chunk);
    const done = this.rep.push(chunk);
    let pos = 0;
    for (const d of done) {
      this.hold(chunk.subarray(pos, d.end));
      pos = d.end;
      const p = this.pending.shift();
      if (p === undefined) {
        // A reply nobody asked for: dockerd's client would drop the connection; we stop interpreting.
        this.goOpaque('a reply without a request');
        this.flushHeld();
        this.emit(chunk.subarray(pos));
        return;
      }
      this.complete(p, d.message);
    }
    const rest = pos === 0 ? chunk : chunk.subarray(pos);
    if (this.rep.broken) {
      this.hold(rest);
      const p = this.pending.shift();
      if (p !== undefined) this.endWithError(p, 'not-http', `the plugin's reply is not HTTP/1: ${this.rep.problem}`);
      this.goOpaque(`reply stream: ${this.rep.problem}`);
      this.flushHeld();
      return;
    }
    if (rest.length > 0) this.hold(rest);
  }

  private hold(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.streaming) return this.emit(piece);
    this.held.push(piece);
    this.heldBytes += piece.length;
    if (this.heldBytes > (this.opts.holdBytes ?? 8 * 1024 * 1024)) {
      this.streaming = true;
      this.flushHeld();
    }
  }

  private takeHeld(): Buffer {
    const b = this.held.length === 0 ? EMPTY : this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    return b;
  }

  private flushHeld(): void {
    const b = this.takeHeld();
    if (b.length > 0) this.emit(b);
  }

  private complete(p: Pending<T>, reply: SplitMessage<ReplyHead>): void {
    this.streaming = false;
    const bytes = this.takeHeld();
    this.emit(bytes, this.runEnd(p, { reply, t1: nowMs() }));
  }

  private endWithError(p: Pending<T>, kind: ExchangeErrorKind, message: string, idle = false): void {
    const wait = this.runEnd(p, { error: { kind, message }, t1: nowMs(), ...(idle ? { idle } : {}) });
    if (wait !== undefined) this.out(() => undefined, wait);
  }

  /** The end hook, never throwing: a checker fault is reported and the reply still goes through. */
  private runEnd(p: Pending<T>, outcome: ExchangeEnd): Promise<void> | undefined {
    if (p.token === undefined) return undefined;
    try {
      const r = this.opts.hooks.end(p.token, outcome);
      return r instanceof Promise ? r.catch((e: unknown) => this.opts.hooks.failed?.(this.id, e)) : undefined;
    } catch (e) {
      this.opts.hooks.failed?.(this.id, e);
      return undefined;
    }
  }

  /** Write to dockerd in order, after `wait` (an async hook) if given. */
  private emit(bytes: Buffer, wait?: Promise<void>): void {
    if (bytes.length === 0 && wait === undefined) return;
    this.out(() => {
      if (bytes.length > 0 && !this.down.destroyed && !this.down.write(bytes)) this.up.pause();
    }, wait);
  }

  private out(fn: () => void, wait?: Promise<void>): void {
    if (this.outTail === null && wait === undefined) return fn();
    this.outPending++;
    const prev: Promise<unknown> = this.outTail ?? Promise.resolve();
    const run = (): void => fn();
    this.outTail = prev
      .then(() => wait)
      .then(run, run)
      .finally(() => {
        if (--this.outPending === 0) this.outTail = null;
      });
  }

  private goOpaque(why: string): void {
    if (this.opaque) return;
    this.opaque = true;
    this.opts.hooks.opaque?.(this.id, why);
  }

  // --- ends and failures ---------------------------------------------------

  private upEnded(err: NodeJS.ErrnoException | null): void {
    if (this.upDone) return;
    this.upDone = true;
    if (!this.opaque) {
      const closeDelimited = this.rep.end();
      if (closeDelimited !== null) {
        const p = this.pending.shift();
        if (p !== undefined) this.complete(p, closeDelimited);
      }
      const partial = !this.rep.idle && closeDelimited === null;
      let first = true;
      for (const p of this.pending.splice(0)) {
        const why = err !== null ? `${err.code ?? 'error'}: ${err.message}` : 'connection closed';
        if (this.downEnded) this.endWithError(p, 'client-closed', `dockerd closed the connection before the reply; then the plugin closed its side (${why})`);
        else this.endWithError(p, 'upstream-closed', first && partial ? `the plugin closed the connection in the middle of its reply (${why})` : `the plugin closed the connection without replying (${why})`);
        first = false;
      }
    }
    this.flushHeld();
    this.out(() => {
      if (!this.down.destroyed) this.down.end();
    });
  }

  private upFailed(e: NodeJS.ErrnoException): void {
    if (!this.connected) {
      this.unreachable = `${e.code ?? 'error'}: ${e.message}`;
      if (this.pending.length > 0) return this.failUnreachable();
      // Wait a moment for dockerd's request, so the trace shows what could not be delivered.
      this.unreachableTimer = setTimeout(() => this.down.destroy(), this.opts.unreachableWaitMs ?? 1000);
      return;
    }
    this.upEnded(e);
  }

  private failUnreachable(): void {
    for (const p of this.pending.splice(0)) this.endWithError(p, 'upstream-unreachable', `cannot reach the plugin: ${this.unreachable}`);
    this.out(() => this.down.destroy());
  }

  private downClosed(): void {
    if (this.unreachableTimer !== null) clearTimeout(this.unreachableTimer);
    for (const p of this.pending.splice(0)) this.endWithError(p, 'client-closed', 'dockerd closed the connection before the reply');
    this.up.destroy();
    if (!this.finished) {
      this.finished = true;
      this.onGone();
    }
  }

  destroy(): void {
    this.down.destroy();
    this.up.destroy();
  }
}

export async function startProxy<T>(opts: ProxyOptions<T>): Promise<RunningProxy> {
  const pairs = new Set<ConnectionPair<T>>();
  let next = 0;
  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (down) => {
    const pair: ConnectionPair<T> = new ConnectionPair<T>(++next, down, opts.upstream, opts, () => pairs.delete(pair));
    pairs.add(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ ...opts.listen, backlog: 1024 }, () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : undefined;
  return {
    address: 'path' in opts.listen ? opts.listen.path : `${opts.listen.host}:${port}`,
    ...(port !== undefined ? { port } : {}),
    connections: () => pairs.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const p of pairs) p.destroy();
      }),
  };
}
