/**
 * Model-based driver checks: each runs `fc.asyncModelRun` over generated
 * lifecycles (networks, endpoints, join/leave, unknown ids) with its own rule
 * in focus, shrinks a failure to the smallest sequence and reports the calls
 * of that final shrunk run, with seed, path and replayPath (as ipam/ does).
 */
import fc from 'fast-check';
import { Violation } from '../errors.js';
import type { CallSummary, Capability, Check, CheckContext, Level } from '../types.js';
import { driverCommands } from './commands/index.js';
import { CreateNetworkCommand } from './commands/network.js';
import type { DriverModelId } from './ids.js';
import { newDriverModel } from './model.js';
import { DriverSystem, IdSource } from './system.js';

export interface DriverModelCheckSpec {
  readonly id: DriverModelId;
  readonly title: string;
  readonly level: Level;
  readonly reason: string;
  readonly requires?: readonly Capability[];
}

/** Driver lifecycles are longer than IPAM calls: half of `--runs` keeps the suite within its time budget. */
export function driverRuns(runs: number): number {
  return Math.max(1, Math.ceil(runs / 2));
}

export function driverModelCheck(spec: DriverModelCheckSpec): Check {
  return {
    id: spec.id,
    title: spec.title,
    level: spec.level,
    reason: spec.reason,
    requires: ['driver', ...(spec.requires ?? [])],
    run: (ctx) => runDriverModel(ctx, spec.id),
  };
}

async function runDriverModel(ctx: CheckContext, focus: string): Promise<void> {
  const probe = ctx.pools.next();
  if (probe.v4.length === 0) ctx.skip('no IPv4 pool to test with (give an IPv4 --subnet)');
  let last: { calls: CallSummary[]; steps: string[] } | null = null;
  const replay = ctx.config.replay;
  const transport = { broken: false };
  const ids = new IdSource(ctx.seed);
  // A slow but correct plugin gets fewer runs, not a budget failure: runs starting after half the budget pass
  // without calling the plugin (fast-check's own time limits either abandon a run that keeps calling the
  // plugin during the next check, or count skipped runs as a failure).
  const budget = ctx.check.budgetMs ?? ctx.config.checkBudgetMs;
  const deadline = performance.now() + budget * 0.5;
  const shrinkDeadline = performance.now() + budget * 0.85;
  let executed = 0;
  const property = fc.asyncProperty(
    driverCommands({
      slots: probe.v4.length,
      maxCommands: ctx.config.maxCommands,
      ...(replay?.commandsReplayPath !== undefined ? { replayPath: replay.commandsReplayPath } : {}),
    }),
    async (cmds) => {
      if (transport.broken) return;
      // While shrinking, stop near the end of the budget: the smallest failure so far is reported.
      if (performance.now() > (last === null ? deadline : shrinkDeadline)) return;
      executed++;
      const sys = new DriverSystem(ctx, ctx.pools.next(), focus, ids, transport);
      try {
        // Every run starts with one network (docker network create): most commands need one.
        await fc.asyncModelRun(async () => {
          const model = newDriverModel();
          await new CreateNetworkCommand(0).run(model, sys);
          return { model, real: sys };
        }, cmds);
      } catch (e) {
        last = { calls: [...sys.calls], steps: [...sys.steps] };
        throw e;
      } finally {
        if (!transport.broken) await sys.cleanup();
      }
    },
  );
  const runs = driverRuns(ctx.config.runs);
  const details = await fc.check(property, {
    seed: ctx.seed,
    numRuns: replay ? 1 : runs,
    ...(replay?.path !== undefined ? { path: replay.path } : {}),
  });
  if (!details.failed && executed < runs && !replay) ctx.note(`time budget: stopped after ${executed} of ${runs} runs`);
  if (!details.failed) return;
  const err = details.errorInstance;
  const message = err instanceof Violation ? err.message : `model run failed: ${err instanceof Error ? err.message : String(err)}`;
  const failure = last as { calls: CallSummary[]; steps: string[] } | null;
  const commandsReplayPath = /replayPath="([^"]*)"/.exec(String(details.counterexample?.[0] ?? ''))?.[1];
  ctx.fail(message, {
    steps: failure?.steps ?? [],
    calls: failure?.calls ?? [],
    seed: details.seed,
    ...(details.counterexamplePath !== null ? { path: details.counterexamplePath } : {}),
    ...(commandsReplayPath !== undefined ? { commandsReplayPath } : {}),
  });
}
