/**
 * fast-check arbitraries derived from protocol schemas: values that satisfy a
 * schema, and single-field corruptions of them that must be rejected (with the
 * path of the corrupted field). Used by tests and by the conformance suites'
 * malformed-request corpus.
 */
import fc from 'fast-check';
import type { Node, Schema } from './schema.js';

/** A value accepted by the node's strict validator. */
export function arbitraryOfNode(node: Node, depth = 0): fc.Arbitrary<unknown> {
  switch (node.kind) {
    case 'string':
      return fc.string({ maxLength: 24 });
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: -1000, max: 1000 });
    case 'unknown':
      return depth > 2 ? fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)) : fc.jsonValue({ maxDepth: 2 });
    case 'enum':
      return fc.constantFrom(...node.values);
    case 'nullable':
      return fc.option(arbitraryOfNode(node.inner, depth + 1), { nil: null, freq: 4 });
    case 'array':
      return fc.array(arbitraryOfNode(node.items, depth + 1), { maxLength: 3 });
    case 'record':
      return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), arbitraryOfNode(node.values, depth + 1), { maxKeys: 3 });
    case 'object': {
      const required: Record<string, fc.Arbitrary<unknown>> = {};
      const optionalKeys: string[] = [];
      for (const [name, f] of Object.entries(node.fields)) {
        required[name] = arbitraryOfNode(f.node, depth + 1);
        if (f.optional) optionalKeys.push(name);
      }
      return fc.record(required, { requiredKeys: Object.keys(node.fields).filter((k) => !optionalKeys.includes(k)) });
    }
  }
}

export function arbitraryOf<T>(schema: Schema<T>): fc.Arbitrary<T> {
  return arbitraryOfNode(schema.node) as fc.Arbitrary<T>;
}

/** A value of a JSON type the node does not accept. */
function wrongTypeFor(node: Node): fc.Arbitrary<unknown> {
  const candidates: fc.Arbitrary<unknown>[] = [];
  const accepts = (probe: unknown): boolean => acceptsShallow(node, probe);
  for (const [probe, arb] of [
    ['', fc.string()],
    [true, fc.boolean()],
    [1, fc.integer()],
    [1.5, fc.constant(1.5)],
    [[], fc.constant([] as unknown[])],
    [{}, fc.constant({})],
    [null, fc.constant(null)],
  ] as const) {
    if (!accepts(probe)) candidates.push(arb);
  }
  return fc.oneof(...candidates);
}

function acceptsShallow(node: Node, v: unknown): boolean {
  switch (node.kind) {
    case 'string':
      return typeof v === 'string';
    case 'enum':
      return false;
    case 'boolean':
      return typeof v === 'boolean';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'unknown':
      return true;
    case 'nullable':
      return v === null || acceptsShallow(node.inner, v);
    case 'array':
      return Array.isArray(v);
    case 'record':
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

export interface Corruption {
  readonly value: unknown;
  /** formatPath-style path of the corrupted field. */
  readonly field: string;
  readonly kind: 'missing' | 'wrong-type';
}

/**
 * Valid objects with exactly one top-level or nested required field removed or
 * replaced by a wrong-typed value. Only for object schemas with something to corrupt.
 */
export function corruptionOf<T>(schema: Schema<T>): fc.Arbitrary<Corruption> {
  const node = schema.node;
  if (node.kind !== 'object') throw new Error('corruptionOf needs an object schema');
  const targets = Object.entries(node.fields).filter(([, f]) => f.node.kind !== 'unknown' || !f.optional);
  if (targets.length === 0) throw new Error('schema has no field to corrupt');
  return fc
    .tuple(arbitraryOf(schema), fc.constantFrom(...targets), fc.boolean())
    .chain(([base, [name, field], remove]) => {
      const obj = { ...(base as Record<string, unknown>) };
      if (remove && !field.optional) {
        delete obj[name];
        return fc.constant<Corruption>({ value: obj, field: name, kind: 'missing' });
      }
      if (field.node.kind === 'unknown') {
        delete obj[name];
        return fc.constant<Corruption>({ value: obj, field: name, kind: 'missing' });
      }
      return wrongTypeFor(field.node).map<Corruption>((bad) => ({ value: { ...obj, [name]: bad }, field: name, kind: 'wrong-type' }));
    });
}
