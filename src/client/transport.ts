/**
 * The client's seam (CNI's `invoke.Exec`): one raw HTTP exchange per `send`.
 * Implementations: unix socket, TCP, TLS (all over `SocketTransport`), an
 * in-process RawHandler, and recorded traces (see trace.ts).
 */
import type { RawReply, RawRequest } from '../protocol/raw.js';

export interface SendOptions {
  /** Whole-exchange limit (connect, write, head and body); 0 = none. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** What the client needs to know to build the headers dockerd would send. */
export interface TransportInfo {
  readonly kind: 'unix' | 'tcp' | 'tls' | 'in-process' | 'trace';
  /** Socket path, `host:port`, or a label. */
  readonly address: string;
  /** Go's http.Transport adds `Accept-Encoding: gzip` (and inflates replies) on TCP/TLS only. */
  readonly compression: boolean;
  /** The URL prefix Go prints in transport errors, e.g. `http://%2Frun%2Fdocker%2Fplugins%2Fp.sock`. */
  readonly urlBase: string;
}

export interface Transport {
  readonly info: TransportInfo;
  /** Resolves with any HTTP reply; rejects only with TransportError. */
  send(req: RawRequest, opts: SendOptions): Promise<RawReply>;
  /** Drops idle connections and aborts exchanges in flight. */
  close(): Promise<void>;
}

/** Default cap on a reply body. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Cap on status line + headers (+ trailers). */
export const DEFAULT_MAX_HEAD_BYTES = 64 * 1024;
