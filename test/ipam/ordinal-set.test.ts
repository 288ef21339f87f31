/** The chunked ordinal sets against a naive Set + linear scan. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BigOrdinalSet, SmallOrdinalSet } from '../../src/ipam/ordinal-set.js';

const SIZE = 4 * 65536 + 1000;

type Op = { k: 'add' | 'del'; o: number } | { k: 'fill' | 'clear'; c: number } | { k: 'find'; s: number; e: number };

const ord = fc.oneof(fc.integer({ min: 0, max: SIZE - 1 }), fc.integer({ min: 65530, max: 65540 }), fc.integer({ min: 2 * 65536 - 3, max: 2 * 65536 + 3 }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: ord.map((o) => ({ k: 'add' as const, o })) },
  { weight: 3, arbitrary: ord.map((o) => ({ k: 'del' as const, o })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((c) => ({ k: 'fill' as const, c })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((c) => ({ k: 'clear' as const, c })) },
  { weight: 4, arbitrary: fc.tuple(ord, ord).map(([a, b]) => ({ k: 'find' as const, s: Math.min(a, b), e: Math.max(a, b) })) },
);

function naiveFirstFree(set: Set<number>, s: number, e: number): number {
  for (let o = s; o <= e && o < SIZE; o++) if (!set.has(o)) return o;
  return -1;
}

describe('SmallOrdinalSet', () => {
  it('agrees with a naive set', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const real = new SmallOrdinalSet(SIZE);
        const model = new Set<number>();
        for (const op of ops) {
          switch (op.k) {
            case 'add':
              expect(real.add(op.o)).toBe(!model.has(op.o));
              model.add(op.o);
              break;
            case 'del':
              expect(real.delete(op.o)).toBe(model.has(op.o));
              model.delete(op.o);
              break;
            case 'fill':
              for (let o = op.c * 65536; o < (op.c + 1) * 65536; o++) {
                real.add(o);
                model.add(o);
              }
              break;
            case 'clear':
              for (let o = op.c * 65536; o < (op.c + 1) * 65536; o++) {
                real.delete(o);
                model.delete(o);
              }
              break;
            case 'find':
              expect(real.firstFree(op.s, op.e)).toBe(naiveFirstFree(model, op.s, op.e));
              break;
          }
          expect(real.count).toBe(model.size);
        }
        // Runs describe exactly the set.
        let n = 0;
        for (const r of real.runs()) {
          expect(model.has(r.first) && model.has(r.last)).toBe(true);
          expect(r.first === 0 || !model.has(r.first - 1)).toBe(true);
          n += r.last - r.first + 1;
        }
        expect(n).toBe(model.size);
      }),
      { numRuns: 60 },
    );
  });

  it('jumps over runs of full chunks and frees memory of empty ones', () => {
    const s = new SmallOrdinalSet(2 ** 24);
    for (let o = 0; o < 5 * 65536; o++) s.add(o);
    expect(s.firstFree(0, 2 ** 24 - 1)).toBe(5 * 65536);
    s.delete(3 * 65536 + 7);
    expect(s.firstFree(0, 2 ** 24 - 1)).toBe(3 * 65536 + 7);
    expect(s.firstFree(3 * 65536 + 8, 2 ** 24 - 1)).toBe(5 * 65536);
    expect(s.firstFree(0, 3 * 65536 + 6)).toBe(-1);
    for (let o = 0; o < 5 * 65536; o++) s.delete(o);
    expect(s.count).toBe(0);
    expect(s.bytes).toBe(0);
  });
});

describe('BigOrdinalSet', () => {
  it('handles ordinals beyond 2^53 and across 2^32 blocks', () => {
    const size = 1n << 80n;
    const s = new BigOrdinalSet(size);
    const hi = (1n << 79n) + 12345n;
    expect(s.add(hi)).toBe(true);
    expect(s.has(hi)).toBe(true);
    expect(s.has(hi + 1n)).toBe(false);
    expect(s.firstFree(hi, size - 1n)).toBe(hi + 1n);
    const edge = (1n << 32n) - 1n;
    s.add(edge);
    s.add(edge + 1n);
    expect(s.firstFree(edge, size - 1n)).toBe(edge + 2n);
    expect(s.firstFree(size - 1n, size - 1n)).toBe(size - 1n);
    s.add(size - 1n);
    expect(s.firstFree(size - 1n, size - 1n)).toBe(-1n);
    expect(s.runs().map((r) => [r.first, r.last])).toEqual([
      [edge, edge + 1n],
      [hi, hi],
      [size - 1n, size - 1n],
    ]);
    expect(s.delete(hi)).toBe(true);
    expect(s.delete(hi)).toBe(false);
    expect(s.count).toBe(3);
  });
});
