/**
 * The `cnmkit-trace/1` format (docs/trace.md): JSON lines written by
 * `cnmkit record`, read by `cnmkit replay` and `simulate --trace`.
 *
 * Line 1 of every recorder session is a header; then one `call` line per
 * exchange, appended when the reply (or the error) is forwarded; then, when
 * the recorder ended normally, a `summary` line. A restarted recorder appends
 * a new header to the same file, so a trace holds one or more sessions. A
 * crash can leave a partial last line: readers ignore it.
 */
import { closeSync, openSync, readFileSync, statSync, writeSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CnmkitError } from '../errors.js';

export const TRACE_FORMAT = 'cnmkit-trace/1';

export type ViolationLevel = 'must' | 'should' | 'compat';

export type UpstreamKind = 'socket' | 'url' | 'plugin';

export interface TraceHeader {
  readonly type: 'header';
  readonly format: typeof TRACE_FORMAT;
  /** The plugin name the recorder serves (`docker network create -d NAME`). */
  readonly name: string;
  /** The socket the recorder listens on. */
  readonly socket: string;
  /** The plugin behind the recorder; `address` is a socket path, a URL or a plugin name. */
  readonly upstream: { readonly kind: UpstreamKind; readonly address: string; readonly socket?: string };
  readonly startedAt: string;
  readonly cnmkit: string;
  /** Extra: the checker's settings (profile, level). */
  readonly profile?: string;
  readonly level?: ViolationLevel;
}

/** An HTTP message as it crossed the wire. */
export interface TraceMessage {
  /** Header lines in wire order and case. */
  readonly headers: readonly (readonly [string, string])[];
  /** The payload (chunked framing removed), UTF-8 text, or base64 when `encoding` says so. */
  readonly body: string;
  readonly encoding?: 'base64';
  /** Extra: the whole payload length when `body` holds only its first bytes (huge bodies). */
  readonly truncated?: number;
}

export interface TraceRequest extends TraceMessage {
  readonly method: string;
  readonly path: string;
  /** Extra: `HTTP/1.1` unless the client spoke otherwise. */
  readonly version?: string;
}

export interface TraceReply extends TraceMessage {
  readonly status: number;
  /** Extra: the reason phrase of the status line (`OK`), `HTTP/1.1` version. */
  readonly reason?: string;
  readonly version?: string;
}

export type TraceErrorKind = 'upstream-closed' | 'upstream-unreachable' | 'upstream-timeout' | 'client-closed' | 'upstream-not-http';

export interface TraceError {
  readonly kind: TraceErrorKind;
  readonly message: string;
}

export interface TraceViolation {
  /** Stable rule id, e.g. `ipam.no-duplicate-address` or `reply.not-json`. */
  readonly rule: string;
  readonly level: ViolationLevel;
  readonly message: string;
  /** Extra: seq numbers of the earlier calls that matter (the shrunk context). */
  readonly context?: readonly number[];
}

/** The call as dockerd reads it. */
export interface TraceDecodedCall {
  /** `RequestPool`; the path without the interface for unknown paths. */
  readonly method: string;
  /** Extra: `IpamDriver`, `NetworkDriver`, `Plugin` ("" for a path of another shape): GetCapabilities exists twice. */
  readonly iface: string;
  /** The request body parsed as JSON, or null (empty or unparsable). */
  readonly request: unknown;
  /** The reply body parsed as JSON, or null (no reply, empty, unparsable). */
  readonly reply: unknown;
  /** Whether dockerd would take this as success (protocol.md §1.4). */
  readonly ok: boolean;
  /** The error text dockerd would show when `ok` is false. */
  readonly err?: string;
}

export interface TraceCall {
  readonly type: 'call';
  /** 1, 2, ... per recorder session, in the order replies (or errors) were forwarded. */
  readonly seq: number;
  /** Downstream connection number (1, 2, ... per session): calls on one connection are sequential. */
  readonly conn: number;
  /** Epoch ms (fractional) when the request was complete / the reply was complete. */
  readonly t0: number;
  readonly t1: number;
  readonly durMs: number;
  readonly request: TraceRequest;
  readonly reply?: TraceReply;
  readonly error?: TraceError;
  readonly call: TraceDecodedCall;
  readonly violations: readonly TraceViolation[];
}

export interface LatencyStats {
  readonly n: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface TraceSummary {
  readonly type: 'summary';
  readonly endedAt: string;
  readonly calls: number;
  readonly violations: Readonly<Record<ViolationLevel, number>>;
  /** Keyed `Interface.Method` (e.g. `IpamDriver.RequestPool`). */
  readonly latency: Readonly<Record<string, LatencyStats>>;
}

export type TraceLine = TraceHeader | TraceCall | TraceSummary;

export class TraceFormatError extends CnmkitError {
  constructor(message: string) {
    super('E_TRACE_FORMAT', message);
  }
}

// ---------------------------------------------------------------------------
// Bodies

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A body as the trace stores it: UTF-8 text when it is valid UTF-8, base64 otherwise. */
export function encodeBody(bytes: Uint8Array): { body: string; encoding?: 'base64' } {
  if (bytes.length === 0) return { body: '' };
  try {
    return { body: strictUtf8.decode(bytes) };
  } catch {
    return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), encoding: 'base64' };
  }
}

