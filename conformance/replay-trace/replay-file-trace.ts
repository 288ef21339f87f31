/**
 * A replay file (`cnmkit-replay/1`, written by `cnmkit check` for a failure)
 * as a trace (`cnmkit-trace/1`), so one engine replays both. The conversion
 * is lossless: the file without its calls rides in the header
 * (`replayFile`), each call's outcome in its line (`outcome`), and
 * `replayFileOfTrace` gives the same file back.
 */
import { methodByPath } from '../../src/protocol/methods.js';
import { TRACE_FORMAT, type TraceCall, type TraceHeader, type TraceSession } from '../../src/record/trace.js';
import { REPLAY_FORMAT, type ReplayFile } from '../replay-file.js';
import type { CallSummary } from '../types.js';

/** Header of a converted replay file: the file's fields other than its calls. */
export interface ReplayFileHeader extends TraceHeader {
  readonly replayFile: Omit<ReplayFile, 'calls'>;
}

/** A call line of a converted replay file: the CallSummary outcome kept as is. */
export interface ReplayFileCall extends TraceCall {
  readonly outcome: CallSummary['outcome'];
  /** A status without a response body in the summary (the reply body here is then ''). */
  readonly responseAbsent?: true;
  /** A response body without a status in the summary (no reply line then). */
  readonly responseWithoutStatus?: string;
}

function parsed(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function callLine(c: CallSummary, index: number, start: number): ReplayFileCall {
  const spec = methodByPath(c.path);
  const ok = c.outcome === 'ok' || (c.outcome === 'raw' && c.status === 200);
  return {
    type: 'call',
    seq: index + 1,
    conn: 1,
    t0: start,
    t1: start + c.durationMs,
    durMs: c.durationMs,
    request: { method: 'POST', path: c.path, headers: [], body: c.request },
    ...(c.status !== undefined ? { reply: { status: c.status, headers: [], body: c.response ?? '' } } : { error: { kind: 'upstream-closed' as const, message: c.outcome } }),
    call: {
      method: spec?.method ?? c.path.replace(/^\//, ''),
      iface: spec?.iface ?? '',
      request: parsed(c.request),
      reply: parsed(c.response),
      ok,
      ...(ok ? {} : { err: c.outcome }),
    },
    violations: [],
    outcome: c.outcome,
    ...(c.status !== undefined && c.response === undefined ? { responseAbsent: true as const } : {}),
    ...(c.status === undefined && c.response !== undefined ? { responseWithoutStatus: c.response } : {}),
  };
}

/** The replay file as a one-session trace. */
export function traceOfReplayFile(file: ReplayFile, version = '0'): { header: ReplayFileHeader; calls: ReplayFileCall[] } {
  const { calls, ...rest } = file;
  const start = Date.parse(file.createdAt);
  const t0 = Number.isFinite(start) ? start : 0;
  let t = t0;
  const lines = calls.map((c, i) => {
    const line = callLine(c, i, t);
    t += c.durationMs;
    return line;
  });
  return {
    header: {
      type: 'header',
      format: TRACE_FORMAT,
      name: `${file.check} (replay file)`,
      socket: '',
      upstream: { kind: 'socket', address: '' },
      startedAt: file.createdAt,
      cnmkit: version,
      profile: file.config.profile,
      level: file.level,
      replayFile: rest,
    },
    calls: lines,
  };
}

function isReplayFileHeader(h: TraceHeader): h is ReplayFileHeader {
  const f = (h as Partial<ReplayFileHeader>).replayFile;
  return typeof f === 'object' && f !== null && f.format === REPLAY_FORMAT;
}

/** The replay file a converted trace came from, or null for a recorded trace. */
export function replayFileOfTrace(session: Pick<TraceSession, 'header' | 'calls'>): ReplayFile | null {
  if (!isReplayFileHeader(session.header)) return null;
  const calls: CallSummary[] = session.calls.map((c) => {
    const line = c as Partial<ReplayFileCall>;
    const outcome = line.outcome ?? (c.call.ok ? 'ok' : 'plugin-error');
    return {
      path: c.request.path,
      request: c.request.body,
      ...(c.reply !== undefined ? { status: c.reply.status, ...(line.responseAbsent ? {} : { response: c.reply.body }) } : {}),
      ...(line.responseWithoutStatus !== undefined ? { response: line.responseWithoutStatus } : {}),
      outcome,
      durationMs: c.durMs,
    };
  });
  return { ...session.header.replayFile, calls };
}
