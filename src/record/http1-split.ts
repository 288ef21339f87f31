/**
 * Finds HTTP/1 message boundaries in a byte stream without changing a byte:
 * the recorder forwards the original bytes and uses this only to know where a
 * request or reply ends (Content-Length, chunked, or the close for replies)
 * and what it said (start line, header lines in wire order and case, the
 * payload). Anything it cannot frame makes it `broken`: the recorder then
 * stops interpreting that connection and passes bytes through untouched.
 */

export type HeaderPair = readonly [string, string];

export interface RequestHead {
  readonly kind: 'request';
  readonly method: string;
  readonly path: string;
  readonly version: string;
}

export interface ReplyHead {
  readonly kind: 'reply';
  readonly status: number;
  readonly reason: string;
  readonly version: string;
}

export interface SplitMessage<H extends RequestHead | ReplyHead = RequestHead | ReplyHead> {
  readonly head: H;
  readonly headers: HeaderPair[];
  /** The payload (chunked framing removed), at most `keepBodyBytes` of it. */
  readonly body: Buffer;
  /** The whole payload length (> body.length when cut). */
  readonly bodyLength: number;
  /** Interim 1xx replies that came before this one (their head lines only). */
  readonly interim: number;
}

/** One message completed inside the chunk given to `push`: `end` is the offset just after its last byte. */
export interface Completed<H extends RequestHead | ReplyHead> {
  readonly message: SplitMessage<H>;
  readonly end: number;
}

type State = 'start' | 'headers' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'close' | 'broken';

const MAX_LINE = 64 * 1024;
const MAX_HEAD = 1024 * 1024;

export class MessageSplitter<H extends RequestHead | ReplyHead> {
  private state: State = 'start';
  /** Bytes of an unfinished head/chunk-size line. */
  private line: Buffer | null = null;
  private headBytes = 0;
  private head: RequestHead | ReplyHead | null = null;
  private headers: HeaderPair[] = [];
  private bodyParts: Buffer[] = [];
  private kept = 0;
  private total = 0;
  private remaining = 0;
  private interim = 0;
  /** Why the stream could not be framed (state `broken`). */
  problem = '';

  /**
   * @param kind which start line to expect
   * @param keepBodyBytes payload bytes kept for the trace (the rest is only counted)
   * @param bodyless replies: true when the reply to the current request has no body whatever its headers say (HEAD)
   */
  constructor(
    readonly kind: H['kind'],
    private readonly keepBodyBytes: number,
    private readonly bodyless: () => boolean = () => false,
  ) {}

  get broken(): boolean {
    return this.state === 'broken';
  }

  /** True between messages (nothing of a next message seen yet). */
  get idle(): boolean {
    return this.state === 'start' && this.line === null && this.interim === 0;
  }

  /** True when the current reply runs until the connection closes. */
  get closeDelimited(): boolean {
    return this.state === 'close';
  }

