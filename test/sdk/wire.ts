/** Test helpers: raw HTTP/1.1 exchanges over a unix socket or TCP, with a tiny reply parser. */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WireReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: unknown;
}

export interface ExchangeResult {
  replies: WireReply[];
  /** The server closed the connection. */
  closed: boolean;
}

export type Target = string | { host: string; port: number };

export function dial(target: Target): Socket {
  return typeof target === 'string' ? connect(target) : connect(target.port, target.host);
}

/** Parse as many complete replies as `buf` holds; returns them and the rest. */
export function parseReplies(buf: Buffer): { replies: WireReply[]; rest: Buffer } {
  const replies: WireReply[] = [];
  let rest = buf;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.toString('latin1', 0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]! + ' ');
    if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
    }
    const status = Number(m[1]);
    if (status === 100) {
      rest = rest.subarray(end + 4);
      continue;
    }
    const len = Number(headers['content-length'] ?? 0);
    if (rest.length < end + 4 + len) break;
    const body = rest.toString('utf8', end + 4, end + 4 + len);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    replies.push({ status, headers, body, json });
    rest = rest.subarray(end + 4 + len);
  }
  return { replies, rest };
}

/**
 * Send `chunks` (each written separately, with a turn of the event loop between
 * them) and collect replies until `want` arrived, the server closed, or `timeoutMs`.
 */
export function exchange(
  target: Target,
  chunks: (string | Buffer)[],
  want = 1,
  timeoutMs = 3000,
  opts: { end?: boolean } = {},
): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const sock = dial(target);
    let buf: Buffer = Buffer.alloc(0);
    const replies: WireReply[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ replies, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      try {
        const parsed = parseReplies(buf);
        replies.push(...parsed.replies);
        buf = parsed.rest;
      } catch (e) {
        done = true;
        clearTimeout(timer);
        sock.destroy();
        reject(e as Error);
        return;
      }
      if (replies.length >= want) finish(false);
    });
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (done || sock.destroyed) return;
        sock.write(c);
        await new Promise((r) => setImmediate(r));
      }
      if (opts.end === true && !done && !sock.destroyed) sock.end();
    });
  });
}

/** A POST request as dockerd sends it. */
export function post(path: string, body: string, extra = ''): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: plugin.moby.localhost\r\nUser-Agent: Go-http-client/1.1\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n` +
    `Accept-Encoding: gzip\r\n${extra}\r\n${body}`
  );
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cnmkit-sdk-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
