/**
 * `cnmkit simulate --seeds A..B --steps K [--shard i/n]`: one fuzz run per seed
 * (the generated scenario with every invariant on, a violation shrunk and
 * written as a replay scenario), each reported as a run with one check,
 * `simulate.invariants`, so shard reports and merged campaigns read like
 * `cnmkit check`'s.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Profile } from '../src/protocol/constants.js';
import { fuzz } from '../src/simulate/simulate.js';
import type { Trace } from '../src/simulate/trace.js';
import { scenarioToYaml } from '../src/simulate/write.js';
import type { CallSummary, CheckResult, RunReport } from './types.js';

export interface SimulateSeedOptions {
  readonly steps: number;
  readonly socket?: string;
  readonly profile?: Profile;
  /** Where the shrunk replay scenario of a failing seed goes (`simulate-<seed>.yaml`). */
  readonly replayDir: string;
}

/** The daemon calls of the shrunk run's last step (where the invariant broke), as report calls. */
function lastCalls(trace: Trace): CallSummary[] {
  const last = trace.steps[trace.steps.length - 1];
  return (last?.calls ?? []).slice(-12).map((c) => ({
    path: c.path,
    request: typeof c.request === 'string' ? c.request : JSON.stringify(c.request),
    ...(c.reply !== null ? { response: typeof c.reply === 'string' ? c.reply : JSON.stringify(c.reply) } : {}),
    outcome: c.outcome,
    durationMs: 0,
  }));
}

export async function simulateSeed(seed: number, o: SimulateSeedOptions): Promise<RunReport> {
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const r = await fuzz({ seed, steps: o.steps, ...(o.socket !== undefined ? { socket: o.socket } : {}), ...(o.profile !== undefined ? { profile: o.profile } : {}) });
  let replayPath: string | undefined;
  let failure: Pick<CheckResult, 'message' | 'counterexample'> | null = null;
  if (r.shrunk !== null) {
    await mkdir(o.replayDir, { recursive: true });
    replayPath = resolve(join(o.replayDir, `simulate-${seed >>> 0}.yaml`));
    const header = `Replay file written by cnmkit simulate --seed ${seed} --steps ${o.steps}\n${r.result.trace.problems.join('\n')}`;
    await writeFile(replayPath, scenarioToYaml(r.shrunk.scenario, header));
    const trace = r.shrunk.result.trace;
    failure = {
      message: `invariant violated at step ${r.result.violationAt} of ${o.steps}: ${r.result.trace.problems.join('; ')} (shrunk to ${r.shrunk.scenario.steps.length} steps in ${r.shrunk.runs} runs; replay: cnmkit simulate ${replayPath})`,
      counterexample: { steps: trace.steps.slice(1).map((s) => `${s.action}${s.error !== null ? ` -> error: ${s.error}` : ''}`), calls: lastCalls(trace), seed },
    };
  }
  const calls = r.result.trace.steps.reduce((t, s) => t + s.calls.length, 0);
  const durationMs = Math.round(performance.now() - started);
  const check: CheckResult = {
    suite: 'simulate',
    id: 'simulate.invariants',
    title: `A generated scenario of ${o.steps} steps keeps every invariant of the daemon simulator`,
    level: 'must',
    reason:
      "docs/simulate.md (Fuzzing): after every step of the generated scenario the virtual backend's own invariants hold, no address is held twice on a network, every address lies inside its pool, and the IPAM's allocations equal what networks and containers hold plus the daemon's documented leaks.",
    status: failure === null ? 'passed' : 'failed',
    message: failure?.message ?? '',
    notes: [],
    ...(failure?.counterexample !== undefined ? { counterexample: failure.counterexample } : {}),
    seed,
    ...(replayPath !== undefined ? { replayPath } : {}),
    calls,
    durationMs,
  };
  const seconds = durationMs / 1000;
  return {
    target: o.socket !== undefined ? `unix://${o.socket}` : 'reference',
    level: 'must',
    seed,
    profile: o.profile ?? 'docker-20.10',
    capabilities: [],
    pluginKind: 'v1',
    startedAt,
    summary: {
      passed: failure === null ? 1 : 0,
      failed: failure === null ? 0 : 1,
      skipped: 0,
      notRun: 0,
      failing: failure === null ? 0 : 1,
      calls,
      seconds,
      callsPerSecond: seconds > 0 ? Math.round(calls / seconds) : 0,
    },
    checks: [check],
    deaths: [],
    leaks: [],
  };
}
