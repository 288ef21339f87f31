/**
 * PluginClient: typed calls to a plugin exactly as dockerd makes them
 * (protocol.md §1.3-§1.5), over any Transport, with a CallRecord for every
 * call. `tryCall` never throws for call failures; `call` throws PluginCallError.
 */
import { ACCEPT_HEADER, UNIX_HOST_HEADER, type Profile } from '../protocol/constants.js';
import { Methods, type MethodKey, type MethodSpec, type RequestOf, type ResponseOf } from '../protocol/methods.js';
import type { RawReply } from '../protocol/raw.js';
import { goEncode } from '../protocol/schema.js';
import { TransportError } from './errors.js';
import { bodyText, interpretReply } from './interpret.js';
import { nextDelay, realClock, type RetryOptions } from './retry.js';
import type { Transport } from './transport.js';
import {
  PluginCallError,
  type AttemptRecord,
  type CallErrorKind,
  type CallOptions,
  type CallOutcome,
  type CallRecord,
  type Deviation,
  type PluginCaller,
} from './types.js';

export interface ClientOptions {
  /** Which daemon to speak like (Host header on unix sockets). Default `docker-20.10`. */
  readonly profile?: Profile;
  /** Per-attempt timeout in ms; 0 = none (dockerd with v1 plugins). Default 30000. */
  readonly timeoutMs?: number;
  /** Transport-failure retries. Default: none. */
  readonly retry?: RetryOptions;
}

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** A reply received through `sendRaw`, with the request that was sent. */
export interface RawExchange {
  readonly request: { readonly path: string; readonly headers: Readonly<Record<string, string>>; readonly body: Uint8Array };
  readonly reply: RawReply;
}

function transportDeviation(err: TransportError): Deviation | undefined {
  switch (err.kind) {
    case 'not-http':
      return { id: 'transport.not-http', rule: 'protocol.md §1.3', level: 'must', message: `the plugin did not answer with HTTP/1.x: ${err.message}` };
    case 'reset':
    case 'eof':
      return err.sent
        ? { id: 'transport.connection-lost', rule: 'protocol.md §1.3', level: 'must', message: `connection closed or reset before a complete reply (${err.phase}): ${err.message}` }
        : undefined;
    case 'body-too-large':
      return { id: 'transport.body-too-large', rule: 'protocol.md §1.4', level: 'should', message: err.message };
    case 'timeout':
      return { id: 'transport.timeout', rule: 'protocol.md §1.5', level: 'should', message: `no complete reply within the timeout (${err.phase})` };
    default:
      return undefined;
  }
}

export class PluginClient implements PluginCaller {
  readonly profile: Profile;
  private readonly timeoutMs: number;
  private readonly retry: Required<Omit<RetryOptions, 'clock'>> & Pick<Required<RetryOptions>, 'clock'>;
  private readonly listeners = new Set<(record: CallRecord) => void>();
  private seq = 0;

  constructor(
    readonly transport: Transport,
    opts: ClientOptions = {},
  ) {
    this.profile = opts.profile ?? 'docker-20.10';
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.retry = {
      mode: opts.retry?.mode ?? 'none',
      scale: opts.retry?.scale ?? 1,
      faithful: opts.retry?.faithful ?? false,
      clock: opts.retry?.clock ?? realClock,
    };
  }

  /** The headers dockerd sends for a body of `length` bytes, in Go's wire order (protocol.md §1.3). */
  requestHeaders(length: number): Record<string, string> {
    const info = this.transport.info;
    const tcp = info.kind === 'tcp' || info.kind === 'tls';
    const headers: Record<string, string> = {
      host: tcp ? info.address : this.profile === 'moby' ? UNIX_HOST_HEADER : '',
      'user-agent': 'Go-http-client/1.1',
      'content-length': String(length),
      accept: ACCEPT_HEADER,
    };
    if (info.compression) headers['accept-encoding'] = 'gzip';
    return headers;
  }

