/**
 * Calls a RawHandler directly (the SDK's handlers, or a hand-written fake),
 * with the same timeout, abort and body-limit semantics as a socket.
 */
import type { RawHandler, RawReply, RawRequest } from '../protocol/raw.js';
import { TransportError } from './errors.js';
import { DEFAULT_MAX_BODY_BYTES, type SendOptions, type Transport, type TransportInfo } from './transport.js';

export interface InProcessOptions {
  readonly maxBodyBytes?: number;
  /** Label used in error texts (default `in-process`). */
  readonly label?: string;
}

export class InProcessTransport implements Transport {
  readonly info: TransportInfo;
  private readonly maxBody: number;
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(
    private readonly handler: RawHandler,
    opts: InProcessOptions = {},
  ) {
    const label = opts.label ?? 'in-process';
    // Looks like a unix socket to the handler: dockerd's unix-socket headers are used.
    this.info = { kind: 'in-process', address: label, compression: false, urlBase: `http://${encodeURIComponent(label)}` };
    this.maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.inFlight) c.abort();
    this.inFlight.clear();
  }

  send(req: RawRequest, opts: SendOptions): Promise<RawReply> {
    if (this.closed) return Promise.reject(new TransportError('aborted', 'connect', false, 'transport is closed'));
    if (opts.signal?.aborted) return Promise.reject(new TransportError('aborted', 'connect', false, 'context canceled'));
    const ctl = new AbortController();
    this.inFlight.add(ctl);
    // The handler gets its own copy: it must not see later mutations, nor cause any.
    const copy: RawRequest = { method: req.method, path: req.path, headers: { ...req.headers }, body: Uint8Array.from(req.body) };
    return new Promise<RawReply>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.inFlight.delete(ctl);
      };
      const fail = (err: TransportError): void => {
        if (ctl.signal.aborted && err.kind !== 'timeout' && err.kind !== 'aborted') return;
        finish();
        ctl.abort();
        reject(err);
      };
      const onAbort = (): void => fail(new TransportError('aborted', 'headers', true, 'context canceled'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      ctl.signal.addEventListener('abort', () => fail(new TransportError('aborted', 'headers', true, 'transport is closed')), { once: true });
      if (opts.timeoutMs > 0) {
        timer = setTimeout(() => fail(new TransportError('timeout', 'headers', true, `context deadline exceeded (no complete reply within ${opts.timeoutMs} ms)`)), opts.timeoutMs);
      }
      let pending: Promise<RawReply>;
      try {
        pending = Promise.resolve(this.handler.handle(copy, ctl.signal));
      } catch (e) {
        pending = Promise.reject(e);
      }
      pending.then(
        (reply) => {
          if (ctl.signal.aborted) return;
          if (reply.body.length > this.maxBody) {
            fail(
              new TransportError('body-too-large', 'body', true, `reply body exceeds the client's limit of ${this.maxBody} bytes`, {
                status: reply.status,
                headers: reply.headers,
                body: reply.body.subarray(0, this.maxBody),
              }),
            );
            return;
          }
          finish();
          resolve({ status: reply.status, headers: { ...reply.headers }, body: Uint8Array.from(reply.body) });
        },
        (e: unknown) => fail(new TransportError('handler', 'headers', true, `in-process handler failed: ${e instanceof Error ? e.message : String(e)}`, undefined, e)),
      );
    });
  }
}
