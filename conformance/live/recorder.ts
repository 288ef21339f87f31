/**
 * A recorder session (`cnmkit record`): the byte-exact proxy (src/record/proxy.ts)
 * in front of a plugin, every exchange checked live by this folder's spec-level
 * checker and appended to the trace before dockerd gets the reply, each
 * violation reported at once on one line. It lives with the checks it runs;
 * src/record keeps only what knows no rules (proxy, message splitting, trace).
 */
import { LiveChecker, type PendingCall } from './checker.js';
import { linkExists, missingLinkViolation } from './kernel.js';
import type { ObservedReply } from './observe.js';
import type { Profile } from '../../src/protocol/constants.js';
import { preferLatencyGc } from '../../src/sdk/gc.js';
import { describeCall, describeViolation } from '../../src/record/describe.js';
import type { ReplyHead, RequestHead, SplitMessage } from '../../src/record/http1-split.js';
import { type ExchangeEnd, type RunningProxy, startProxy, type UpstreamAddress } from '../../src/record/proxy.js';
import { SessionStats } from '../../src/record/summary.js';
import { encodeBody, TRACE_FORMAT, type TraceCall, type TraceHeader, type TraceReply, type TraceRequest, type TraceSummary, type TraceViolation, TraceWriter, type UpstreamKind, type ViolationLevel, cnmkitVersion } from '../../src/record/trace.js';

export interface RecorderUpstream {
  readonly kind: UpstreamKind;
  /** What the user named: a socket path, a URL or a plugin name. */
  readonly address: string;
  /** Where the proxy dials. */
  readonly dial: UpstreamAddress;
}

export interface RecorderOptions {
  readonly name: string;
  /** The socket the recorder serves (dockerd dials it). */
  readonly socket: string;
  readonly upstream: RecorderUpstream;
  /** Trace file (appended), or null for none. */
  readonly out: string | null;
  readonly profile: Profile;
  readonly level: ViolationLevel;
  /** Look Join's SrcName up on the kernel before dockerd gets the reply. */
  readonly kernel: boolean;
  /** Where a violation line goes (once per violation, as it happens). */
  readonly onViolation?: (line: string, violation: TraceViolation, call: TraceCall) => void;
  /** Every recorded call (tests, json reporter). */
  readonly onCall?: (call: TraceCall) => void;
  /** A connection whose bytes are no longer HTTP/1 (passed through uninterpreted). */
  readonly onOpaque?: (conn: number, why: string) => void;
  /** The checker or the trace writer failed on a call (the call was forwarded all the same). */
  readonly onFault?: (conn: number, err: unknown) => void;
  /** Longest call before `protocol.timely-replies` (default 30 s). */
  readonly timeoutMs?: number;
  readonly keepBodyBytes?: number;
  readonly holdBytes?: number;
}

export interface Recorder {
  readonly socket: string;
  readonly header: TraceHeader;
  readonly stats: SessionStats;
  /** Stop serving, write the summary line, close the trace. */
  stop(): Promise<TraceSummary>;
}

interface Token {
  readonly conn: number;
  readonly t0: number;
  readonly request: SplitMessage<RequestHead>;
  readonly pending: PendingCall;
}

/** Calls remembered to show as the context of later violations. */
const HISTORY = 20_000;

function lowerHeaders(pairs: readonly (readonly [string, string])[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of pairs) {
    const key = k.toLowerCase();
    out[key] = out[key] === undefined ? v : `${out[key]}, ${v}`;
  }
  return out;
}

function traceRequest(m: SplitMessage<RequestHead>): TraceRequest {
  const body = encodeBody(m.body);
  return {
    method: m.head.method,
    path: m.head.path,
    headers: m.headers,
    ...body,
    ...(m.bodyLength > m.body.length ? { truncated: m.bodyLength } : {}),
    ...(m.head.version !== 'HTTP/1.1' ? { version: m.head.version } : {}),
  } as TraceRequest;
}

function traceReply(m: SplitMessage<ReplyHead>): TraceReply {
  const body = encodeBody(m.body);
  return {
    status: m.head.status,
    headers: m.headers,
    ...body,
    reason: m.head.reason,
    ...(m.bodyLength > m.body.length ? { truncated: m.bodyLength } : {}),
    ...(m.head.version !== 'HTTP/1.1' ? { version: m.head.version } : {}),
  } as TraceReply;
}

