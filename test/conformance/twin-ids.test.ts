import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sharingExactly } from '../../conformance/driver/system.js';

const hexId = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });
const common = (a: string, b: string): number => {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
};

describe('twin endpoint ids', () => {
  it('share exactly k characters with the original, never k+1 by chance', () => {
    fc.assert(
      fc.property(hexId, hexId, fc.integer({ min: 1, max: 63 }), (id, fresh, k) => {
        const twin = sharingExactly(id, fresh, k);
        expect(twin).toHaveLength(64);
        expect(twin).toMatch(/^[0-9a-f]{64}$/);
        expect(common(id, twin)).toBe(k);
        expect(twin.slice(k + 1)).toBe(fresh.slice(k + 1));
      }),
    );
  });

  it('changes the character after the shared part only when the fresh id repeats it', () => {
    const id = '05ef36cfb613fd26' + 'a'.repeat(48);
    // The 12th characters differ already (3 and 1): kept.
    expect(sharingExactly(id, '1111111111111111' + 'b'.repeat(48), 11)).toBe('05ef36cfb61' + '11111' + 'b'.repeat(48));
    // Both are 3: the twin's becomes 0.
    expect(sharingExactly(id, '11111111111311' + 'b'.repeat(50), 11)).toBe('05ef36cfb61' + '0' + '11' + 'b'.repeat(50));
  });
});
