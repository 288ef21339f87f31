/**
 * The replayed session as a trace of its own (`cnmkit replay --out`): the
 * requests as sent now (re-mapped), the plugin's replies, and the model's
 * verdicts as the call's violations. It opens in `simulate --trace` and
 * replays again like any recorded session.
 */
import { methodByPath } from '../../src/protocol/methods.js';
import { encodeBody, type TraceCall } from '../../src/record/trace.js';
import type { Divergence, ReplayedCall } from './engine.js';

function parsed(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

const headerPairs = (h: Readonly<Record<string, string>>): [string, string][] => Object.entries(h);

/** The trace line of one replayed call (`seq` counts the lines written); null for a call that was not sent. */
export function traceLineOf(c: ReplayedCall, seq: number, found: readonly Divergence[]): TraceCall | null {
  if (c.t0 === 0) return null;
  const spec = methodByPath(c.path);
  const dot = c.path.indexOf('.');
  return {
    type: 'call',
    seq,
    conn: 1,
    t0: c.t0,
    t1: c.t1,
    durMs: Math.round((c.t1 - c.t0) * 1000) / 1000,
    request: { method: 'POST', path: c.path, headers: [], ...encodeBody(Buffer.from(c.body, 'utf8')) },
    ...(c.reply !== null
      ? { reply: { status: c.reply.status, headers: headerPairs(c.reply.headers), ...encodeBody(Buffer.from(c.reply.body, 'utf8')) } }
      : { error: { kind: 'upstream-closed' as const, message: c.reading.ok ? 'no reply' : c.reading.error } }),
    call: {
      method: spec?.method ?? (dot > 0 ? c.path.slice(dot + 1) : c.path.replace(/^\//, '')),
      iface: spec?.iface ?? (dot > 1 ? c.path.slice(1, dot) : ''),
      request: c.request,
      reply: c.reply === null ? null : parsed(c.reply.body),
      ok: c.reading.ok,
      ...(c.reading.ok ? {} : { err: c.reading.error }),
    },
    violations: found.filter((d) => d.kind === 'model').map((d) => ({ rule: d.rule ?? 'model', level: d.level, message: d.message })),
  };
}
