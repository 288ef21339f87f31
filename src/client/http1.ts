/**
 * A minimal HTTP/1.1 client codec: writes requests byte for byte as Go's
 * net/http does (including an empty `Host:` line, which node:http cannot
 * send) and parses replies incrementally with hard limits, so a hostile
 * plugin can neither hang the parser nor make it buffer without bound.
 */
import type { RawRequest } from '../protocol/raw.js';
import { TransportError } from './errors.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Go's canonical MIME header form: `content-length` -> `Content-Length`. */
export function canonicalHeader(name: string): string {
  const known = CANONICAL.get(name);
  if (known !== undefined) return known;
  return name
    .split('-')
    .map((p) => (p === '' ? p : p[0]!.toUpperCase() + p.slice(1).toLowerCase()))
    .join('-');
}

/** The names every request carries, computed once (this runs per header per call). */
const CANONICAL = new Map<string, string>();
for (const n of ['host', 'user-agent', 'content-length', 'accept', 'accept-encoding', 'content-type', 'connection', 'transfer-encoding']) {
  CANONICAL.set(n, n.split('-').map((p) => p[0]!.toUpperCase() + p.slice(1)).join('-'));
}

/** The request bytes: request line, headers in the given order, blank line, body. */
export function serializeRequest(req: RawRequest): Buffer {
  if (!TOKEN.test(req.method)) throw new TypeError(`invalid HTTP method ${JSON.stringify(req.method)}`);
  if (!/^\/[\x21-\x7e]*$/.test(req.path)) throw new TypeError(`invalid request path ${JSON.stringify(req.path)}`);
  let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(req.headers)) {
    if (!TOKEN.test(k) || /[\r\n\0]/.test(v)) throw new TypeError(`invalid header ${JSON.stringify(k)}`);
    head += `${canonicalHeader(k)}: ${v}\r\n`;
  }
  head += '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), req.body]);
}

export interface ParsedReply {
  readonly status: number;
  readonly version: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** The connection may carry another request (HTTP/1.1, length-delimited, no `Connection: close`, nothing left over). */
  readonly reusable: boolean;
  /** The body was cut at the size limit (only with `truncateBody`). */
  readonly truncated: boolean;
}

export interface ReplyParserOptions {
  /**
   * A body beyond the limit ends the reply, cut at the limit and marked
   * `truncated`, instead of failing it: for readers that must see what a
   * hostile plugin sends (the conformance suite's raw exchanges), not for calls.
   */
  readonly truncateBody?: boolean;
}

type State = 'status' | 'headers' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'done';

const HTTP_PREFIX = Buffer.from('HTTP/');

/**
 * Incremental reply parser. `push` returns the reply once complete; errors are
 * TransportErrors (phase `headers` or `body`, `sent` = true; kind `not-http`,
 * `body-too-large` or `eof`).
 */
export class ReplyParser {
  private state: State = 'status';
  private buf: Buffer = Buffer.alloc(0);
  private headBytes = 0;
  private status = 0;
  private version = '';
  private headers: Record<string, string> = {};
  private chunks: Buffer[] = [];
  private bodyLen = 0;
  private remaining = 0;
  private truncated = false;
  private readonly truncateBody: boolean;
  /** Whether any reply byte arrived (for error texts). */
  gotBytes = false;

  constructor(
    private readonly maxHeadBytes: number,
    private readonly maxBodyBytes: number,
    options: ReplyParserOptions = {},
  ) {
    this.truncateBody = options.truncateBody === true;
  }

  get phase(): 'headers' | 'body' {
    return this.state === 'status' || this.state === 'headers' ? 'headers' : 'body';
  }

  /** What arrived so far, for error reports. */
  partial(): { status?: number; headers?: Record<string, string>; body?: Uint8Array } {
    if (this.phase === 'headers') return {};
    return { status: this.status, headers: this.headers, body: Buffer.concat(this.chunks) };
  }

  private fail(kind: 'not-http' | 'body-too-large' | 'eof', message: string): never {
    throw new TransportError(kind, this.phase, true, message, this.partial());
  }

