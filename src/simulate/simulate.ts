/**
 * The library behind `cnmkit simulate`: run a scenario (file or generated)
 * on a fresh simulated daemon with the reference plugin or a plugin socket,
 * and for generated scenarios shrink a failure to a replay scenario.
 */
import type { Profile } from '../protocol/constants.js';
import { generateScenario, shrinkSteps } from './generate.js';
import { createHost } from './host.js';
import { runOnHost, type RunOptions, type RunResult } from './runner.js';
import type { Scenario, ScenarioStep } from './scenario.js';

export interface SimulateOptions {
  /** A plugin socket instead of the in-process reference plugin. */
  readonly socket?: string;
  /** Overrides the scenario's profile. */
  readonly profile?: Profile;
}

export async function simulate(scenario: Scenario, opts: SimulateOptions = {}, run: RunOptions = {}): Promise<RunResult> {
  const host = await createHost(scenario, opts);
  try {
    return await runOnHost(scenario, host, run);
  } finally {
    await host.close();
  }
}

export interface FuzzOptions extends SimulateOptions {
  readonly seed: number;
  readonly steps: number;
}

export interface FuzzResult {
  readonly scenario: Scenario;
  readonly result: RunResult;
  /** The shrunk failing scenario and its run, when an invariant broke. */
  readonly shrunk: { readonly scenario: Scenario; readonly result: RunResult; readonly runs: number } | null;
}

/** Generates the seed's scenario, runs it with invariants on, shrinks a violation. */
export async function fuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const scenario = generateScenario(opts.seed, opts.steps);
  const result = await simulate(scenario, opts, { invariants: true, allowErrors: true });
  if (result.violationAt === null) return { scenario, result, shrunk: null };
  const withSteps = (steps: readonly ScenarioStep[]): Scenario => ({ ...scenario, steps });
  let runs = 0;
  const stillFails = async (steps: readonly ScenarioStep[]): Promise<boolean> => {
    runs++;
    const r = await simulate(withSteps(steps), opts, { invariants: true, allowErrors: true });
    return r.violationAt !== null;
  };
  const cut = await shrinkSteps(scenario.steps.slice(0, result.violationAt), stillFails);
  const small: Scenario = {
    ...scenario,
    title: `Invariant violation found by seed ${opts.seed} (shrunk to ${cut.length} steps)`,
    explain: `Shrunk from ${opts.steps} generated steps (cnmkit simulate --seed ${opts.seed} --steps ${opts.steps}). Replay with: cnmkit simulate <this file>.`,
    steps: cut,
  };
  const smallResult = await simulate(small, opts, { invariants: true, allowErrors: true });
  return { scenario, result, shrunk: { scenario: small, result: smallResult, runs } };
}
