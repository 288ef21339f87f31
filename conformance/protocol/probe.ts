/** Raw-exchange helpers of the protocol suite: every exchange is kept for the counterexample. */
import { methodByPath } from '../../src/protocol/methods.js';
import { servedReadPath as servedReadPathOf } from '../liveness.js';
import type { RawExchange, RawResult } from '../raw.js';
import type { CallSummary, CheckContext, Counterexample } from '../types.js';

export type ReplyVerdict =
  | { readonly kind: 'success'; readonly json: unknown }
  /** dockerd sees an error; `text` is the message it would show. */
  | { readonly kind: 'error'; readonly text: string; readonly status: number; readonly wrongField?: undefined }
  /** 200 with the error in the field dockerd does not read: dockerd sees success. */
  | { readonly kind: 'wrong-field'; readonly field: string; readonly text: string }
  | { readonly kind: 'not-json'; readonly body: string }
  | { readonly kind: 'no-reply'; readonly message: string };

export class Probe {
  readonly calls: CallSummary[] = [];
  constructor(readonly ctx: CheckContext) {}

  async send(ex: RawExchange, timeoutMs = this.ctx.config.timeoutMs): Promise<RawResult> {
    const res = await this.ctx.raw.send(ex, { timeoutMs });
    this.calls.push({
      path: ex.path,
      request: ex.body === undefined ? '' : typeof ex.body === 'string' ? ex.body : `(${ex.body.length} bytes)`,
      ...(res.kind === 'reply' ? { status: res.status, response: res.body.length > 2000 ? `${res.body.slice(0, 2000)}…` : res.body } : { response: `(${res.kind}: ${res.message})` }),
      outcome: 'raw',
      durationMs: Math.round(res.durationMs * 100) / 100,
    });
    return res;
  }

  /** Send and classify the reply the way dockerd would (protocol.md §1.4). */
  async verdict(ex: RawExchange, timeoutMs?: number): Promise<ReplyVerdict> {
    return verdictOf(ex.path, await this.send(ex, timeoutMs));
  }

  fail(message: string, extra: Partial<Counterexample> = {}): never {
    return this.ctx.fail(message, { calls: this.calls.slice(-12), ...extra });
  }

  /** The plugin still answers a harmless call (after hostile input). */
  async alive(): Promise<boolean> {
    const res = await this.send({ path: servedReadPath(this.ctx) });
    return res.kind === 'reply' && res.status === 200;
  }
}

function findKey(obj: Record<string, unknown>, name: string): string | undefined {
  const exact = obj[name];
  if (typeof exact === 'string') return exact;
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === name.toLowerCase() && typeof v === 'string') return v;
  return undefined;
}

/** A cheap read-only method the plugin serves (see liveness.ts). */
export function servedReadPath(ctx: CheckContext): string {
  return servedReadPathOf(ctx.capabilities);
}

export function verdictOf(path: string, res: RawResult): ReplyVerdict {
  if (res.kind !== 'reply') return { kind: 'no-reply', message: `${res.kind}: ${res.message}` };
  const spec = methodByPath(path);
  const errorField = spec?.errorField ?? (path.startsWith('/IpamDriver.') ? 'Error' : 'Err');
  let json: unknown;
  let parsed = true;
  try {
    json = res.body.trim() === '' ? undefined : JSON.parse(res.body);
  } catch {
    parsed = false;
  }
  if (res.status !== 200) {
    const err = parsed && json && typeof json === 'object' ? findKey(json as Record<string, unknown>, 'Err') : undefined;
    return { kind: 'error', text: err || res.body, status: res.status };
  }
  if (!parsed || json === undefined) return { kind: 'not-json', body: res.body };
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const obj = json as Record<string, unknown>;
    const text = findKey(obj, errorField);
    if (text) return { kind: 'error', text, status: 200 };
    const other = errorField === 'Err' ? 'Error' : 'Err';
    const wrong = findKey(obj, other);
    if (wrong) return { kind: 'wrong-field', field: other, text: wrong };
  }
  return { kind: 'success', json };
}
