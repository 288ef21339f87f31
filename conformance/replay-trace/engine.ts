/**
 * Replaying a recorded session (`cnmkit-trace/1`) against another plugin:
 * every recorded request is sent again, in the recorded order, with the ids
 * and addresses the recorded plugin chose re-mapped to the ones the plugin
 * chooses now (remap.ts). What differs is a divergence:
 *
 * - `must`: a call that succeeded in the recording fails now (the user's
 *   command breaks), or a model violation at `must`;
 * - `compat`: a call that failed in the recording succeeds now (often the
 *   fix itself), a successful reply of another shape (another design: the
 *   model judges whether it is harmful), or a call dockerd would skip or add
 *   for this plugin's design (a gateway in RequestPool Data or not);
 * - the model's own level for a model violation on the replayed calls.
 *
 * A divergence that follows from an earlier one (a call naming an id that a
 * call failing now should have created) says which.
 *
 * Error texts and statuses, ids, addresses and names are never compared:
 * another correct plugin picks others (conformance/README.md, "What a
 * failure means").
 */
import { addressPart } from '../../src/net/index.js';
import { methodByPath } from '../../src/protocol/methods.js';
import { type TraceCall, type TraceSession, type ViolationLevel } from '../../src/record/trace.js';
import type { RawResult, RawSender } from '../raw.js';
import { levelFails } from '../types.js';
import { headerRecord, isRecord, readReply, type ReplyReading } from './outcome.js';
import { IdMap } from './remap.js';
import { shapeDiff } from './shape.js';

/** `not-sent` / `added`: a call dockerd would skip or add for this plugin's design (a gateway in RequestPool Data or not). */
export type DivergenceKind = 'fails-now' | 'succeeds-now' | 'shape' | 'not-sent' | 'added' | 'model';

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
  /** The seq of the earlier divergence this one follows from (an id that call should have created). */
  readonly after?: string;
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
  /** Epoch ms (fractional) when the request went out and when the reply (or the error) came; 0 for a call not sent. */
  readonly t0: number;
  readonly t1: number;
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