  onCall(listener: (record: CallRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /**
   * One attempt with arbitrary bytes on an arbitrary path, with dockerd's
   * headers: for malformed-request suites. Rejects only with TransportError.
   */
  async sendRaw(path: string, body: string | Uint8Array, opts: CallOptions = {}): Promise<RawExchange> {
    const bytes = typeof body === 'string' ? enc.encode(body) : body;
    const request = { path, headers: this.requestHeaders(bytes.length), body: bytes };
    const reply = await this.transport.send({ method: 'POST', ...request }, { timeoutMs: opts.timeoutMs ?? this.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
    return { request, reply };
  }

  async call<K extends MethodKey>(key: K, req: RequestOf<K>, opts?: CallOptions): Promise<ResponseOf<K>> {
    const out = await this.tryCall(key, req, opts);
    if (!out.ok) throw out.error;
    return out.value;
  }

  async tryCall<K extends MethodKey>(key: K, req: RequestOf<K>, opts: CallOptions = {}): Promise<CallOutcome<ResponseOf<K>>> {
    const spec = Methods[key] as MethodSpec;
    if (spec === undefined) throw new TypeError(`unknown method ${String(key)}`);
    const seq = ++this.seq;
    const startedAt = Date.now();
    const t0 = performance.now();
    const clock = this.retry.clock;
    const c0 = clock.now();
    // Argument-less methods: empty body, not {} or null (protocol.md §1.3).
    const bodyText0 = spec.request === null ? '' : goEncode(spec.request, req as never);
    // Buffer.from: a slice of Node's pool, several times cheaper than TextEncoder for small bodies.
    const body: Uint8Array = Buffer.from(bodyText0, 'utf8');
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const sendOpts = opts.signal ? { timeoutMs, signal: opts.signal } : { timeoutMs };
    const attemptLog: AttemptRecord[] = [];
    let drained = false;
    let retries = 0;
    let reply: RawReply | undefined;
    let failure: TransportError | undefined;

    for (;;) {
      const sendBody = this.retry.faithful && drained ? EMPTY : body;
      const atMs = clock.now() - c0;
      try {
        reply = await this.transport.send({ method: 'POST', path: spec.path, headers: this.requestHeaders(sendBody.length), body: sendBody }, sendOpts);
        attemptLog.push({ atMs, bodyBytes: sendBody.length });
        break;
      } catch (e) {
        const err = e instanceof TransportError ? e : new TransportError('handler', 'headers', true, e instanceof Error ? e.message : String(e), undefined, e);
        attemptLog.push({ atMs, bodyBytes: sendBody.length, error: { kind: err.kind, phase: err.phase, message: err.message } });
        if (err.sent) drained = true;
        failure = err;
        // dockerd retries only when http.Client.Do failed, i.e. before a reply head arrived.
        const retryable = this.retry.mode === 'dockerd' && err.phase !== 'body' && err.kind !== 'aborted' && err.kind !== 'trace-mismatch' && !opts.signal?.aborted;
        if (!retryable) break;
        const delay = nextDelay(retries, c0, clock, this.retry.scale);
        if (delay === undefined) break;
        retries++;
        await clock.sleep(delay, opts.signal);
        if (opts.signal?.aborted) break;
      }
    }

    if (reply === undefined) {
      const base = {
        seq,
        path: spec.path,
        request: bodyText0,
        startedAt,
        attempts: attemptLog.length,
        attemptLog,
      };
      const err = failure!;
      const kind: CallErrorKind = err.kind === 'timeout' ? 'timeout' : 'transport-error';
      const partial = err.partial;
      const message =
        err.phase === 'body' ? (partial?.status !== undefined && partial.status !== 200 ? `${spec.iface}.${spec.method}: ${err.message}` : err.message) : `Post "${this.transport.info.urlBase}${spec.path}": ${err.message}`;
      const d = transportDeviation(err);
      const record: CallRecord = {
        ...base,
        ...(partial?.status !== undefined ? { status: partial.status } : {}),
        ...(partial?.body !== undefined ? { response: bodyText(partial.body) } : {}),
        ...(partial?.headers !== undefined ? { replyHeaders: partial.headers } : {}),
        durationMs: performance.now() - t0,
        deviations: d ? [d] : [],
        outcome: kind,
        error: message,
      };
      this.notify(record);
      return { ok: false, error: new PluginCallError(kind, message, record, undefined, err), record };
    }

    const response = bodyText(reply.body);
    const interp = interpretReply(spec, reply, response);
    // One object literal in the CallRecord's key order (no spreads: this runs on every call).
    const common = {
      seq,
      path: spec.path,
      request: bodyText0,
      startedAt,
      attempts: attemptLog.length,
      attemptLog,
      status: reply.status,
      response,
      replyHeaders: reply.headers,
      durationMs: performance.now() - t0,
      deviations: interp.deviations,
      outcome: interp.outcome,
    };
    if (interp.outcome === 'ok') {
      this.notify(common);
      return { ok: true, value: interp.value as ResponseOf<K>, record: common };
    }
    const record: CallRecord = { ...common, error: interp.message };
    this.notify(record);
    return { ok: false, error: new PluginCallError(interp.outcome, interp.message, record, interp.pluginMessage), record };
  }

  private notify(record: CallRecord): void {
    for (const l of this.listeners) {
      try {
        l(record);
      } catch {
        // A broken listener must not change the call's outcome.
      }
    }
  }
}
