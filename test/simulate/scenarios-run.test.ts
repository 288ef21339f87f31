/**
 * Every scenario of fixtures/scenarios runs on the simulated daemon with the
 * reference plugin: each step fails exactly where the scenario says, the
 * expected final state holds, and the invariants hold after every step.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkExpect } from '../../src/simulate/runner.js';
import { loadScenario } from '../../src/simulate/scenario.js';
import { simulate } from '../../src/simulate/simulate.js';

const DIR = join(import.meta.dirname, '../../fixtures/scenarios');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

describe('scenarios on the reference plugin', () => {
  for (const f of files) {
    it(f, async () => {
      const scenario = loadScenario(join(DIR, f));
      const { trace, violationAt } = await simulate(scenario, {}, { invariants: true });
      expect(trace.problems).toEqual([]);
      expect(violationAt).toBeNull();
      expect(trace.steps).toHaveLength(scenario.steps.length + 1);
      // The expectations are really checked: the final state does not meet a changed one.
      const last = trace.steps[trace.steps.length - 1].state;
      const net = last.networks[0];
      expect(checkExpect({ networks: { [net.name]: { subnets: ['192.0.2.0/24'] } } }, last)).toHaveLength(1);
    });
  }

  it('a wrong expectation is reported', async () => {
    const s = loadScenario(join(DIR, '06-exhaust-29.yaml'));
    const { trace } = await simulate({ ...s, expect: { containers: { c7: { small: '192.168.77.6' } }, allocated: { small: 5 } } });
    expect(trace.problems).toEqual(['expect: container c7 on small: want 192.168.77.6, got 192.168.77.4', 'expect: network small: want 5 allocated addresses, got 6']);
  });

  it('an unexpected error and a missing error are reported', async () => {
    const s = loadScenario(join(DIR, '06-exhaust-29.yaml'));
    const steps = s.steps.map((st, i) => (i === 6 ? { action: st.action, line: st.line } : i === 1 ? { ...st, expectError: 'boom' } : st));
    const { trace } = await simulate({ ...s, steps, expect: {} });
    expect(trace.problems).toHaveLength(2);
    expect(trace.problems[0]).toMatch(/^step 2 \(docker run -d --name c1 .*\): expected an error containing "boom", but it succeeded$/);
    expect(trace.problems[1]).toMatch(/^step 7 .*: unexpected error: IpamDriver.RequestAddress: No available addresses on this pool$/);
  });
});
