/**
 * One exchange between dockerd and a plugin, read the way dockerd reads it
 * (protocol.md §1.4), plus the reply rules it breaks, at the levels a live
 * session can judge without false alarms: what dockerd accepts (other error
 * texts and statuses, lower-case keys, trailing bytes, missing optional
 * names) is at most `compat`.
 */
import { interpretReply } from '../../src/client/interpret.js';
import { goDecodeFirst } from '../../src/client/gojson.js';
import { methodByPath, type MethodSpec } from '../../src/protocol/methods.js';
import { goDecode } from '../../src/protocol/schema.js';
import type { LiveViolation } from './types.js';

export interface ObservedReply {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface ObservedCall {
  readonly path: string;
  readonly spec: MethodSpec | undefined;
  readonly method: string;
  readonly iface: string;
  /** Request body as JSON (first value), null when empty or not JSON. */
  readonly requestJson: unknown;
  /** The request Go-decoded into its struct (case-insensitive keys, zero values), null when it does not decode. */
  readonly request: Record<string, unknown> | null;
  /** Reply body as JSON (first value), null when none. */
  readonly replyJson: unknown;
  /** The reply Go-decoded (only when `ok`). */
  readonly reply: Record<string, unknown> | null;
  readonly ok: boolean;
  readonly status: number | null;
  /** What dockerd would show when not ok. */
  readonly err?: string;
  readonly violations: LiveViolation[];
}

const utf8 = new TextDecoder('utf-8');

/** Reply deviations dockerd accepts: reported, never above compat in a live session. */
const ACCEPTED = new Set(['reply.key-case', 'reply.trailing-data', 'reply.error-body-not-err-json', 'reply.error-body-uses-Error', 'reply.error-status-not-500', 'reply.null-body', 'reply.null-field']);

function firstJson(text: string): unknown {
  if (text === '') return null;
  const first = goDecodeFirst(text);
  return first.ok ? first.value : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function observeCall(path: string, requestBody: Uint8Array, reply: ObservedReply | null, transportError?: string): ObservedCall {
  const spec = methodByPath(path);
  const dot = path.indexOf('.');
  const iface = spec?.iface ?? (path.startsWith('/') && dot > 1 ? path.slice(1, dot) : '');
  const method = spec?.method ?? (dot > 0 ? path.slice(dot + 1) : path.replace(/^\//, ''));
  const requestText = utf8.decode(requestBody);
  const requestJson = firstJson(requestText);
  let request: Record<string, unknown> | null = null;
  if (spec?.request && requestJson !== null) {
    const d = goDecode(spec.request, requestJson);
    if (d.ok && isObject(d.value)) request = d.value;
  }
  if (reply === null) {
    return { path, spec, method, iface, requestJson, request, replyJson: null, reply: null, ok: false, status: null, err: transportError ?? 'no reply', violations: [] };
  }
  const text = utf8.decode(reply.body);
  const replyJson = firstJson(text);
  if (spec === undefined) {
    // A path dockerd never calls: nothing to judge beyond the bytes.
    const ok = reply.status === 200;
    return { path, spec, method, iface, requestJson, request, replyJson, reply: null, ok, status: reply.status, ...(ok ? {} : { err: `${path.slice(1)}: ${text}` }), violations: [] };
  }
  const interp = interpretReply(spec, { status: reply.status, headers: reply.headers, body: reply.body }, text);
  const violations: LiveViolation[] = [];
  for (const d of interp.deviations) {
    let level = ACCEPTED.has(d.id) ? 'compat' : d.level;
    // A missing name dockerd reads as "" (e.g. a local-only IPAM's GlobalDefaultAddressSpace) is accepted; wrong values are not.
    if (d.id === 'reply.schema' && / got nothing$/.test(d.message)) level = 'compat';
    violations.push({ rule: d.id, level, message: `${d.message} (${d.rule})` });
  }
  if (interp.outcome === 'ok') {
    return { path, spec, method, iface, requestJson, request, replyJson, reply: isObject(interp.value) ? interp.value : {}, ok: true, status: reply.status, violations };
  }
  return { path, spec, method, iface, requestJson, request, replyJson, reply: null, ok: false, status: reply.status, err: interp.message, violations };
}
