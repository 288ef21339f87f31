/**
 * A small schema language for the protocol's JSON bodies. One schema value
 * drives four things: the TypeScript type (Infer), a precompiled validator
 * (strict, exact-case keys: what servers check), a Go-`encoding/json`-like
 * decoder (case-insensitive keys, null = zero value: what dockerd accepts)
 * and a Go-`Encoder`-like serializer (declaration order, sorted map keys,
 * HTML escaping, trailing newline: what dockerd sends).
 *
 * Hand-written rather than a generic validation library because all four
 * views must agree and the validator sits on the hot path of every request.
 */

export type Node =
  | { readonly kind: 'string' }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'integer' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'nullable'; readonly inner: Node }
  | { readonly kind: 'array'; readonly items: Node }
  | { readonly kind: 'record'; readonly values: Node }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, FieldNode>> };

export interface FieldNode {
  readonly node: Node;
  readonly optional: boolean;
  /** Go `omitempty`: left out of encoded output when empty. */
  readonly omitEmpty: boolean;
}

/** A schema whose values have TypeScript type T. */
export interface Schema<T> {
  readonly node: Node;
  /** Phantom: never set, carries T. */
  readonly __type?: T;
}
interface OptionalSchema<T> extends Schema<T> {
  readonly __optional: true;
  readonly omitEmpty: boolean;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

type Fields = Record<string, Schema<unknown>>;
type OptionalKeys<F extends Fields> = { [K in keyof F]: F[K] extends OptionalSchema<unknown> ? K : never }[keyof F];
type RequiredKeys<F extends Fields> = Exclude<keyof F, OptionalKeys<F>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ObjectOf<F extends Fields> = Simplify<
  { [K in RequiredKeys<F>]: Infer<F[K]> } & { [K in OptionalKeys<F>]?: Infer<F[K]> }
>;

const mk = <T>(node: Node): Schema<T> => ({ node });

export const s = {
  string: (): Schema<string> => mk({ kind: 'string' }),
  boolean: (): Schema<boolean> => mk({ kind: 'boolean' }),
  integer: (): Schema<number> => mk({ kind: 'integer' }),
  unknown: (): Schema<unknown> => mk({ kind: 'unknown' }),
  enum: <const V extends readonly string[]>(values: V): Schema<V[number]> => mk({ kind: 'enum', values }),
  nullable: <T>(inner: Schema<T>): Schema<T | null> => mk({ kind: 'nullable', inner: inner.node }),
  array: <T>(items: Schema<T>): Schema<T[]> => mk({ kind: 'array', items: items.node }),
  record: <T>(values: Schema<T>): Schema<Record<string, T>> => mk({ kind: 'record', values: values.node }),
  optional: <T>(inner: Schema<T>, opts: { omitEmpty?: boolean } = {}): OptionalSchema<T> => ({
    node: inner.node,
    __optional: true,
    omitEmpty: opts.omitEmpty ?? false,
  }),
  object: <F extends Fields>(fields: F): Schema<ObjectOf<F>> => {
    const out: Record<string, FieldNode> = {};
    for (const [name, sch] of Object.entries(fields)) {
      const opt = (sch as Partial<OptionalSchema<unknown>>).__optional === true;
      out[name] = { node: sch.node, optional: opt, omitEmpty: opt && (sch as OptionalSchema<unknown>).omitEmpty };
    }
    return mk({ kind: 'object', fields: out });
  },
};

// ---------------------------------------------------------------------------
// Validation (strict)

/** Where and why a value failed validation. Built only on failure. */
export interface Issue {
  /** Path segments from the root, e.g. ['IPv4Data', 0, 'Pool']. */
  readonly path: (string | number)[];
  readonly expected: string;
  readonly got: string;
}

export type Validator = (value: unknown) => Issue | null;

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (v === undefined) return 'nothing';
  return typeof v;
}

