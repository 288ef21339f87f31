/**
 * Model-based checks: each runs `fc.asyncModelRun` over generated command
 * sequences with its own invariant in focus, shrinks a failure to the
 * smallest sequence, and reports the calls of that final shrunk run.
 */
import fc from 'fast-check';
import { sizeOf } from '../cidr.js';
import { Violation } from '../errors.js';
import type { CallSummary, Capability, Check, CheckContext, Level } from '../types.js';
import { ipamCommands } from './commands/index.js';
import type { IpamModelId } from './ids.js';
import { newModel } from './model.js';
import { IpamSystem } from './system.js';

export interface ModelCheckSpec {
  readonly id: IpamModelId;
  readonly title: string;
  readonly level: Level;
  readonly reason: string;
  readonly requires?: readonly Capability[];
}

export function modelCheck(spec: ModelCheckSpec): Check {
  return {
    id: spec.id,
    title: spec.title,
    level: spec.level,
    reason: spec.reason,
    requires: ['ipam', ...(spec.requires ?? [])],
    run: (ctx) => runModel(ctx, spec.id),
  };
}

async function runModel(ctx: CheckContext, focus: string): Promise<void> {
  const probe = ctx.pools.next();
  const slots = [...probe.v4, ...(ctx.capabilities.has('ipv6') ? probe.v6 : [])];
  if (slots.length === 0) ctx.skip('no pool to test with (give an IPv4 --subnet)');
  if (focus.startsWith('ipam.ipv6') && !slots.some((s) => s.family === 6)) ctx.skip('no IPv6 pool to test with');
  const poolSize = Number(slots.reduce((max, s) => (sizeOf(s) > max ? sizeOf(s) : max), 0n) > 4096n ? 4096n : slots.reduce((max, s) => (sizeOf(s) > max ? sizeOf(s) : max), 0n));
  let last: { calls: CallSummary[]; steps: string[] } | null = null;
  const replay = ctx.config.replay;
  const transport = { broken: false };
  const property = fc.asyncProperty(
    ipamCommands({
      slots: slots.length,
      poolSize,
      maxCommands: ctx.config.maxCommands,
      ...(replay?.commandsReplayPath !== undefined ? { replayPath: replay.commandsReplayPath } : {}),
    }),
    async (cmds) => {
      if (transport.broken) return;
      const sys = new IpamSystem(ctx, ctx.pools.next(), focus, transport);
      try {
        await fc.asyncModelRun(() => ({ model: newModel(), real: sys }), cmds);
      } catch (e) {
        last = { calls: [...sys.calls], steps: [...sys.steps] };
        throw e;
      } finally {
        if (!transport.broken) await sys.cleanup();
      }
    },
  );
  // A slow but correct plugin gets fewer runs, not a budget failure: stop generating at 60% of the budget.
  const budget = ctx.check.budgetMs ?? ctx.config.checkBudgetMs;
  const details = await fc.check(property, {
    seed: ctx.seed,
    numRuns: replay ? 1 : ctx.config.runs,
    ...(replay?.path !== undefined ? { path: replay.path } : {}),
    interruptAfterTimeLimit: Math.floor(budget * 0.6),
  });
  if (details.interrupted && !details.failed) ctx.note(`time budget: stopped after ${details.numRuns} of ${ctx.config.runs} runs`);
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
