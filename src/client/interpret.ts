/**
 * How dockerd reads a reply (protocol.md §1.4), plus every deviation from
 * what it expects. Pure: a reply in, an outcome and deviations out.
 */
import type { MethodSpec } from '../protocol/methods.js';
import type { RawReply } from '../protocol/raw.js';
import { goDecode, validatorOf, formatPath, type Node, type Schema } from '../protocol/schema.js';
import { goDecodeFirst, goUnmarshalErr } from './gojson.js';
import type { Deviation } from './types.js';

export type Interpretation =
  | { readonly outcome: 'ok'; readonly value: unknown; readonly deviations: Deviation[] }
  | {
      readonly outcome: 'plugin-error' | 'not-implemented' | 'decode-error';
      /** The text dockerd would show. */
      readonly message: string;
      readonly pluginMessage?: string;
      readonly deviations: Deviation[];
    };

const R14 = 'protocol.md §1.4';

function dev(id: string, level: Deviation['level'], message: string, rule = R14): Deviation {
  return { id, rule, level, message };
}

const envelopes = new WeakMap<MethodSpec, Schema<Record<string, unknown>>>();

/** The Go struct dockerd decodes into: the response fields plus its error field (none for Plugin.Activate). */
function envelopeOf(spec: MethodSpec): Schema<Record<string, unknown>> {
  let env = envelopes.get(spec);
  if (env === undefined) {
    const node = spec.response.node;
    const fields = node.kind === 'object' ? node.fields : {};
    const extra = spec.iface === 'Plugin' ? {} : { [spec.errorField]: { node: { kind: 'string' } as Node, optional: true, omitEmpty: true } };
    env = { node: { kind: 'object', fields: { ...fields, ...extra } } };
    envelopes.set(spec, env);
  }
  return env;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Rename case-insensitive key matches to the declared field names, so strict validation judges content, not case. */
function canonicalKeys(node: Node, v: unknown): unknown {
  switch (node.kind) {
    case 'nullable':
      return v === null ? v : canonicalKeys(node.inner, v);
    case 'array':
      return Array.isArray(v) ? v.map((x) => canonicalKeys(node.items, x)) : v;
    case 'record': {
      if (!isPlainObject(v)) return v;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: canonicalKeys(node.values, v[k]), enumerable: true, writable: true, configurable: true });
      return out;
    }
    case 'object': {
      if (!isPlainObject(v)) return v;
      const byLower = new Map(Object.keys(node.fields).map((f) => [f.toLowerCase(), f]));
      const out: Record<string, unknown> = {};
      const exact = Object.keys(v).filter((k) => Object.prototype.hasOwnProperty.call(node.fields, k));
      for (const k of exact) out[k] = canonicalKeys(node.fields[k]!.node, v[k]);
      for (const k of Object.keys(v)) {
        if (exact.includes(k)) continue;
        const f = byLower.get(k.toLowerCase());
        if (f === undefined) Object.defineProperty(out, k, { value: v[k], enumerable: true, writable: true, configurable: true });
        else if (!(f in out)) out[f] = canonicalKeys(node.fields[f]!.node, v[k]);
      }
      return out;
    }
    default:
      return v;
  }
}

/** A key of `obj` equal to `name` ignoring case (exact first). */
function findKey(obj: Record<string, unknown>, name: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(obj, name)) return name;
  const lower = name.toLowerCase();
  for (const k in obj) if (Object.prototype.hasOwnProperty.call(obj, k) && k.toLowerCase() === lower) return k;
  return undefined;
}

function stringField(obj: unknown, name: string): string {
  if (!isPlainObject(obj)) return '';
  const k = findKey(obj, name);
  const v = k === undefined ? undefined : obj[k];
  return typeof v === 'string' ? v : '';
}

const utf8 = new TextDecoder('utf-8');

export function bodyText(body: Uint8Array): string {
  return utf8.decode(body);
}

function interpretError(spec: MethodSpec, reply: RawReply, text: string): Interpretation {
  const deviations: Deviation[] = [];
  const err = goUnmarshalErr(text);
  const pluginMessage = err ?? text;
  const message = `${spec.iface}.${spec.method}: ${pluginMessage}`;
  const status = reply.status;
  if (status === 404) return { outcome: 'not-implemented', message, pluginMessage, deviations };
  if (status >= 200 && status < 300) {
    deviations.push(dev('reply.success-status-not-200', 'must', `status ${status}: dockerd treats every status except 200 as a failure`));
  } else if (status >= 300 && status < 400) {
    deviations.push(dev('reply.redirect', 'must', `status ${status}: dockerd's Go client would follow the redirect; cnmkit does not and reports a failure`));
  } else if (status !== 500) {
    deviations.push(dev('reply.error-status-not-500', 'compat', `error reply with status ${status}; go-plugins-helpers answers errors with 500`));
  }
  if (err === undefined) {
    const first = goDecodeFirst(text);
    if (first.ok && first.trailing === '' && stringField(first.value, 'Error') !== '') {
      deviations.push(dev('reply.error-body-uses-Error', 'should', `error body carries "Error", not "Err": dockerd shows the raw body ${JSON.stringify(text)} as the message`));
    } else {
      deviations.push(dev('reply.error-body-not-err-json', 'should', `error body is not {"Err":"<message>"}: dockerd shows the raw body ${JSON.stringify(text.slice(0, 200))} as the message`));
    }
  }
  return { outcome: 'plugin-error', message, pluginMessage, deviations };
}

