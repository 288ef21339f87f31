/**
 * Typed errors of the client below the call layer: transport failures (with
 * the phase they happened in, which decides retries and the empty-body resend)
 * and discovery failures. Call-level failures are PluginCallError (types.ts).
 */
import { CnmkitError } from '../errors.js';

export type TransportErrorKind =
  /** Nothing listens at the address (ECONNREFUSED). */
  | 'refused'
  /** The unix socket file does not exist (ENOENT). */
  | 'no-socket'
  /** Any other dial failure (bad address, path too long, EACCES, ...). */
  | 'dial'
  /** TLS handshake or certificate verification failed. */
  | 'tls'
  /** The exchange did not finish within the timeout. */
  | 'timeout'
  /** The caller's AbortSignal fired or the client was closed. */
  | 'aborted'
  /** Connection reset or broken pipe. */
  | 'reset'
  /** The peer closed the connection before a complete reply. */
  | 'eof'
  /** The peer answered with bytes that are not an HTTP/1.x response. */
  | 'not-http'
  /** The reply (head or body) exceeded the client's limit. */
  | 'body-too-large'
  /** An in-process handler threw instead of answering. */
  | 'handler'
  /** A recorded trace did not contain the request that was sent. */
  | 'trace-mismatch';

/**
 * How far the exchange got. dockerd retries only failures before a response
 * head was received (`http.Client.Do` failed); a broken body is final.
 */
export type TransportPhase = 'connect' | 'send' | 'headers' | 'body';

export interface PartialReply {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Body bytes received before the failure (at most the body limit). */
  readonly body?: Uint8Array;
}

export class TransportError extends CnmkitError {
  readonly kind: TransportErrorKind;
  readonly phase: TransportPhase;
  /**
   * The request (and with it dockerd's body buffer) was handed to the
   * connection. Go drains the body buffer at that point, so every retry
   * after it carries an empty body (protocol.md §1.5).
   */
  readonly sent: boolean;
  readonly partial: PartialReply | undefined;
  constructor(kind: TransportErrorKind, phase: TransportPhase, sent: boolean, message: string, partial?: PartialReply, cause?: unknown) {
    super(kind === 'timeout' ? 'E_TIMEOUT' : 'E_TRANSPORT', message, { cause });
    this.kind = kind;
    this.phase = phase;
    this.sent = sent;
    this.partial = partial;
  }
}

/** Name discovery found nothing (protocol.md §1.1). */
export class PluginNotFoundError extends CnmkitError {
  readonly plugin: string;
  /** Every path looked at, in lookup order. */
  readonly tried: readonly string[];
  constructor(plugin: string, tried: readonly string[]) {
    super('E_PLUGIN_NOT_FOUND', `plugin "${plugin}" not found (looked at: ${tried.join(', ')})`);
    this.plugin = plugin;
    this.tried = tried;
  }
}

/** A spec or json file exists but cannot be used (dockerd fails the lookup the same way). */
export class PluginSpecError extends CnmkitError {
  readonly file: string;
  constructor(file: string, message: string) {
    super('E_PLUGIN_SPEC', `${file}: ${message}`);
    this.file = file;
  }
}
