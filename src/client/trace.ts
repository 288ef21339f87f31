/**
 * Recorded exchanges: a JSON-friendly form of request/reply pairs, a
 * transport that replays them in order (replay files, tests), and a wrapper
 * that records what another transport exchanged.
 */
import type { RawReply, RawRequest } from '../protocol/raw.js';
import { TransportError, type TransportErrorKind, type TransportPhase } from './errors.js';
import type { SendOptions, Transport, TransportInfo } from './transport.js';

export interface RecordedExchange {
  readonly request: {
    readonly method?: string;
    readonly path: string;
    readonly headers?: Readonly<Record<string, string>>;
    /** UTF-8 body; when present on replay the sent body must match exactly. */
    readonly body?: string;
  };
  /** The reply; absent when the exchange failed. */
  readonly reply?: {
    readonly status: number;
    readonly headers?: Readonly<Record<string, string>>;
    readonly body: string;
    /** `base64` when the body is not valid UTF-8. */
    readonly encoding?: 'utf8' | 'base64';
  };
  readonly error?: { readonly kind: TransportErrorKind; readonly phase: TransportPhase; readonly sent: boolean; readonly message: string };
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

function bodyOf(r: NonNullable<RecordedExchange['reply']>): Uint8Array {
  return r.encoding === 'base64' ? Buffer.from(r.body, 'base64') : enc.encode(r.body);
}

/** Replays exchanges in order; a request that differs from the next recorded one is a `trace-mismatch`. */
export class TraceTransport implements Transport {
  readonly info: TransportInfo = { kind: 'trace', address: 'trace', compression: false, urlBase: 'http://trace' };
  private next = 0;

  constructor(private readonly exchanges: readonly RecordedExchange[]) {}

  /** Exchanges not replayed yet. */
  get remaining(): number {
    return this.exchanges.length - this.next;
  }

  async close(): Promise<void> {}

  async send(req: RawRequest, _opts: SendOptions): Promise<RawReply> {
    const ex = this.exchanges[this.next];
    if (ex === undefined) throw new TransportError('trace-mismatch', 'connect', false, `trace exhausted: no recorded exchange for ${req.path}`);
    const body = Buffer.from(req.body).toString('utf8');
    if (ex.request.path !== req.path || (ex.request.method ?? 'POST') !== req.method) {
      throw new TransportError('trace-mismatch', 'connect', false, `trace step ${this.next}: expected ${ex.request.method ?? 'POST'} ${ex.request.path}, got ${req.method} ${req.path}`);
    }
    if (ex.request.body !== undefined && ex.request.body !== body) {
      throw new TransportError('trace-mismatch', 'connect', false, `trace step ${this.next} (${req.path}): expected body ${JSON.stringify(ex.request.body)}, got ${JSON.stringify(body)}`);
    }
    this.next++;
    if (ex.error !== undefined) throw new TransportError(ex.error.kind, ex.error.phase, ex.error.sent, ex.error.message);
    if (ex.reply === undefined) throw new TransportError('trace-mismatch', 'connect', false, `trace step ${this.next - 1} has neither reply nor error`);
    return { status: ex.reply.status, headers: { ...(ex.reply.headers ?? {}) }, body: bodyOf(ex.reply) };
  }
}

/** Wraps a transport and appends every exchange to `log`. */
export class RecordingTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    readonly log: RecordedExchange[] = [],
  ) {}

  get info(): TransportInfo {
    return this.inner.info;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async send(req: RawRequest, opts: SendOptions): Promise<RawReply> {
    const request = { method: req.method, path: req.path, headers: { ...req.headers }, body: Buffer.from(req.body).toString('utf8') };
    try {
      const reply = await this.inner.send(req, opts);
      let body: string;
      let encoding: 'utf8' | 'base64' = 'utf8';
      try {
        body = dec.decode(reply.body);
      } catch {
        body = Buffer.from(reply.body).toString('base64');
        encoding = 'base64';
      }
      this.log.push({ request, reply: { status: reply.status, headers: { ...reply.headers }, body, ...(encoding === 'base64' ? { encoding } : {}) } });
      return reply;
    } catch (e) {
      if (e instanceof TransportError) {
        this.log.push({ request, error: { kind: e.kind, phase: e.phase, sent: e.sent, message: e.message } });
      }
      throw e;
    }
  }
}
