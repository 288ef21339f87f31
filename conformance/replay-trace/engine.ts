/**
 * Replaying a recorded session (`cnmkit-trace/1`) against another plugin:
 * every recorded request is sent again, in the recorded order, with the ids
 * and addresses the recorded plugin chose re-mapped to the ones the plugin
 * chooses now (remap.ts). What differs is a divergence:
 *
 * - `must`: a call that succeeded in the recording fails now (the user's
 *   command breaks), or a model violation at `must`;
 * - `compat`: a call that failed in the recording succeeds now (often the
 *   fix itself), or a successful reply of another shape (another design:
 *   the model judges whether it is harmful);
 * - the model's own level for a model violation on the replayed calls.
 *
 * Error texts and statuses, ids, addresses and names are never compared:
 * another correct plugin picks others (conformance/README.md, "What a
 * failure means").
 */
import { methodByPath } from '../../src/protocol/methods.js';
import { type TraceCall, type TraceSession, type ViolationLevel } from '../../src/record/trace.js';
import type { RawResult, RawSender } from '../raw.js';
import { headerRecord, readReply, type ReplyReading } from './outcome.js';
import { IdMap } from './remap.js';
import { shapeDiff } from './shape.js';

export type DivergenceKind = 'fails-now' | 'succeeds-now' | 'shape' | 'model';

export interface Divergence {
  /** `12`, or `2:12` for the second recorder session of a trace. */
  readonly seq: string;
  /** `IpamDriver.RequestAddress` */
  readonly call: string;
  readonly kind: DivergenceKind;
  readonly level: ViolationLevel;
  /** Model rule id for `model` divergences. */
  readonly rule?: string;
  readonly message: string;
}

/** One replayed exchange, as the model sees it: the request as sent now and dockerd's reading of the reply. */
export interface ReplayedCall {
  readonly seq: string;
  readonly path: string;
  /** Request body as sent (already re-mapped). */
  readonly body: string;
  readonly request: unknown;
  readonly reply: { readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: string } | null;
  readonly reading: ReplyReading;
}

export interface ReplayVerdict {
  readonly rule: string;
  readonly level: ViolationLevel;
  readonly message: string;
}

/** The spec-level model judging the replayed calls as they happen (one instance per replay). */
export interface ReplayJudge {
  observe(call: ReplayedCall): readonly ReplayVerdict[];
}

export interface ReplayTraceOptions {
  readonly timeoutMs?: number;
  readonly judge?: ReplayJudge;
  /** Called after each call (progress, live printing). */
  readonly onCall?: (call: ReplayedCall, divergences: readonly Divergence[]) => void;
}

export interface ReplayTraceResult {
  readonly calls: readonly ReplayedCall[];
  readonly divergences: readonly Divergence[];
  /** Recorded calls dockerd gave up on (client-closed): replayed but their outcome is not compared. */
  readonly unjudged: number;
}

const LEVEL_RANK: Record<ViolationLevel, number> = { must: 0, should: 1, compat: 2 };

/** Divergences at `level` or more severe. */
export function atLevel(ds: readonly Divergence[], level: ViolationLevel): Divergence[] {
  return ds.filter((d) => LEVEL_RANK[d.level] <= LEVEL_RANK[level]);
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.trim() === '') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** JSON as Go's encoder writes it: `<`, `>`, `&`, U+2028/9 escaped, one trailing newline. */
export function goJson(v: unknown): string {
  return `${JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')}\n`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});

/** The request body to send now: the recorded bytes when nothing maps, else the re-mapped JSON. */
export function rewriteBody(ids: IdMap, body: string): { body: string; request: unknown } {
  const parsed = parseJson(body);
  if (!parsed.ok) return { body, request: null };
  const now = ids.rewrite(parsed.value);
  if (JSON.stringify(now) === JSON.stringify(parsed.value)) return { body, request: parsed.value };
  return { body: body.endsWith('\n') ? goJson(now) : goJson(now).slice(0, -1), request: now };
}

/** What the recorded plugin chose and the plugin chose now, learnt from two successful replies. */
export function learn(ids: IdMap, method: string, request: unknown, recorded: Record<string, unknown>, now: Record<string, unknown>): void {
  switch (method) {
    case 'IpamDriver.GetDefaultAddressSpaces':
      // Address space names are the plugin's own (RequestPool carries them).
      ids.learnString(str(recorded['LocalDefaultAddressSpace']), str(now['LocalDefaultAddressSpace']));
      ids.learnString(str(recorded['GlobalDefaultAddressSpace']), str(now['GlobalDefaultAddressSpace']));
      return;
    case 'IpamDriver.RequestPool': {
      const from = str(recorded['Pool']);
      const to = str(now['Pool']);
      if (from !== to) ids.learnPool(from, to);
      ids.learnString(str(recorded['PoolID']), str(now['PoolID']));
      const rd = obj(recorded['Data']);
      const nd = obj(now['Data']);
      for (const k of Object.keys(rd)) if (typeof nd[k] === 'string') ids.learnAddress(str(rd[k]), str(nd[k]));
      return;
    }
    case 'IpamDriver.RequestAddress':
      ids.learnAddress(str(recorded['Address']), str(now['Address']));
      return;
    case 'NetworkDriver.CreateEndpoint': {
      const ri = obj(recorded['Interface']);
      const ni = obj(now['Interface']);
      const asked = obj(obj(request)['Interface']);
      for (const k of ['Address', 'AddressIPv6']) if (str(asked[k]) === '') ids.learnAddress(str(ri[k]), str(ni[k]));
      if (str(asked['MacAddress']) === '') ids.learnMac(str(ri['MacAddress']), str(ni['MacAddress']));
      return;
    }
    case 'NetworkDriver.Join':
      ids.learnString(str(obj(recorded['InterfaceName'])['SrcName']), str(obj(now['InterfaceName'])['SrcName']));
      return;
    default:
      return;
  }
}

