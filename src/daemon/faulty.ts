/**
 * faultyCaller: a PluginCaller in front of another one that makes chosen calls
 * fail the way a plugin or the wire can fail them: a plugin error (500
 * {"Err"}), a 404, a timeout, an unreadable reply, or a reply rewritten
 * (CreateEndpoint echoing the address, Join naming a missing SrcName, ...).
 *
 * Synthetic replies go through the client's own `interpretReply`, so the error
 * text is exactly what the client (and dockerd) would produce. Every call,
 * failed or not, reaches `onCall` listeners as a CallRecord.
 *
 * `forward` says whether the plugin still receives the call: `false` (default
 * for plugin errors and 404s) means it never saw it; `true` (default for
 * timeouts, bad replies and rewritten replies) means it acted on the call and
 * only the answer was lost or changed, which is what leaks state in dockerd.
 *
 * The wrapper assumes calls through it are not concurrent (the simulated
 * daemon serialises its operations); records of concurrent foreign calls on
 * the inner caller may be attributed to the wrong call.
 */
import { interpretReply } from '../client/interpret.js';
import { PluginCallError, type CallOptions, type CallOutcome, type CallRecord, type PluginCaller } from '../client/types.js';
import { Methods, type MethodKey, type MethodSpec, type RequestOf, type ResponseOf } from '../protocol/methods.js';
import { goEncode } from '../protocol/schema.js';
import { DaemonUsageError } from './errors.js';

export type Fault =
  | { readonly kind: 'plugin-error'; readonly message?: string; readonly status?: number; readonly forward?: boolean }
  | { readonly kind: 'not-found'; readonly forward?: boolean }
  | { readonly kind: 'timeout'; readonly forward?: boolean }
  /** HTTP 200 with this body (default `not json`): a decode error. */
  | { readonly kind: 'bad-reply'; readonly body?: string; readonly forward?: boolean }
  /** The plugin answers, then the reply value is replaced by `patch(value, request)` (a JSON-able object). */
  | { readonly kind: 'reply'; readonly patch: (value: Record<string, unknown>, request: unknown) => unknown };

export interface FaultRule {
  /** MethodKey (`Join`, `RequestAddress`) or `Interface.Method` (`NetworkDriver.Join`). */
  readonly method?: string;
  /** 1-based occurrence among this rule's matching calls (default 1). */
  readonly occurrence?: number;
  /** 0-based position in the sequence of all calls through this wrapper; overrides `method`/`occurrence`. */
  readonly index?: number;
  /** Only calls whose request satisfies this count as matching. */
  readonly match?: (request: unknown) => boolean;
  /** How many consecutive matching calls fail from the chosen one on (default 1). */
  readonly times?: number;
  readonly fault: Fault;
}

export interface InjectedFault {
  /** Position in this wrapper's call sequence. */
  readonly index: number;
  readonly path: string;
  readonly fault: Fault['kind'];
}

export interface FaultyCaller extends PluginCaller {
  /** Faults injected so far, in order. */
  readonly injected: readonly InjectedFault[];
  /** Calls made through the wrapper so far. */
  readonly calls: number;
  /** Add a rule (counts start from now for `occurrence`, absolute for `index`). */
  addRule(rule: FaultRule): void;
  /** Drop every rule that has not fired yet. */
  clearRules(): void;
}

interface LiveRule {
  readonly rule: FaultRule;
  seen: number;
  remaining: number;
}

const byName = new Map<string, MethodKey>();
for (const key of Object.keys(Methods) as MethodKey[]) {
  const spec = Methods[key] as MethodSpec;
  byName.set(key, key);
  byName.set(`${spec.iface}.${spec.method}`, key);
}

function resolveMethod(name: string): MethodKey {
  const key = byName.get(name);
  if (key === undefined) throw new DaemonUsageError(`faultyCaller: unknown method ${JSON.stringify(name)} (use a MethodKey such as "Join" or "NetworkDriver.Join")`);
  return key;
}

const enc = new TextEncoder();