export async function startRecorder(opts: RecorderOptions): Promise<Recorder> {
  // The recorder sits on dockerd's call path: scavenges on the main thread keep its p99 low (src/sdk/gc.ts).
  preferLatencyGc();
  const checker = new LiveChecker({ profile: opts.profile, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
  const stats = new SessionStats();
  const history = new Map<number, string>();
  const header: TraceHeader = {
    type: 'header',
    format: TRACE_FORMAT,
    name: opts.name,
    socket: opts.socket,
    upstream: {
      kind: opts.upstream.kind,
      address: opts.upstream.address,
      ...(opts.upstream.kind === 'plugin' ? { socket: 'path' in opts.upstream.dial ? opts.upstream.dial.path : `tcp://${opts.upstream.dial.host}:${opts.upstream.dial.port}` } : {}),
    },
    startedAt: new Date().toISOString(),
    cnmkit: cnmkitVersion(),
    profile: opts.profile,
    level: opts.level,
  };
  const writer = opts.out !== null ? TraceWriter.open(opts.out) : null;
  writer?.append(header);
  let seq = 0;
  let closed = false;

  const finish = (t: Token, outcome: ExchangeEnd, callSeq: number, reply: ObservedReply | null, checked: ReturnType<LiveChecker['end']>, extra: TraceViolation[]): void => {
    const violations: TraceViolation[] = [...checked.violations, ...extra];
    const call: TraceCall = {
      type: 'call',
      seq: callSeq,
      conn: t.conn,
      t0: t.t0,
      t1: outcome.t1,
      durMs: Math.round((outcome.t1 - t.t0) * 1000) / 1000,
      request: traceRequest(t.request),
      ...('reply' in outcome ? { reply: traceReply(outcome.reply) } : { error: { kind: outcome.error.kind === 'not-http' ? 'upstream-not-http' : outcome.error.kind, message: outcome.error.message } }),
      call: {
        method: checked.method,
        iface: checked.iface,
        request: checked.requestJson ?? null,
        reply: reply === null ? null : (checked.replyJson ?? null),
        ok: checked.ok,
        ...(checked.ok ? {} : { err: checked.err ?? '' }),
      },
      violations,
    };
    if (!closed) writer?.append(call);
    const key = checked.iface !== '' ? `${checked.iface}.${checked.method}` : checked.method;
    stats.add(key, call.durMs, violations.map((v) => v.level));
    const line = describeCall(call);
    history.set(callSeq, line);
    if (history.size > HISTORY) history.delete(history.keys().next().value as number);
    for (const v of violations) {
      const context = (v.context ?? []).filter((s) => s !== callSeq).map((s) => history.get(s) ?? `#${s} (not remembered)`);
      opts.onViolation?.(describeViolation(v, line, context), v, call);
    }
    opts.onCall?.(call);
  };

  const proxy: RunningProxy = await startProxy<Token>({
    listen: { path: opts.socket },
    upstream: opts.upstream.dial,
    ...(opts.keepBodyBytes !== undefined ? { keepBodyBytes: opts.keepBodyBytes } : {}),
    ...(opts.holdBytes !== undefined ? { holdBytes: opts.holdBytes } : {}),
    hooks: {
      request(conn, message, t0) {
        return { conn, t0, request: message, pending: checker.begin(message.head.path, message.body) };
      },
      end(t, outcome) {
        const callSeq = ++seq;
        const reply: ObservedReply | null = 'reply' in outcome ? { status: outcome.reply.head.status, headers: lowerHeaders(outcome.reply.headers), body: outcome.reply.body } : null;
        // An idle connection the plugin had closed never carried the call to it: no drop to judge (protocol.md §1.5 race).
        const transport = 'error' in outcome ? `${outcome.idle === true ? 'upstream-idle-closed' : outcome.error.kind}: ${outcome.error.message}` : undefined;
        const checked = checker.end(t.pending, callSeq, reply, outcome.t1 - t.t0, transport);
        if (opts.kernel && checked.srcName !== null) {
          const name = checked.srcName;
          return linkExists(name).then((exists) => finish(t, outcome, callSeq, reply, checked, exists === false ? [missingLinkViolation(name, callSeq)] : []));
        }
        finish(t, outcome, callSeq, reply, checked, []);
        return undefined;
      },
      opaque(conn, why) {
        opts.onOpaque?.(conn, why);
      },
      failed(conn, err) {
        opts.onFault?.(conn, err);
      },
    },
  });

  let stopped: Promise<TraceSummary> | null = null;
  return {
    socket: opts.socket,
    header,
    stats,
    stop() {
      stopped ??= (async () => {
        await proxy.close();
        const summary = stats.summary(new Date());
        writer?.append(summary);
        closed = true;
        writer?.close();
        return summary;
      })();
      return stopped;
    },
  };
}