function callName(path: string): string {
  const spec = methodByPath(path);
  return spec === undefined ? path.replace(/^\//, '') : `${spec.iface}.${spec.method}`;
}

function recordedReading(c: TraceCall): ReplyReading {
  if (c.reply === undefined) return { ok: false, error: c.error?.message ?? 'no reply' };
  const body = c.reply.encoding === 'base64' ? Buffer.from(c.reply.body, 'base64') : Buffer.from(c.reply.body, 'utf8');
  return readReply(c.request.path, { status: c.reply.status, headers: headerRecord(c.reply.headers), body });
}

function nowReading(path: string, res: RawResult): ReplyReading {
  if (res.kind !== 'reply') return { ok: false, error: `${res.kind}: ${res.message}` };
  return readReply(path, { status: res.status, headers: res.headers, body: Buffer.from(res.body, 'utf8') });
}

function brief(r: ReplyReading, body: string | undefined): string {
  if (!r.ok) return r.error;
  const t = (body ?? JSON.stringify(r.value)).trim();
  return t.length > 120 ? `${t.slice(0, 119)}…` : t;
}

/**
 * Replay the sessions of a trace (in order: a restarted recorder's session
 * continues the same plugin state) through `raw`.
 */
export async function replayTrace(sessions: readonly Pick<TraceSession, 'calls'>[], raw: RawSender, opts: ReplayTraceOptions = {}): Promise<ReplayTraceResult> {
  const ids = new IdMap();
  const calls: ReplayedCall[] = [];
  const divergences: Divergence[] = [];
  let unjudged = 0;
  const many = sessions.length > 1;
  for (const [si, session] of sessions.entries()) {
    for (const c of session.calls) {
      const seq = many ? `${si + 1}:${c.seq}` : String(c.seq);
      const path = c.request.path;
      const name = callName(path);
      const recordedBody = c.request.encoding === 'base64' ? Buffer.from(c.request.body, 'base64').toString('utf8') : c.request.body;
      const sent = rewriteBody(ids, recordedBody);
      const res = await raw.send({ path, method: c.request.method, body: sent.body }, opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
      const then = recordedReading(c);
      const now = nowReading(path, res);
      const replyNow = res.kind === 'reply' ? { status: res.status, headers: res.headers, body: res.body } : null;
      const call: ReplayedCall = { seq, path, body: sent.body, request: sent.request, reply: replyNow, reading: now };
      const found: Divergence[] = [];
      // dockerd hung up before the recorded reply (its own timeout): the recording has no outcome to compare.
      const judged = c.error?.kind !== 'client-closed';
      if (!judged) unjudged++;
      const recordedText = c.reply === undefined ? undefined : c.reply.encoding === 'base64' ? `(${c.reply.body.length} base64 characters)` : c.reply.body;
      if (judged && then.ok && !now.ok) {
        found.push({ seq, call: name, kind: 'fails-now', level: 'must', message: `succeeded in the recording (${brief(then, recordedText)}), fails now: ${now.error}` });
      } else if (judged && !then.ok && now.ok) {
        found.push({ seq, call: name, kind: 'succeeds-now', level: 'compat', message: `failed in the recording (${then.error}), succeeds now: ${brief(now, replyNow?.body)}` });
      } else if (then.ok && now.ok) {
        const diffs = shapeDiff(then.value, now.value);
        if (diffs.length > 0) found.push({ seq, call: name, kind: 'shape', level: 'compat', message: `reply of another shape: ${diffs.join('; ')}` });
        const asked = parseJson(recordedBody);
        learn(ids, name, asked.ok ? asked.value : null, then.value, now.value);
      }
      for (const v of opts.judge?.observe(call) ?? []) found.push({ seq, call: name, kind: 'model', level: v.level, rule: v.rule, message: v.message });
      calls.push(call);
      divergences.push(...found);
      opts.onCall?.(call, found);
    }
  }
  return { calls, divergences, unjudged };
}

/** One line per divergence: `seq 12 IpamDriver.RequestAddress [must] ...`. */
export function formatDivergence(d: Divergence): string {
  return `seq ${d.seq} ${d.call} [${d.level}] ${d.rule !== undefined ? `${d.rule}: ` : ''}${d.message}`;
}