export function describeNode(node: Node): string {
  switch (node.kind) {
    case 'string':
    case 'boolean':
    case 'integer':
      return node.kind;
    case 'unknown':
      return 'any JSON value';
    case 'enum':
      return node.values.map((v) => JSON.stringify(v)).join(' or ');
    case 'nullable':
      return `${describeNode(node.inner)} or null`;
    case 'array':
      return 'array';
    case 'record':
    case 'object':
      return 'object';
  }
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

const hasOwn = Object.prototype.hasOwnProperty;

function fail(expected: string, v: unknown): Issue {
  return { path: [], expected, got: describeValue(v) };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Compile a node into a validator closure tree once; calls allocate nothing on success. */
export function compileNode(node: Node): Validator {
  switch (node.kind) {
    case 'string':
      return (v) => (typeof v === 'string' ? null : fail('string', v));
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? null : fail('boolean', v));
    case 'integer':
      return (v) => (typeof v === 'number' && Number.isInteger(v) ? null : fail('integer', v));
    case 'unknown':
      return (v) => (v === undefined ? fail('any JSON value', v) : null);
    case 'enum': {
      const allowed = new Set(node.values);
      const exp = describeNode(node);
      return (v) => (typeof v === 'string' && allowed.has(v) ? null : { path: [], expected: exp, got: typeof v === 'string' ? JSON.stringify(v) : describeValue(v) });
    }
    case 'nullable': {
      const inner = compileNode(node.inner);
      const exp = describeNode(node);
      return (v) => {
        if (v === null) return null;
        const issue = inner(v);
        if (issue !== null && issue.path.length === 0) return { path: [], expected: exp, got: issue.got };
        return issue;
      };
    }
    case 'array': {
      const item = compileNode(node.items);
      return (v) => {
        if (!Array.isArray(v)) return fail('array', v);
        for (let i = 0; i < v.length; i++) {
          const issue = item(v[i]);
          if (issue !== null) {
            issue.path.unshift(i);
            return issue;
          }
        }
        return null;
      };
    }
    case 'record': {
      const val = compileNode(node.values);
      return (v) => {
        if (!isPlainObject(v)) return fail('object', v);
        for (const k in v) {
          if (!hasOwn.call(v, k)) continue;
          const issue = val(v[k]);
          if (issue !== null) {
            issue.path.unshift(k);
            return issue;
          }
        }
        return null;
      };
    }
    case 'object': {
      const names = Object.keys(node.fields);
      const checks = names.map((n) => compileNode(node.fields[n]!.node));
      const optional = names.map((n) => node.fields[n]!.optional);
      const exps = names.map((n) => describeNode(node.fields[n]!.node));
      return (v) => {
        if (!isPlainObject(v)) return fail('object', v);
        for (let i = 0; i < names.length; i++) {
          const name = names[i]!;
          const present = hasOwn.call(v, name);
          if (!present) {
            if (optional[i]) continue;
            return { path: [name], expected: exps[i]!, got: 'nothing' };
          }
          const issue = checks[i]!(v[name]);
          if (issue !== null) {
            issue.path.unshift(name);
            return issue;
          }
        }
        return null;
      };
    }
  }
}

const compiled = new WeakMap<Schema<unknown>, Validator>();

/** The (cached) compiled validator of a schema. */
export function validatorOf<T>(schema: Schema<T>): (value: unknown) => Issue | null {
  let fn = compiled.get(schema as Schema<unknown>);
  if (fn === undefined) {
    fn = compileNode(schema.node);
    compiled.set(schema as Schema<unknown>, fn);
  }
  return fn;
}

/** Type guard form of a validator. */
export function is<T>(schema: Schema<T>, value: unknown): value is T {
  return validatorOf(schema)(value) === null;
}

// ---------------------------------------------------------------------------
// Go-like decoding (what dockerd accepts)

/** Something dockerd accepts but that differs from the canonical form. */
export interface DecodeNote {
  readonly path: string;
  readonly kind: 'key-case' | 'unknown-key' | 'null-as-zero';
  readonly detail: string;
}

export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T; readonly notes: DecodeNote[] }
  | { readonly ok: false; readonly issue: Issue; readonly message: string };

/** Per object node, computed once: its field names and the lower-case lookup Go's decoder uses. */
interface ObjectInfo {
  readonly names: readonly string[];
  readonly fields: readonly FieldNode[];
  readonly byLower: ReadonlyMap<string, string>;
}

const objectInfos = new WeakMap<Node, ObjectInfo>();

function objectInfo(node: Extract<Node, { kind: 'object' }>): ObjectInfo {
  let info = objectInfos.get(node);
  if (info === undefined) {
    const names = Object.keys(node.fields);
    const byLower = new Map<string, string>();
    for (const name of names) byLower.set(name.toLowerCase(), name);
    info = { names, fields: names.map((n) => node.fields[n]!), byLower };
    objectInfos.set(node, info);
  }
  return info;
}

/** The Go zero value a node decodes to when absent or null. */
export function zeroOf(node: Node): unknown {
  switch (node.kind) {
    case 'string':
    case 'enum':
      return '';
    case 'boolean':
      return false;
    case 'integer':
      return 0;
    case 'unknown':
    case 'nullable':
    case 'array':
    case 'record':
      return null;
    case 'object': {
      const { names, fields } = objectInfo(node);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) out[names[i]!] = zeroOf(fields[i]!.node);
      return out;
    }
  }
}