  /** Feed bytes; returns the messages they complete. After `broken` it returns nothing. */
  push(data: Buffer): Completed<H>[] {
    const out: Completed<H>[] = [];
    let pos = 0;
    while (pos < data.length && this.state !== 'broken') {
      switch (this.state) {
        case 'start':
        case 'headers':
        case 'trailers':
        case 'chunk-size': {
          const nl = data.indexOf(10, pos);
          const piece = data.subarray(pos, nl < 0 ? data.length : nl);
          if (this.state === 'start' && this.line === null && this.headBytes === 0 && piece.length > 0) {
            // Reject what cannot be HTTP at once instead of waiting for a line end that may never come.
            if (!this.plausibleStart(piece)) return this.fail(out, `not an HTTP ${this.kind}: ${JSON.stringify(piece.subarray(0, 40).toString('latin1'))}`);
          }
          if (nl < 0) {
            this.line = this.line === null ? Buffer.from(piece) : Buffer.concat([this.line, piece]);
            if (this.line.length > MAX_LINE) return this.fail(out, 'line too long');
            pos = data.length;
            break;
          }
          let lineBuf = this.line === null ? piece : Buffer.concat([this.line, piece]);
          this.line = null;
          pos = nl + 1;
          if (this.state !== 'chunk-size') {
            this.headBytes += lineBuf.length + 1;
            if (this.headBytes > MAX_HEAD) return this.fail(out, 'head too large');
          }
          if (lineBuf.length > 0 && lineBuf[lineBuf.length - 1] === 13) lineBuf = lineBuf.subarray(0, lineBuf.length - 1);
          const text = lineBuf.toString('latin1');
          const done = this.onLine(text);
          if (done === 'fail') return this.fail(out, this.problem);
          if (done === 'message') out.push({ message: this.finish(), end: pos });
          break;
        }
        case 'length':
        case 'chunk-data': {
          const take = Math.min(this.remaining, data.length - pos);
          this.addBody(data.subarray(pos, pos + take));
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            if (this.state === 'length') out.push({ message: this.finish(), end: pos });
            else this.state = 'chunk-crlf';
          }
          break;
        }
        case 'chunk-crlf': {
          // CRLF (or a bare LF, which Go also takes) after a chunk's data.
          const b = data[pos]!;
          if (this.line === null && b === 13) {
            this.line = Buffer.from([13]);
            pos++;
          } else if (b === 10) {
            this.line = null;
            this.state = 'chunk-size';
            pos++;
          } else return this.fail(out, 'malformed chunked encoding');
          break;
        }
        case 'close':
          this.addBody(data.subarray(pos));
          pos = data.length;
          break;
      }
    }
    return out;
  }

  /** The peer closed: a close-delimited reply is complete now; anything else unfinished is a partial message (null). */
  end(): SplitMessage<H> | null {
    if (this.state === 'close') return this.finish();
    return null;
  }

  private fail(out: Completed<H>[], why: string): Completed<H>[] {
    this.state = 'broken';
    this.problem = why;
    return out;
  }

  private plausibleStart(piece: Buffer): boolean {
    if (this.kind === 'reply') {
      const n = Math.min(piece.length, 5);
      return piece.subarray(0, n).equals(Buffer.from('HTTP/').subarray(0, n));
    }
    // A request starts with a token (the method); a stray CRLF before it is allowed (RFC 9112 §2.2).
    const c = piece[0]!;
    return c === 13 || (c > 32 && c < 127);
  }

  private onLine(text: string): 'more' | 'message' | 'fail' {
    switch (this.state) {
      case 'start': {
        if (text === '' && this.kind === 'request') return 'more';
        if (!this.startLine(text)) return 'fail';
        this.state = 'headers';
        return 'more';
      }
      case 'headers': {
        if (text === '') return this.endOfHead();
        const colon = text.indexOf(':');
        if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(text.slice(0, colon))) {
          this.problem = `malformed header line ${JSON.stringify(text.slice(0, 64))}`;
          return 'fail';
        }
        this.headers.push([text.slice(0, colon), text.slice(colon + 1).trim()]);
        return 'more';
      }
      case 'chunk-size': {
        const size = text.split(';')[0]!.trim();
        if (!/^[0-9a-fA-F]{1,15}$/.test(size)) {
          this.problem = `invalid chunk size ${JSON.stringify(text.slice(0, 32))}`;
          return 'fail';
        }
        this.remaining = parseInt(size, 16);
        this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
        return 'more';
      }
      case 'trailers':
        if (text === '') return 'message';
        return 'more';
      default:
        return 'more';
    }
  }

  private startLine(text: string): boolean {
    if (this.kind === 'request') {
      const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(\d\.\d)$/.exec(text);
      if (m === null) {
        this.problem = `malformed request line ${JSON.stringify(text.slice(0, 64))}`;
        return false;
      }
      this.head = { kind: 'request', method: m[1]!, path: m[2]!, version: `HTTP/${m[3]!}` };
      return true;
    }
    const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(text);
    if (m === null) {
      this.problem = `malformed status line ${JSON.stringify(text.slice(0, 64))}`;
      return false;
    }
    this.head = { kind: 'reply', status: Number(m[2]), reason: m[3] ?? '', version: `HTTP/${m[1]!}` };
    return true;
  }

  private header(name: string): string | undefined {
    let found: string | undefined;
    for (const [k, v] of this.headers) if (k.length === name.length && k.toLowerCase() === name) found = found === undefined ? v : `${found}, ${v}`;
    return found;
  }

  private endOfHead(): 'more' | 'message' | 'fail' {
    const head = this.head!;
    if (head.kind === 'reply' && head.status >= 100 && head.status < 200) {
      if (head.status === 101) {
        this.problem = '101 Switching Protocols';
        return 'fail';
      }
      // Interim reply (100 Continue): the real one follows on the same exchange.
      this.interim++;
      this.headers = [];
      this.state = 'start';
      return 'more';
    }
    const te = this.header('transfer-encoding');
    const cl = this.header('content-length');
    if (head.kind === 'reply' && (head.status === 204 || head.status === 304 || this.bodyless())) return 'message';
    if (te !== undefined && te.toLowerCase().split(',').some((t) => t.trim() === 'chunked')) {
      this.state = 'chunk-size';
      return 'more';
    }
    if (cl !== undefined) {
      const parts = cl.split(',').map((p) => p.trim());
      if (!parts.every((p) => p === parts[0]) || !/^\d{1,15}$/.test(parts[0]!)) {
        this.problem = `bad Content-Length ${JSON.stringify(cl)}`;
        return 'fail';
      }
      this.remaining = Number(parts[0]);
      if (this.remaining === 0) return 'message';
      this.state = 'length';
      return 'more';
    }
    // No length: a request has no body; a reply runs until the close.
    if (head.kind === 'request') return 'message';
    this.state = 'close';
    return 'more';
  }

  private addBody(b: Buffer): void {
    if (b.length === 0) return;
    this.total += b.length;
    const room = this.keepBodyBytes - this.kept;
    if (room <= 0) return;
    const part = b.length <= room ? b : b.subarray(0, room);
    // Copied: the caller's chunk is forwarded and may be reused.
    this.bodyParts.push(Buffer.from(part));
    this.kept += part.length;
  }

  private finish(): SplitMessage<H> {
    const message: SplitMessage<H> = {
      head: this.head as H,
      headers: this.headers,
      body: this.bodyParts.length === 1 ? this.bodyParts[0]! : Buffer.concat(this.bodyParts),
      bodyLength: this.total,
      interim: this.interim,
    };
    this.state = 'start';
    this.line = null;
    this.headBytes = 0;
    this.head = null;
    this.headers = [];
    this.bodyParts = [];
    this.kept = 0;
    this.total = 0;
    this.remaining = 0;
    this.interim = 0;
    return message;
  }
}