/** Divergences at `level` or more severe. */
export function atLevel(ds: readonly Divergence[], level: ViolationLevel): Divergence[] {
  return ds.filter((d) => levelFails(d.level, level));
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
  /** A reply field whose text stands again, as is, in later requests. */
  const learnField = (k: string): void => ids.learnString(str(recorded[k]), str(now[k]));
  switch (method) {
    case 'IpamDriver.GetDefaultAddressSpaces':
      // Address space names are the plugin's own (RequestPool carries them).
      learnField('LocalDefaultAddressSpace');
      learnField('GlobalDefaultAddressSpace');
      return;
    case 'IpamDriver.RequestPool': {
      const from = str(recorded['Pool']);
      const to = str(now['Pool']);
      if (from !== to) ids.learnPool(from, to);
      learnField('PoolID');
      const rd = obj(recorded['Data']);
      const nd = obj(now['Data']);
      for (const k of Object.keys(rd)) {
        if (typeof nd[k] !== 'string') continue;
        ids.learnAddress(str(rd[k]), str(nd[k]));
        // A Data gateway travels on as CIDR text (CreateNetwork Gateway): with its prefix.
        if (str(rd[k]).includes('/')) ids.learnString(str(rd[k]), str(nd[k]));
      }
      return;
    }
    case 'IpamDriver.RequestAddress':
      ids.learnAddress(str(recorded['Address']), str(now['Address']));
      // dockerd passes the IPAM's CIDR on as is (CreateEndpoint Interface.Address, CreateNetwork Gateway): the prefix too.
      learnField('Address');
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

const GATEWAY_MARK = 'com.docker.network.gateway';

function isGatewayRequest(request: unknown): boolean {
  return str(obj(obj(request)['Options'])['RequestAddressType']) === GATEWAY_MARK;
}

/** The gateway a RequestPool reply hands over in its Data (the routed design), or ''. */
function dataGateway(reply: Record<string, unknown>): string {
  return str(obj(reply['Data'])[GATEWAY_MARK]);
}

/** The ids and addresses a recorded call created, so later calls naming them can say they follow from its failure. */
function createdBy(method: string, request: unknown, recorded: ReplyReading): string[] {
  const req = obj(request);
  const rep = recorded.ok ? recorded.value : {};
  switch (method) {
    case 'IpamDriver.RequestPool':
      return [str(rep['PoolID'])];
    case 'IpamDriver.RequestAddress': {
      const a = str(rep['Address']);
      return [addressPart(a)];
    }
    case 'NetworkDriver.CreateNetwork':
      return [str(req['NetworkID'])];
    case 'NetworkDriver.CreateEndpoint':
      return [str(req['EndpointID'])];
    default:
      return [];
  }
}

/** Sends calls, compares them with the recording, feeds the model. */
class Replayer {
  readonly ids = new IdMap();
  readonly calls: ReplayedCall[] = [];
  readonly divergences: Divergence[] = [];
  unjudged = 0;
  /** Recorded PoolID -> the Data gateway the plugin now hands over (the recording had none). */
  private readonly gatewayInData = new Map<string, string>();
  /** Recorded ids whose creating call fails now -> that call's seq. */
  private readonly broken = new Map<string, string>();
  /** The plugin's address space names, asked for when the trace has no GetDefaultAddressSpaces. */
  private spacesNow: string[] = [];

  constructor(
    private readonly raw: RawSender,
    private readonly opts: ReplayTraceOptions,
  ) {}

  private async send(seq: string, path: string, method: string, body: string | Uint8Array, request: unknown): Promise<ReplayedCall> {
    const t0 = performance.timeOrigin + performance.now();
    const res = await this.raw.send({ path, method, body }, this.opts.timeoutMs !== undefined ? { timeoutMs: this.opts.timeoutMs } : {});
    const t1 = performance.timeOrigin + performance.now();
    const reply = res.kind === 'reply' ? { status: res.status, headers: res.headers, body: res.body } : null;
    return { seq, path, body: typeof body === 'string' ? body : Buffer.from(body).toString('utf8'), request, reply, reading: nowReading(path, res), t0, t1 };
  }

  private finish(call: ReplayedCall, name: string, found: Divergence[]): void {
    for (const v of this.opts.judge?.observe(call) ?? []) found.push({ seq: call.seq, call: name, kind: 'model', level: v.level, rule: v.rule, message: v.message });
    this.calls.push(call);
    this.divergences.push(...found);
    this.opts.onCall?.(call, found);
  }

  /**
   * A trace that starts after dockerd had activated the plugin (it does so
   * once per plugin name) has no handshake; the plugin replayed now has never
   * seen one. Send what dockerd sends on first use (Plugin.Activate, and
   * GetDefaultAddressSpaces for an IPAM: its space names are the plugin's own
   * and RequestPool carries them), so the session can go on.
   */
  async preamble(calls: readonly TraceCall[]): Promise<void> {
    const has = (path: string): boolean => calls.some((c) => c.request.path === path);
    const ipam = calls.some((c) => c.request.path.startsWith('/IpamDriver.'));
    if (has('/Plugin.Activate') || (ipam && has('/IpamDriver.GetDefaultAddressSpaces'))) return;
    const found: Divergence[] = [];
    const activate = await this.send('0', '/Plugin.Activate', 'POST', '', null);
    this.finish(activate, 'Plugin.Activate', found);
    if (!ipam) return;
    const spaces = await this.send('0', '/IpamDriver.GetDefaultAddressSpaces', 'POST', '', null);
    const got: Divergence[] = [];
    if (spaces.reading.ok) {
      this.spacesNow = [str(spaces.reading.value['LocalDefaultAddressSpace']), str(spaces.reading.value['GlobalDefaultAddressSpace'])].filter((x) => x !== '');
      got.push({ seq: '0', call: 'IpamDriver.GetDefaultAddressSpaces', kind: 'added', level: 'compat', message: `sent: the trace starts after the handshake; the plugin's address spaces are ${this.spacesNow.join(', ') || 'none'}` });
    }
    this.finish(spaces, 'IpamDriver.GetDefaultAddressSpaces', got);
  }

  /** Without a recorded GetDefaultAddressSpaces: the first space the recording names is the plugin's local one, the next its global one. */
  private mapSpace(request: unknown): void {
    const space = str(obj(request)['AddressSpace']);
    if (space === '' || this.spacesNow.length === 0 || this.ids.strings.has(space)) return;
    const next = this.spacesNow.shift()!;
    this.ids.learnString(space, next);
  }

  /** The earlier failure a call follows from: it names an id that call should have created. */
  private followsFrom(recordedBody: string): string | undefined {
    for (const [id, seq] of this.broken) {
      const quoted = JSON.stringify(id);
      if (recordedBody.includes(quoted) || recordedBody.includes(`${quoted.slice(0, -1)}/`)) return seq;
    }
    return undefined;
  }

  async replay(seq: string, c: TraceCall): Promise<void> {
    const path = c.request.path;
    const name = callName(path);
    const recordedBody = c.request.encoding === 'base64' ? Buffer.from(c.request.body, 'base64').toString('utf8') : c.request.body;
    const asked = parseJson(recordedBody);
    const askedValue = asked.ok ? asked.value : null;
    const then = recordedReading(c);
    // The plugin now hands the gateway over in RequestPool Data: dockerd makes no gateway request (protocol.md §4.2).
    if (name === 'IpamDriver.RequestAddress' && isGatewayRequest(askedValue) && str(obj(askedValue)['Address']) === '') {
      const gw = this.gatewayInData.get(str(obj(askedValue)['PoolID']));
      if (gw !== undefined) {
        if (then.ok) {
          this.ids.learnString(str(then.value['Address']), gw);
          this.ids.learnAddress(str(then.value['Address']), gw);
        }
        const found: Divergence[] = [{ seq, call: name, kind: 'not-sent', level: 'compat', message: `not sent: the plugin gives the gateway ${gw} in RequestPool Data, so dockerd asks for none` }];
        this.divergences.push(...found);
        this.opts.onCall?.({ seq, path, body: '', request: askedValue, reply: null, reading: { ok: true, value: {} }, t0: 0, t1: 0 }, found);
        return;
      }
    }
    if (name === 'IpamDriver.RequestPool') this.mapSpace(askedValue);
    // A body that is not UTF-8 (never dockerd's) goes out byte for byte.
    const sent = c.request.encoding === 'base64' ? { body: Buffer.from(c.request.body, 'base64'), request: null } : rewriteBody(this.ids, recordedBody);
    const call = await this.send(seq, path, c.request.method, sent.body, sent.request);
    const now = call.reading;
    const found: Divergence[] = [];
    // dockerd hung up before the recorded reply (its own timeout): the recording has no outcome to compare.
    const judged = c.error?.kind !== 'client-closed';
    if (!judged) this.unjudged++;
    const recordedText = c.reply === undefined ? undefined : c.reply.encoding === 'base64' ? `(${c.reply.body.length} base64 characters)` : c.reply.body;
    if (judged && then.ok && !now.ok) {
      const after = this.followsFrom(recordedBody);
      found.push({ seq, call: name, kind: 'fails-now', level: 'must', message: `succeeded in the recording (${brief(then, recordedText)}), fails now: ${now.error}`, ...(after !== undefined ? { after } : {}) });
      for (const id of createdBy(name, askedValue, then)) if (id !== '') this.broken.set(id, after ?? seq);
    } else if (judged && !then.ok && now.ok) {
      found.push({ seq, call: name, kind: 'succeeds-now', level: 'compat', message: `failed in the recording (${then.error}), succeeds now: ${brief(now, call.reply?.body)}` });
    } else if (then.ok && now.ok) {
      const diffs = shapeDiff(then.value, now.value);
      if (diffs.length > 0) found.push({ seq, call: name, kind: 'shape', level: 'compat', message: `reply of another shape: ${diffs.join('; ')}` });
      learn(this.ids, name, askedValue, then.value, now.value);
    }
    this.finish(call, name, found);
    if (name === 'IpamDriver.RequestPool' && then.ok && now.ok) await this.gatewayDesign(seq, then.value, now.value);
  }

  /**
   * A RequestPool whose Data gateway differs from the recording's changes
   * what dockerd sends next: no gateway request when the plugin now gives one
   * in Data; a gateway request the recording lacks when it no longer does.
   */
  private async gatewayDesign(seq: string, recorded: Record<string, unknown>, now: Record<string, unknown>): Promise<void> {
    const before = dataGateway(recorded);
    const after = dataGateway(now);
    if (before === '' && after !== '') {
      this.gatewayInData.set(str(recorded['PoolID']), after);
      return;
    }
    if (before === '' || after !== '') return;
    const name = 'IpamDriver.RequestAddress';
    const request = { PoolID: str(now['PoolID']), Address: '', Options: { RequestAddressType: GATEWAY_MARK } };
    const call = await this.send(`${seq}+gw`, '/IpamDriver.RequestAddress', 'POST', goJson(request), request);
    const found: Divergence[] = [];
    if (call.reading.ok) {
      this.ids.learnString(before, str(call.reading.value['Address']));
      this.ids.learnAddress(before, str(call.reading.value['Address']));
      found.push({ seq: call.seq, call: name, kind: 'added', level: 'compat', message: `sent: RequestPool Data has no gateway now (the recording had ${before}), so dockerd asks for one` });
    } else {
      found.push({ seq: call.seq, call: name, kind: 'fails-now', level: 'must', message: `the gateway request dockerd makes when RequestPool Data has no gateway (the recording had ${before}) fails: ${call.reading.error}` });
    }
    this.finish(call, name, found);
  }
}

/**
 * Replay the sessions of a trace (in order: a restarted recorder's session
 * continues the same plugin state) through `raw`.
 */
export async function replayTrace(sessions: readonly Pick<TraceSession, 'calls'>[], raw: RawSender, opts: ReplayTraceOptions = {}): Promise<ReplayTraceResult> {
  const r = new Replayer(raw, opts);
  await r.preamble(sessions.flatMap((x) => x.calls));
  const many = sessions.length > 1;
  for (const [si, session] of sessions.entries()) {
    for (const c of session.calls) await r.replay(many ? `${si + 1}:${c.seq}` : String(c.seq), c);
  }
  return { calls: r.calls, divergences: r.divergences, unjudged: r.unjudged };
}

/** One line per divergence: `seq 12 IpamDriver.RequestAddress [must] ...`. */
export function formatDivergence(d: Divergence): string {
  return `seq ${d.seq} ${d.call} [${d.level}] ${d.rule !== undefined ? `${d.rule}: ` : ''}${d.message}${d.after !== undefined ? ` (follows from seq ${d.after})` : ''}`;
}