export function faultyCaller(inner: PluginCaller, plan: readonly FaultRule[] = []): FaultyCaller {
  const rules: LiveRule[] = [];
  const listeners = new Set<(r: CallRecord) => void>();
  const injected: InjectedFault[] = [];
  let count = 0;
  let inside = 0;
  let seq = 0;

  const emit = (r: CallRecord): void => {
    for (const l of listeners) {
      try {
        l(r);
      } catch {
        // A broken listener must not change the call's outcome.
      }
    }
  };
  inner.onCall((r) => {
    if (inside === 0) emit(r);
  });

  const addRule = (rule: FaultRule): void => {
    const times = rule.times ?? 1;
    const occ = rule.occurrence ?? 1;
    if (!Number.isSafeInteger(times) || times < 1) throw new DaemonUsageError(`faultyCaller: times must be a positive integer, got ${times}`);
    if (!Number.isSafeInteger(occ) || occ < 1) throw new DaemonUsageError(`faultyCaller: occurrence must be a positive integer, got ${occ}`);
    if (rule.index !== undefined && (!Number.isSafeInteger(rule.index) || rule.index < 0)) throw new DaemonUsageError(`faultyCaller: index must be a non-negative integer, got ${rule.index}`);
    if (rule.method !== undefined) resolveMethod(rule.method);
    if (rule.index === undefined && rule.method === undefined) throw new DaemonUsageError('faultyCaller: a rule needs a method or an index');
    rules.push({ rule, seen: 0, remaining: times });
  };
  for (const r of plan) addRule(r);

  /** The fault for this call, if a rule fires. Every matching rule counts the call. */
  const pick = (key: MethodKey, index: number, req: unknown): Fault | undefined => {
    let chosen: Fault | undefined;
    for (const live of rules) {
      if (live.remaining <= 0) continue;
      const { rule } = live;
      let fires: boolean;
      if (rule.index !== undefined) fires = index >= rule.index && (rule.match === undefined || rule.match(req));
      else {
        if (resolveMethod(rule.method!) !== key) continue;
        if (rule.match !== undefined && !rule.match(req)) continue;
        live.seen++;
        fires = live.seen >= (rule.occurrence ?? 1);
      }
      if (fires && chosen === undefined) {
        live.remaining--;
        chosen = rule.fault;
      }
    }
    return chosen;
  };

  const synth = (spec: MethodSpec, request: string, status: number | undefined, body: string | undefined, outcome: CallRecord['outcome'], error: string | undefined, durationMs: number): CallRecord => ({
    seq: ++seq,
    path: spec.path,
    request,
    ...(status !== undefined ? { status } : {}),
    ...(body !== undefined ? { response: body } : {}),
    startedAt: Date.now(),
    durationMs,
    attempts: 1,
    deviations: [],
    outcome,
    ...(error !== undefined ? { error } : {}),
  });

  async function tryCall<K extends MethodKey>(key: K, req: RequestOf<K>, opts?: CallOptions): Promise<CallOutcome<ResponseOf<K>>> {
    const spec = Methods[key] as MethodSpec;
    const index = count++;
    const fault = pick(key, index, req);
    if (fault === undefined) {
      inside++;
      let out: CallOutcome<ResponseOf<K>>;
      try {
        out = await inner.tryCall(key, req, opts);
      } finally {
        inside--;
      }
      emit(out.record);
      return out;
    }
    injected.push({ index, path: spec.path, fault: fault.kind });
    const request = spec.request === null ? '' : goEncode(spec.request, req as never);
    const forward = fault.kind === 'reply' ? true : (fault.forward ?? (fault.kind === 'timeout' || fault.kind === 'bad-reply'));
    let real: CallOutcome<ResponseOf<K>> | undefined;
    if (forward) {
      inside++;
      try {
        real = await inner.tryCall(key, req, opts);
      } finally {
        inside--;
      }
    }
    const t = real?.record.durationMs ?? 0;
    if (fault.kind === 'timeout') {
      const message = `Post "http://plugin${spec.path}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`;
      const record = synth(spec, request, undefined, undefined, 'timeout', message, t);
      emit(record);
      return { ok: false, error: new PluginCallError('timeout', message, record), record };
    }
    if (fault.kind === 'reply') {
      if (!real!.ok) {
        emit(real!.record);
        return real!;
      }
      const patched = fault.patch({ ...(real!.value as Record<string, unknown>) }, req);
      const body = `${JSON.stringify(patched)}\n`;
      const interp = interpretReply(spec, { status: 200, headers: {}, body: enc.encode(body) });
      if (interp.outcome === 'ok') {
        const record: CallRecord = { ...synth(spec, request, 200, body, 'ok', undefined, t), deviations: interp.deviations };
        emit(record);
        return { ok: true, value: interp.value as ResponseOf<K>, record };
      }
      const record: CallRecord = { ...synth(spec, request, 200, body, interp.outcome, interp.message, t), deviations: interp.deviations };
      emit(record);
      return { ok: false, error: new PluginCallError(interp.outcome, interp.message, record, interp.pluginMessage), record };
    }
    let status: number;
    let body: string;
    if (fault.kind === 'plugin-error') {
      status = fault.status ?? 500;
      body = `${JSON.stringify({ Err: fault.message ?? 'injected fault' })}\n`;
    } else if (fault.kind === 'not-found') {
      status = 404;
      // What the SDK (and go-plugins-helpers) answer for an unknown path.
      body = '{"Err":"404 page not found"}\n';
    } else {
      status = 200;
      body = fault.body ?? 'not json';
    }
    const interp = interpretReply(spec, { status, headers: {}, body: enc.encode(body) });
    if (interp.outcome === 'ok') {
      // A "bad reply" that still decodes (e.g. `{}`): the caller sees success.
      const record: CallRecord = { ...synth(spec, request, status, body, 'ok', undefined, t), deviations: interp.deviations };
      emit(record);
      return { ok: true, value: interp.value as ResponseOf<K>, record };
    }
    const record: CallRecord = { ...synth(spec, request, status, body, interp.outcome, interp.message, t), deviations: interp.deviations };
    emit(record);
    return { ok: false, error: new PluginCallError(interp.outcome, interp.message, record, interp.pluginMessage), record };
  }

  return {
    get injected() {
      return injected;
    },
    get calls() {
      return count;
    },
    addRule,
    clearRules() {
      rules.length = 0;
    },
    tryCall,
    async call<K extends MethodKey>(key: K, req: RequestOf<K>, opts?: CallOptions): Promise<ResponseOf<K>> {
      const out = await tryCall(key, req, opts);
      if (!out.ok) throw out.error;
      return out.value;
    },
    onCall(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      return inner.close();
    },
  };
}