class GoDecodeError extends Error {
  constructor(readonly issue: Issue) {
    super();
  }
}

/** `path` is a stack the decoder pushes to and pops from; it is copied only into notes and errors. */
function goDecodeNode(node: Node, v: unknown, path: (string | number)[], notes: DecodeNote[]): unknown {
  // Go: JSON null into a non-pointer, non-map, non-slice, non-interface leaves the zero value, no error.
  if (v === null) {
    if (node.kind !== 'nullable' && node.kind !== 'unknown' && node.kind !== 'array' && node.kind !== 'record') {
      notes.push({ path: formatPath(path), kind: 'null-as-zero', detail: `null read as the zero value of ${describeNode(node)}` });
    }
    return zeroOf(node);
  }
  switch (node.kind) {
    case 'string':
    case 'enum':
      // Go decodes an enum into a plain string; the value set is checked by the caller.
      return typeof v === 'string' ? v : goBad(path, 'string', v);
    case 'boolean':
      return typeof v === 'boolean' ? v : goBad(path, 'boolean', v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v) ? v : goBad(path, 'integer', v);
    case 'unknown':
      return v;
    case 'nullable':
      return goDecodeNode(node.inner, v, path, notes);
    case 'array': {
      if (!Array.isArray(v)) return goBad(path, 'array', v);
      const out = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        out[i] = goDecodeNode(node.items, v[i], path, notes);
        path.pop();
      }
      return out;
    }
    case 'record': {
      if (!isPlainObject(v)) return goBad(path, 'object', v);
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) {
        path.push(k);
        const item = goDecodeNode(node.values, v[k], path, notes);
        path.pop();
        // defineProperty: a map key "__proto__" must stay a key, not replace the prototype.
        if (k === '__proto__') Object.defineProperty(out, k, { value: item, enumerable: true, writable: true, configurable: true });
        else out[k] = item;
      }
      return out;
    }
    case 'object': {
      if (!isPlainObject(v)) return goBad(path, 'object', v);
      const out = zeroOf(node) as Record<string, unknown>;
      const fields = node.fields;
      let keys = Object.keys(v);
      let exact = true;
      for (let i = 0; i < keys.length; i++) {
        if (!hasOwn.call(fields, keys[i]!)) {
          exact = false;
          break;
        }
      }
      if (exact) {
        // The common case: every key is a declared field, each at most once.
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i]!;
          path.push(key);
          out[key] = goDecodeNode(fields[key]!.node, v[key], path, notes);
          path.pop();
        }
        return out;
      }
      const { byLower } = objectInfo(node);
      const seen = new Set<string>();
      // Exact-case keys win over case-insensitive ones (Go prefers the exact match).
      keys = keys.sort((a, b) => Number(hasOwn.call(fields, b)) - Number(hasOwn.call(fields, a)));
      for (const key of keys) {
        const field = hasOwn.call(fields, key) ? key : byLower.get(key.toLowerCase());
        if (field === undefined) {
          notes.push({ path: formatPath([...path, key]), kind: 'unknown-key', detail: `unknown key ${JSON.stringify(key)} ignored` });
          continue;
        }
        if (field !== key) {
          notes.push({ path: formatPath([...path, key]), kind: 'key-case', detail: `key ${JSON.stringify(key)} matched field ${field} case-insensitively` });
        }
        if (seen.has(field) && field !== key) continue;
        seen.add(field);
        path.push(field);
        out[field] = goDecodeNode(fields[field]!.node, v[key], path, notes);
        path.pop();
      }
      return out;
    }
  }
}

function goBad(path: readonly (string | number)[], expected: string, v: unknown): never {
  throw new GoDecodeError({ path: [...path], expected, got: describeValue(v) });
}

/** Decode a parsed JSON value the way Go's encoding/json would into the schema's struct. */
export function goDecode<T>(schema: Schema<T>, value: unknown): DecodeResult<T> {
  const notes: DecodeNote[] = [];
  try {
    const out = goDecodeNode(schema.node, value, [], notes) as T;
    return { ok: true, value: out, notes };
  } catch (e) {
    if (e instanceof GoDecodeError) {
      const where = formatPath(e.issue.path);
      return {
        ok: false,
        issue: e.issue,
        message: `json: cannot unmarshal ${e.issue.got} into Go value of type ${e.issue.expected}${where ? ` (field ${where})` : ''}`,
      };
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Go-like encoding (what dockerd sends)

const GO_ESCAPES: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };
const GO_ESCAPE_RE = /[<>&\u2028\u2029]/g;

const GO_ESCAPE_TEST = /[<>&\u2028\u2029]/;

function goString(str: string): string {
  // Fast path: printable ASCII without `"`, `\\`, `<`, `>`, `&` encodes as itself in quotes.
  let plain = true;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
      plain = false;
      break;
    }
  }
  if (plain) return `"${str}"`;
  const json = JSON.stringify(str);
  return GO_ESCAPE_TEST.test(json) ? json.replace(GO_ESCAPE_RE, (c) => GO_ESCAPES[c]!) : json;
}

