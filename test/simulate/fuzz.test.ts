/** Seeded fuzzing of the reference: random scenarios keep every invariant; runs are reproducible. */
import { describe, expect, it } from 'vitest';
import { fuzz } from '../../src/simulate/simulate.js';

describe('fuzz on the reference plugin', () => {
  it('20 seeds x 40 steps: no invariant breaks', async () => {
    for (let seed = 100; seed < 120; seed++) {
      const r = await fuzz({ seed, steps: 40 });
      expect(r.result.trace.problems, `seed ${seed}`).toEqual([]);
      expect(r.shrunk).toBeNull();
      // The generated steps really do things: pools get allocated along the way.
      expect(r.result.trace.steps.some((s) => s.state.pools.length > 0)).toBe(true);
    }
  });

  it('the same seed gives the same trace', async () => {
    const a = await fuzz({ seed: 7, steps: 30 });
    const b = await fuzz({ seed: 7, steps: 30 });
    expect(JSON.stringify(b.result.trace)).toBe(JSON.stringify(a.result.trace));
  });
});
