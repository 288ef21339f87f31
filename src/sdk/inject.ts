/**
 * inject: call a RawHandler in process, the way the daemon would over HTTP
 * (fastify's inject). For tests: no socket, no server.
 */
import type { RawHandler } from '../protocol/raw.js';

export interface InjectOptions {
  /** Default POST. */
  method?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface InjectReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Body as text. */
  readonly text: string;
  /** Body parsed as JSON (undefined when it is not JSON). */
  readonly json: unknown;
}

/**
 * `body`: undefined sends an empty body (like argument-less calls and dockerd's
 * retries); a string or bytes are sent as they are; anything else is JSON-encoded.
 */
export async function inject(handler: RawHandler, path: string, body?: unknown, options: InjectOptions = {}): Promise<InjectReply> {
  let bytes: Uint8Array;
  if (body === undefined) bytes = new Uint8Array(0);
  else if (typeof body === 'string') bytes = Buffer.from(body, 'utf8');
  else if (body instanceof Uint8Array) bytes = body;
  else bytes = Buffer.from(JSON.stringify(body), 'utf8');
  const reply = await handler.handle(
    {
      method: options.method ?? 'POST',
      path,
      headers: { 'content-length': String(bytes.length), ...options.headers },
      body: bytes,
    },
    options.signal,
  );
  const text = Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: reply.status, headers: reply.headers, text, json };
}