function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isPlainObject(v)) return Object.keys(v).length === 0;
  return false;
}

/**
 * Own keys sorted as Array#sort sorts strings (UTF-16 code units), as before.
 * Small maps, the usual case, get an in-place insertion sort: Array#sort
 * allocates a work copy per call.
 */
function sortedKeys(v: Record<string, unknown>): string[] {
  const keys = Object.keys(v);
  if (keys.length > 8) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

/** Encode an arbitrary JSON value like Go encodes an interface{} (map keys sorted). */
function goEncodeAny(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(goEncodeAny).join(',')}]`;
  if (isPlainObject(v)) {
    const keys = sortedKeys(v);
    if (keys.length === 0) return '{}';
    return `{${keys.map((k) => `${goString(k)}:${goEncodeAny(v[k])}`).join(',')}}`;
  }
  return 'null';
}

type Encoder = (v: unknown) => string;

const encoders = new WeakMap<Node, Encoder>();

/** The (cached) compiled encoder of a node: what goEncodeNode did, with every per-schema decision made once. */
function encoderOf(node: Node): Encoder {
  let fn = encoders.get(node);
  if (fn === undefined) {
    fn = compileEncoder(node);
    encoders.set(node, fn);
  }
  return fn;
}

function compileEncoder(node: Node): Encoder {
  switch (node.kind) {
    case 'nullable': {
      const inner = encoderOf(node.inner);
      return (v) => (v === undefined || v === null ? 'null' : inner(v));
    }
    case 'unknown':
      return (v) => (v === undefined || v === null ? 'null' : goEncodeAny(v));
    case 'array': {
      const item = encoderOf(node.items);
      return (v) => {
        if (v === undefined || v === null) return 'null';
        if (!Array.isArray(v)) return goEncodeAny(v);
        let out = '[';
        for (let i = 0; i < v.length; i++) out += i === 0 ? item(v[i]) : `,${item(v[i])}`;
        return `${out}]`;
      };
    }
    case 'record': {
      const val = encoderOf(node.values);
      return (v) => {
        if (v === undefined || v === null) return 'null';
        if (!isPlainObject(v)) return goEncodeAny(v);
        const keys = sortedKeys(v);
        let out = '{';
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i]!;
          out += `${i === 0 ? '' : ','}${goString(k)}:${val(v[k])}`;
        }
        return `${out}}`;
      };
    }
    case 'object': {
      const { names, fields } = objectInfo(node);
      const prefixes = names.map((n) => `${goString(n)}:`);
      const encs = fields.map((f) => encoderOf(f.node));
      const omitEmpty = fields.map((f) => f.omitEmpty);
      // An absent optional field without omitempty is written as its zero value.
      const zeroText = fields.map((f, i) => (f.optional && !f.omitEmpty ? encs[i]!(zeroOf(f.node)) : ''));
      const zeroFill = fields.map((f) => f.optional && !f.omitEmpty);
      const encodeObject = (v: Record<string, unknown>): string => {
        let out = '{';
        let first = true;
        for (let i = 0; i < names.length; i++) {
          const fv = v[names[i]!];
          if (omitEmpty[i] && isEmptyValue(fv)) continue;
          const text = fv === undefined && zeroFill[i] ? zeroText[i]! : encs[i]!(fv);
          out += first ? prefixes[i]! + text : `,${prefixes[i]!}${text}`;
          first = false;
        }
        return `${out}}`;
      };
      const empty: Record<string, unknown> = {};
      return (v) => {
        if (v === undefined || v === null) return encodeObject(empty);
        return isPlainObject(v) ? encodeObject(v) : goEncodeAny(v);
      };
    }
    case 'string':
    case 'enum': {
      const zero = goEncodeAny(zeroOf(node));
      return (v) => (typeof v === 'string' ? goString(v) : v === undefined ? zero : v === null ? 'null' : goEncodeAny(v));
    }
    case 'boolean':
    case 'integer': {
      const zero = goEncodeAny(zeroOf(node));
      return (v) => (v === undefined ? zero : v === null ? 'null' : goEncodeAny(v));
    }
  }
}

/** Serialize like Go's json.Encoder: compact, declared field order, sorted map keys, trailing newline. */
export function goEncode<T>(schema: Schema<T>, value: T): string {
  return `${encoderOf(schema.node)(value)}\n`;
}
