/**
 * The shape of a decoded reply: which fields carry a value and of what JSON
 * type. Values themselves are not compared (another plugin legitimately picks
 * other ids, addresses, names); zero values count as absent, as dockerd's Go
 * decoder reads an absent field and "" / null / {} / [] / false / 0 alike.
 */

export type Shape = 'string' | 'number' | 'boolean' | { readonly array: Shape | null } | { readonly object: Readonly<Record<string, Shape>> };

function isZero(v: unknown): boolean {
  if (v === null || v === undefined || v === '' || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v as Record<string, unknown>).every(isZero);
  return false;
}

/** null for a zero value. */
export function shapeOf(v: unknown): Shape | null {
  if (isZero(v)) return null;
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (Array.isArray(v)) {
    const first = v.find((x) => !isZero(x));
    return { array: first === undefined ? null : shapeOf(first) };
  }
  const out: Record<string, Shape> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const s = shapeOf(x);
    if (s !== null) out[k] = s;
  }
  return { object: out };
}

function describe(s: Shape | null): string {
  if (s === null) return 'nothing';
  if (typeof s === 'string') return `a ${s}`;
  return 'array' in s ? 'a list' : 'an object';
}

/** Differences between the recorded and the replayed shape, as `path: recorded X, now Y`. */
export function shapeDiff(recorded: unknown, now: unknown, path = ''): string[] {
  const a = shapeOf(recorded);
  const b = shapeOf(now);
  return diff(a, b, path);
}

function diff(a: Shape | null, b: Shape | null, path: string): string[] {
  const where = path === '' ? 'reply' : path;
  if (a === null && b === null) return [];
  if (a === null || b === null || typeof a === 'string' || typeof b === 'string') {
    return a === b ? [] : [`${where}: recorded ${describe(a)}, now ${describe(b)}`];
  }
  if ('array' in a || 'array' in b) {
    if ('array' in a && 'array' in b) return a.array === null || b.array === null ? [] : diff(a.array, b.array, `${path}[]`);
    return [`${where}: recorded ${describe(a)}, now ${describe(b)}`];
  }
  const out: string[] = [];
  const keys = [...new Set([...Object.keys(a.object), ...Object.keys(b.object)])];
  for (const k of keys) out.push(...diff(a.object[k] ?? null, b.object[k] ?? null, path === '' ? k : `${path}.${k}`));
  return out;
}
