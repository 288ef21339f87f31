/**
 * The client's public call surface. The daemon simulator and the conformance
 * suites program against `PluginCaller`; `src/client` implements it over unix
 * sockets, TCP/TLS, an in-process RawHandler, or a recorded trace.
 */
import { CnmkitError } from '../errors.js';
import type { MethodKey, RequestOf, ResponseOf } from '../protocol/methods.js';

/** A way a reply differs from what protocol.md says dockerd expects or sends. */
export interface Deviation {
  /** Stable id, e.g. `reply.ipam-error-in-Err-field`. */
  readonly id: string;
  /** The rule, e.g. `protocol.md §1.4`. */
  readonly rule: string;
  /** must: breaks dockerd; should: robustness dockerd relies on; compat: differs from Docker's own behaviour. */
  readonly level: 'must' | 'should' | 'compat';
  readonly message: string;
}

/** Everything observed about one call: what the conformance reports print. */
export interface CallRecord {
  /** Monotonic per client. */
  readonly seq: number;
  readonly path: string;
  /** Body bytes as sent on the first attempt (UTF-8). */
  readonly request: string;
  /** Absent when no HTTP reply was received. */
  readonly status?: number;
  /** Reply body as received (UTF-8, possibly cut at the client's body limit). */
  readonly response?: string;
  readonly startedAt: number;
  readonly durationMs: number;
  /** Attempts made (> 1 when transport errors were retried). */
  readonly attempts: number;
  readonly deviations: readonly Deviation[];
  readonly outcome: 'ok' | 'plugin-error' | 'not-implemented' | 'transport-error' | 'timeout' | 'decode-error';
  /** The text dockerd would show when the call failed. */
  readonly error?: string;
  /** Reply headers (lower-case names) when a reply head was received. */
  readonly replyHeaders?: Readonly<Record<string, string>>;
  /** One entry per attempt when the client retried or the attempt failed in transport. */
  readonly attemptLog?: readonly AttemptRecord[];
}

/** One HTTP attempt of a call. */
export interface AttemptRecord {
  /** ms since the call started (on the retry clock). */
  readonly atMs: number;
  /** Body bytes sent (0 for dockerd's empty-body resend). */
  readonly bodyBytes: number;
  /** Transport failure of this attempt, if any. */
  readonly error?: { readonly kind: string; readonly phase: string; readonly message: string };
}

export type CallErrorKind = 'plugin-error' | 'not-implemented' | 'transport-error' | 'timeout' | 'decode-error';

const CODES: Record<CallErrorKind, string> = {
  'plugin-error': 'E_PLUGIN',
  'not-implemented': 'E_NOT_IMPLEMENTED',
  'transport-error': 'E_TRANSPORT',
  timeout: 'E_TIMEOUT',
  'decode-error': 'E_DECODE',
};

/** A call that did not succeed; `message` is the text dockerd would show. */
export class PluginCallError extends CnmkitError {
  readonly kind: CallErrorKind;
  readonly record: CallRecord;
  /** The plugin's own error text (Err / Error / raw body) for plugin errors. */
  readonly pluginMessage: string | undefined;
  constructor(kind: CallErrorKind, message: string, record: CallRecord, pluginMessage?: string, cause?: unknown) {
    super(CODES[kind], message, { cause });
    this.kind = kind;
    this.record = record;
    this.pluginMessage = pluginMessage;
  }
}

export interface CallOptions {
  /** Per-call timeout override in ms (0 = none, as dockerd for v1 plugins). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export type CallOutcome<T> =
  | { readonly ok: true; readonly value: T; readonly record: CallRecord }
  | { readonly ok: false; readonly error: PluginCallError; readonly record: CallRecord };

export interface PluginCaller {
  /** Typed call; resolves with the Go-decoded reply or rejects with PluginCallError. */
  call<K extends MethodKey>(key: K, req: RequestOf<K>, opts?: CallOptions): Promise<ResponseOf<K>>;
  /** Same, never rejects for call failures. */
  tryCall<K extends MethodKey>(key: K, req: RequestOf<K>, opts?: CallOptions): Promise<CallOutcome<ResponseOf<K>>>;
  /** Listeners see every finished call (reports, traces, simulate). */
  onCall(listener: (record: CallRecord) => void): () => void;
  close(): Promise<void>;
}