/** The body bytes of a traced message. */
export function bodyBytes(m: Pick<TraceMessage, 'body' | 'encoding'>): Buffer {
  return m.encoding === 'base64' ? Buffer.from(m.body, 'base64') : Buffer.from(m.body, 'utf8');
}

/** First header value of that name (case-insensitive), or undefined. */
export function headerValue(m: Pick<TraceMessage, 'headers'>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of m.headers) if (k.toLowerCase() === lower) return v;
  return undefined;
}

// ---------------------------------------------------------------------------
// Writing

/**
 * Appends trace lines. Each `append` is one synchronous write(2) of the whole
 * line: once it returns, the line is in the kernel and survives a crash of
 * the recorder (not a crash of the machine: no fsync per call).
 */
export class TraceWriter {
  private fd: number | null;

  private constructor(fd: number, readonly path: string) {
    this.fd = fd;
  }

  /** Open for appending; a file a crash left without a final newline gets one, so the partial line stays alone. */
  static open(path: string): TraceWriter {
    const fd = openSync(path, 'a+');
    const size = statSync(path).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 10) writeSync(fd, '\n');
    }
    return new TraceWriter(fd, path);
  }

  append(line: TraceLine): void {
    if (this.fd === null) throw new TraceFormatError(`trace ${this.path} is closed`);
    const text = `${JSON.stringify(line)}\n`;
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}

// ---------------------------------------------------------------------------
// Reading

export interface TraceSession {
  readonly header: TraceHeader;
  readonly calls: TraceCall[];
  /** Absent when the recorder did not end normally (killed, crashed). */
  readonly summary?: TraceSummary;
}

export interface ParsedTrace {
  readonly sessions: TraceSession[];
  /** 1-based numbers of partial lines a crash left (each was last of its session); they are ignored. */
  readonly damagedLines: number[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkLine(v: unknown, lineNo: number): TraceLine {
  if (!isObject(v)) throw new TraceFormatError(`trace line ${lineNo}: not a JSON object`);
  switch (v['type']) {
    case 'header':
      if (v['format'] !== TRACE_FORMAT) throw new TraceFormatError(`trace line ${lineNo}: format ${JSON.stringify(v['format'])} is not ${TRACE_FORMAT}`);
      return v as unknown as TraceHeader;
    case 'call': {
      const req = v['request'];
      if (typeof v['seq'] !== 'number' || !isObject(req) || typeof req['path'] !== 'string' || !Array.isArray(req['headers']) || typeof req['body'] !== 'string' || !isObject(v['call'])) {
        throw new TraceFormatError(`trace line ${lineNo}: a call line needs seq, request {method, path, headers, body} and call`);
      }
      if (!Array.isArray(v['violations'])) throw new TraceFormatError(`trace line ${lineNo}: a call line needs violations`);
      return v as unknown as TraceCall;
    }
    case 'summary':
      return v as unknown as TraceSummary;
    default:
      throw new TraceFormatError(`trace line ${lineNo}: unknown type ${JSON.stringify(v['type'])}`);
  }
}

/**
 * Parse a trace. A line that is not JSON is accepted only where a crash can
 * leave one: at the end of the file, or right before the header of a
 * restarted recorder. Anything else is a TraceFormatError.
 */
export function parseTrace(text: string): ParsedTrace {
  const lines = text.split('\n');
  // A complete file ends with '\n': the last element is then ''.
  const sessions: TraceSession[] = [];
  const damagedLines: number[] = [];
  let current: { header: TraceHeader; calls: TraceCall[]; summary?: TraceSummary } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineNo = i + 1;
    if (raw === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      const rest = lines.slice(i + 1).find((l) => l !== '');
      const beforeHeader = rest !== undefined && /^\{"type":"header"/.test(rest);
      if (rest === undefined || beforeHeader) {
        damagedLines.push(lineNo);
        continue;
      }
      throw new TraceFormatError(`trace line ${lineNo}: not JSON, and not a partial line a crash left`);
    }
    const line = checkLine(value, lineNo);
    if (line.type === 'header') {
      current = { header: line, calls: [] };
      sessions.push(current);
      continue;
    }
    if (current === null) throw new TraceFormatError(`trace line ${lineNo}: a ${line.type} line before the first header`);
    if (line.type === 'call') current.calls.push(line);
    else current.summary = line;
  }
  if (sessions.length === 0) throw new TraceFormatError('the trace has no header line (not a cnmkit trace, or empty)');
  return { sessions, damagedLines };
}

export function readTrace(path: string): ParsedTrace {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TraceFormatError(`cannot read trace ${path}: ${(e as Error).message}`);
  }
  return parseTrace(text);
}

/** cnmkit's version, for the trace header (from the sources or from dist/). */
export function cnmkitVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), rel), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cnmkit' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // try the next layout (sources vs dist/)
    }
  }
  return 'unknown';
}
