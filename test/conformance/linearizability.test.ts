import { describe, expect, it } from 'vitest';
import { type AddressOp, findNonLinearizable } from '../../conformance/ipam/linearizability.js';

const op = (kind: AddressOp['kind'], address: string, start: number, end: number, ok = true): AddressOp => ({ kind, address, start, end, ok, ref: 0 });

describe('findNonLinearizable', () => {
  it('accepts a release overlapping the next allocation of the same address', () => {
    expect(findNonLinearizable([op('release', 'a', 0, 10), op('allocate', 'a', 5, 12)], new Set(['a']))).toBeNull();
  });
  it('flags an allocation that finished before the release started', () => {
    const bad = findNonLinearizable([op('allocate', 'a', 0, 2), op('release', 'a', 5, 9)], new Set(['a']));
    expect(bad?.address).toBe('a');
  });
  it('flags two concurrent allocations of a free address', () => {
    expect(findNonLinearizable([op('allocate', 'b', 0, 5), op('allocate', 'b', 1, 6)], new Set())).not.toBeNull();
  });
  it('lets a failed release either take effect or not', () => {
    expect(findNonLinearizable([op('release', 'c', 0, 1, false), op('allocate', 'c', 2, 3)], new Set(['c']))).toBeNull();
  });
});
