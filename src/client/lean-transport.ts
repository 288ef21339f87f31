/**
 * LeanTransport: one synchronous dispatch per exchange into an in-process
 * plugin handler, without the per-call isolation of InProcessTransport (body
 * copies, abort controller, timeout timer). Requests and replies still go
 * through the client's encoding, status and Go-decoding logic; only timeouts
 * and aborts are not available. For runs at scale (the simulator, benches).
 */
import { CONTENT_TYPE } from '../protocol/constants.js';
import type { RawReply, RawRequest } from '../protocol/raw.js';
import type { SendOptions, Transport, TransportInfo } from './transport.js';

/** A reply as a dispatcher gives it: status and JSON text. */
export interface DispatchReply {
  readonly status: number;
  readonly body: string;
}

/** What LeanTransport calls. The SDK's `createPluginHandler(...)` has this shape; it must never throw. */
export interface DispatchHandler {
  dispatch(method: string, path: string, body: Uint8Array, signals: { readonly signal: AbortSignal }): DispatchReply | Promise<DispatchReply>;
}

const NEVER_ABORTED = { signal: new AbortController().signal };
const REPLY_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': CONTENT_TYPE });

function toRawReply(w: DispatchReply): RawReply {
  return { status: w.status, headers: REPLY_HEADERS, body: Buffer.from(w.body, 'utf8') };
}

export class LeanTransport implements Transport {
  readonly info: TransportInfo;
  constructor(
    private readonly handler: DispatchHandler,
    /** Label in error texts (default `in-process`). */
    label = 'in-process',
  ) {
    // Looks like a unix socket to the handler: dockerd's unix-socket headers are used.
    this.info = { kind: 'in-process', address: label, compression: false, urlBase: `http://${encodeURIComponent(label)}` };
  }

  send(req: RawRequest, _opts: SendOptions): Promise<RawReply> {
    const w = this.handler.dispatch(req.method, req.path, req.body, NEVER_ABORTED);
    // No async frame: a synchronous handler costs one resolved promise, an asynchronous one a `then`.
    return w instanceof Promise ? w.then(toRawReply) : Promise.resolve(toRawReply(w));
  }

  async close(): Promise<void> {}
}