/** Interpret one HTTP reply to `spec` exactly as dockerd does (`text`: the body already decoded, if the caller has it). */
export function interpretReply(spec: MethodSpec, reply: RawReply, text: string = bodyText(reply.body)): Interpretation {
  const deviations: Deviation[] = [];
  if ((reply.headers['content-encoding'] ?? '').toLowerCase().includes('gzip')) {
    deviations.push(dev('reply.unrequested-gzip', 'must', 'reply is gzip-encoded although the request did not accept gzip (dockerd sends no Accept-Encoding on unix sockets)', 'protocol.md §1.3'));
  }
  if (reply.status !== 200) {
    const r = interpretError(spec, reply, text);
    return { ...r, deviations: [...deviations, ...r.deviations] };
  }

  const first = goDecodeFirst(text);
  if (!first.ok) {
    if (first.message === 'EOF') deviations.push(dev('reply.empty-body', 'must', 'HTTP 200 with an empty body: dockerd fails the call with "EOF"; answer {} at least'));
    else deviations.push(dev('reply.not-json', 'must', `HTTP 200 body is not JSON (${first.message}): ${JSON.stringify(text.slice(0, 200))}`));
    return { outcome: 'decode-error', message: first.message, deviations };
  }
  if (first.trailing !== '') {
    deviations.push(dev('reply.trailing-data', 'should', `bytes after the JSON value are ignored by dockerd: ${JSON.stringify(first.trailing.slice(0, 100))}`));
  }
  const raw = first.value;
  if (raw === null) deviations.push(dev('reply.null-body', 'compat', 'body is null: dockerd reads all zero values; send {}'));

  const decoded = goDecode(envelopeOf(spec), raw);
  if (!decoded.ok) {
    deviations.push(dev('reply.type-mismatch', 'must', `dockerd cannot decode the reply: ${decoded.message}`));
    return { outcome: 'decode-error', message: decoded.message, deviations };
  }
  const notes = decoded.notes;
  const cased = notes.length === 0 ? notes : notes.filter((n) => n.kind === 'key-case');
  if (cased.length > 0) deviations.push(dev('reply.key-case', 'should', `keys matched only case-insensitively: ${cased.map((n) => n.path).join(', ')}`));
  // A null body is reported once above, not again as a null field.
  const nulls = notes.length === 0 ? notes : notes.filter((n) => n.kind === 'null-as-zero' && n.path !== '');
  if (nulls.length > 0) deviations.push(dev('reply.null-field', 'compat', `null read as the zero value: ${nulls.map((n) => n.path).join(', ')}`));

  const value = decoded.value;
  if (spec.iface === 'Plugin') {
    for (const f of ['Err', 'Error']) {
      const t = stringField(raw, f);
      if (t !== '') deviations.push(dev('reply.activate-error-in-200', 'must', `Plugin.Activate answered 200 with ${f}=${JSON.stringify(t)}: dockerd ignores it and reads the manifest`));
    }
  } else {
    const own = spec.errorField;
    const other = own === 'Err' ? 'Error' : 'Err';
    const otherText = stringField(raw, other);
    const ownText = typeof value[own] === 'string' ? (value[own] as string) : '';
    if (otherText !== '' && ownText === '') {
      deviations.push(
        spec.iface === 'IpamDriver'
          ? dev('reply.ipam-error-in-Err-field', 'must', `IPAM 200 reply with "Err": ${JSON.stringify(otherText)}: dockerd reads IPAM errors from "Error" only and treats this reply as success`)
          : dev('reply.driver-error-in-Error-field', 'must', `driver 200 reply with "Error": ${JSON.stringify(otherText)}: dockerd reads driver errors from "Err" only and treats this reply as success`),
      );
    }
    if (ownText !== '') {
      deviations.push(dev('reply.error-in-200', 'compat', `error signalled with HTTP 200 and "${own}"; go-plugins-helpers sends 500 {"Err":...}, which works for drivers and IPAM alike`));
      return { outcome: 'plugin-error', message: `remote: ${ownText}`, pluginMessage: ownText, deviations };
    }
    delete value[own];
  }

  // Strict shape: what dockerd needs beyond decoding (required fields, enums such as Scope).
  // canonicalKeys only renames keys that matched case-insensitively; without such a key
  // (no key-case note: the decoder visits the same nodes) `raw` is already canonical.
  const strictInput = raw === null ? value : cased.length === 0 ? raw : canonicalKeys(spec.response.node, raw);
  const issue = validatorOf(spec.response)(strictInput);
  if (issue !== null) {
    const where = formatPath(issue.path);
    deviations.push(dev('reply.schema', 'must', `${where === '' ? 'body' : `field ${where}`}: expected ${issue.expected}, got ${issue.got}`, 'protocol.md §2'));
  }
  return { outcome: 'ok', value, deviations };
}