  push(data: Buffer): ParsedReply | null {
    if (data.length > 0) this.gotBytes = true;
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    for (;;) {
      switch (this.state) {
        case 'status':
        case 'headers':
        case 'trailers': {
          if (this.state === 'status') {
            const n = Math.min(this.buf.length, HTTP_PREFIX.length);
            // Reject non-HTTP bytes at once instead of waiting for a line end that may never come.
            if (!this.buf.subarray(0, n).equals(HTTP_PREFIX.subarray(0, n))) {
              this.fail('not-http', `malformed HTTP response ${JSON.stringify(this.buf.subarray(0, 64).toString('latin1'))}`);
            }
          }
          const nl = this.buf.indexOf(10);
          if (nl < 0) {
            if (this.headBytes + this.buf.length > this.maxHeadBytes) this.fail(this.state === 'trailers' ? 'not-http' : 'body-too-large', `reply head exceeds ${this.maxHeadBytes} bytes`);
            return null;
          }
          this.headBytes += nl + 1;
          if (this.headBytes > this.maxHeadBytes) this.fail('body-too-large', `reply head exceeds ${this.maxHeadBytes} bytes`);
          let line = this.buf.subarray(0, nl).toString('latin1');
          if (line.endsWith('\r')) line = line.slice(0, -1);
          this.buf = this.buf.subarray(nl + 1);
          if (this.state === 'status') this.statusLine(line);
          else if (this.state === 'headers') this.headerLine(line);
          else if (line === '') this.state = 'done';
          break;
        }
        case 'length': {
          const take = Math.min(this.remaining, this.buf.length);
          this.addBody(this.buf.subarray(0, take));
          this.buf = this.buf.subarray(take);
          this.remaining -= take;
          if (this.remaining === 0) this.state = 'done';
          else if (!this.truncated) return null;
          break;
        }
        case 'chunk-size': {
          const nl = this.buf.indexOf(10);
          if (nl < 0) {
            if (this.buf.length > 1024) this.fail('not-http', 'invalid byte in chunk length');
            return null;
          }
          let line = this.buf.subarray(0, nl).toString('latin1');
          this.buf = this.buf.subarray(nl + 1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          const size = line.split(';')[0]!.trim();
          if (!/^[0-9a-fA-F]{1,15}$/.test(size)) this.fail('not-http', 'invalid byte in chunk length');
          this.remaining = parseInt(size, 16);
          if (this.bodyLen + this.remaining > this.maxBodyBytes && !this.truncateBody) this.tooLarge();
          this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
          break;
        }
        case 'chunk-data': {
          const take = Math.min(this.remaining, this.buf.length);
          this.addBody(this.buf.subarray(0, take));
          this.buf = this.buf.subarray(take);
          this.remaining -= take;
          if (this.truncated) break;
          if (this.remaining > 0) return null;
          this.state = 'chunk-crlf';
          break;
        }
        case 'chunk-crlf': {
          if (this.buf.length < 1) return null;
          if (this.buf[0] === 10) this.buf = this.buf.subarray(1);
          else {
            if (this.buf.length < 2) return null;
            if (this.buf[0] !== 13 || this.buf[1] !== 10) this.fail('not-http', 'malformed chunked encoding');
            this.buf = this.buf.subarray(2);
          }
          this.state = 'chunk-size';
          break;
        }
        case 'close': {
          this.addBody(this.buf);
          this.buf = Buffer.alloc(0);
          if (this.truncated) break;
          return null;
        }
        case 'done':
          return this.result(this.buf.length === 0);
      }
    }
  }

  /** The peer closed its side. Returns the reply if a close-delimited body is now complete. */
  end(): ParsedReply {
    if (this.state === 'close') {
      this.state = 'done';
      return this.result(false);
    }
    if (this.state === 'done') return this.result(false);
    // Go: EOF before any byte of a reply is `EOF`; inside a reply `unexpected EOF`.
    this.fail('eof', this.gotBytes ? 'unexpected EOF' : 'EOF');
  }

  private result(clean: boolean): ParsedReply {
    const conn = (this.headers['connection'] ?? '').toLowerCase();
    const lengthDelimited = this.mode !== 'close';
    return {
      status: this.status,
      version: this.version,
      headers: this.headers,
      body: Buffer.concat(this.chunks),
      reusable: clean && !this.truncated && lengthDelimited && this.version === '1.1' && !conn.split(',').some((t) => t.trim() === 'close'),
      truncated: this.truncated,
    };
  }

  private mode: 'length' | 'chunked' | 'close' = 'length';

  private addBody(b: Buffer): void {
    if (b.length === 0) return;
    if (this.bodyLen + b.length > this.maxBodyBytes) {
      const room = this.maxBodyBytes - this.bodyLen;
      if (room > 0) this.chunks.push(Buffer.from(b.subarray(0, room)));
      this.bodyLen = this.maxBodyBytes;
      if (!this.truncateBody) this.tooLarge();
      // The reply ends here: what follows is not read.
      this.truncated = true;
      this.state = 'done';
      return;
    }
    this.chunks.push(Buffer.from(b));
    this.bodyLen += b.length;
  }

  private tooLarge(): never {
    this.fail('body-too-large', `reply body exceeds the client's limit of ${this.maxBodyBytes} bytes`);
  }

  private statusLine(line: string): void {
    const m = /^HTTP\/(\d\.\d) (\d{3})(?: .*)?$/.exec(line);
    if (m === null) this.fail('not-http', `malformed HTTP response ${JSON.stringify(line.slice(0, 64))}`);
    this.version = m[1]!;
    this.status = Number(m[2]);
    if (this.version !== '1.0' && this.version !== '1.1') this.fail('not-http', `unsupported HTTP version ${this.version}`);
    this.headers = {};
    this.state = 'headers';
  }

  private headerLine(line: string): void {
    if (line === '') return this.endOfHead();
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) this.fail('not-http', `malformed MIME header line: ${line.slice(0, 64)}`);
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = this.headers[key];
    if (key === 'content-length' && prev !== undefined && prev !== value) this.fail('not-http', `message cannot contain multiple Content-Length headers; got ${JSON.stringify([prev, value])}`);
    this.headers[key] = prev === undefined || key === 'content-length' ? value : `${prev}, ${value}`;
  }

  private endOfHead(): void {
    if (this.status >= 100 && this.status < 200) {
      if (this.status === 101) this.fail('not-http', 'unexpected 101 Switching Protocols');
      // Interim reply (100 Continue): the real one follows.
      this.state = 'status';
      return;
    }
    const te = this.headers['transfer-encoding'];
    const cl = this.headers['content-length'];
    if (this.status === 204 || this.status === 304) {
      this.mode = 'length';
      this.state = 'done';
    } else if (te !== undefined && te.toLowerCase().split(',').some((t) => t.trim() === 'chunked')) {
      this.mode = 'chunked';
      this.state = 'chunk-size';
    } else if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) this.fail('not-http', `bad Content-Length ${JSON.stringify(cl)}`);
      this.mode = 'length';
      this.remaining = Number(cl);
      // Checked before reading: a declared oversize body is refused at once (or read up to the limit).
      if (this.remaining > this.maxBodyBytes && !this.truncateBody) {
        this.state = 'length';
        this.tooLarge();
      }
      this.state = this.remaining === 0 ? 'done' : 'length';
    } else {
      this.mode = 'close';
      this.state = 'close';
    }
  }
}
