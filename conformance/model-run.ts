/**
 * The one way model-based checks run: generate command sequences, execute each
 * against a fresh system with the check's invariant in focus, shrink a failure
 * to the smallest sequence, and report the calls of that final shrunk run with
 * seed, fast-check path and the commands' replayPath.
 *
 * Time: a slow but correct plugin gets fewer runs, not a budget failure. Runs
 * that start after `generateShare` of the budget pass without calling the
 * plugin, and shrinking stops at `shrinkShare`, reporting the smallest failure
 * so far. (fast-check's own time limits either abandon a run that keeps calling
 * the plugin during the next check, or count skipped runs as a failure.)
 */
import fc from 'fast-check';
import { Violation } from './errors.js';
import type { CallSummary, CheckContext } from './types.js';

/** What one execution leaves behind for the report. */
export interface ModelSystem {
  readonly calls: readonly CallSummary[];
  readonly steps: readonly string[];
  /** What cleanup will have to release (one call each). */
  readonly resources: { readonly size: number };
  cleanup(): Promise<void>;
}

/**
 * Thrown by a system's call path once the check's time is up (`timeUp()`): the
 * execution stops where it is and counts as passed, not as a violation.
 */
export class OutOfTime extends Error {
  constructor() {
    super('model check time budget spent');
  }
}

export interface ModelRunOptions<C, S extends ModelSystem> {
  /** Generated command sequences (built with the replayPath of `ctx.config.replay` when replaying). */
  readonly commands: fc.Arbitrary<C>;
  readonly runs: number;
  /** Shared with the systems: set when the plugin stopped answering (no more executions, no shrinking). */
  readonly transport: { broken: boolean };
  /** A fresh system for one execution; it throws `OutOfTime` before a call once `timeUp()` is true. */
  newSystem(timeUp: () => boolean): S;
  /** Executes the commands on the system (normally `fc.asyncModelRun`); throws on a violation. */
  execute(system: S, commands: C): Promise<void>;
  readonly generateShare?: number;
  readonly shrinkShare?: number;
  /**
   * Sequences that always run first (fast-check `examples`): tricky cases random
   * generation reaches only on some seeds are pinned, so every seed sees them.
   */
  readonly examples?: readonly C[];
}

export async function runModelCheck<C, S extends ModelSystem>(ctx: CheckContext, o: ModelRunOptions<C, S>): Promise<void> {
  const budget = ctx.check.budgetMs ?? ctx.config.checkBudgetMs;
  const started = performance.now();
  const deadline = started + budget * (o.generateShare ?? 0.5);
  const shrinkDeadline = started + budget * (o.shrinkShare ?? 0.85);
  const replay = ctx.config.replay;
  let last: { calls: CallSummary[]; steps: string[] } | null = null;
  let executed = 0;
  let cut = false;
  let current: S | null = null;
  // Stop before the next call when it and the cleanup of what is held would no
  // longer fit (calls are assumed to take as long as the slowest one so far).
  const timeUp = (): boolean => {
    const now = performance.now();
    if (now > shrinkDeadline) return true;
    if (current === null || current.calls.length === 0) return false;
    let slowest = 0;
    for (const c of current.calls) if (c.durationMs > slowest) slowest = c.durationMs;
    return now + slowest * (current.resources.size + 2) > started + budget * 0.95;
  };
  const property = fc.asyncProperty(o.commands, async (cmds) => {
    if (o.transport.broken) return;
    if (performance.now() > (last === null ? deadline : shrinkDeadline)) return;
    executed++;
    const sys = o.newSystem(timeUp);
    current = sys;
    try {
      await o.execute(sys, cmds);
    } catch (e) {
      if (e instanceof OutOfTime) {
        cut = true;
        return;
      }
      last = { calls: [...sys.calls], steps: [...sys.steps] };
      throw e;
    } finally {
      if (!o.transport.broken) await sys.cleanup();
    }
  });
  const details = await fc.check(property, {
    seed: ctx.seed,
    numRuns: replay ? 1 : o.runs,
    // Also when replaying: the recorded path counts the examples.
    examples: (o.examples ?? []).map((e): [C] => [e]),
    ...(replay?.path !== undefined ? { path: replay.path } : {}),
  });
  if (!details.failed && (executed < o.runs || cut) && !replay) ctx.note(`time budget: stopped after ${executed} of ${o.runs} runs`);
  if (!details.failed) return;
  const err = details.errorInstance;
  const message = err instanceof Violation ? err.message : `model run failed: ${err instanceof Error ? err.message : String(err)}`;
  const failure = last as { calls: CallSummary[]; steps: string[] } | null;
  // fc.commands prints `/*replayPath="..."*/`: with seed and path it replays the shrunk run exactly.
  const commandsReplayPath = /replayPath="([^"]*)"/.exec(String(details.counterexample?.[0] ?? ''))?.[1];
  ctx.fail(message, {
    steps: failure?.steps ?? [],
    calls: failure?.calls ?? [],
    seed: details.seed,
    ...(details.counterexamplePath !== null ? { path: details.counterexamplePath } : {}),
    ...(commandsReplayPath !== undefined ? { commandsReplayPath } : {}),
  });
}
