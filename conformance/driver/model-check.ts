/**
 * Model-based driver checks: each runs `fc.asyncModelRun` over generated
 * lifecycles (networks, endpoints, join/leave, unknown ids) with its own rule
 * in focus, shrinks a failure to the smallest sequence and reports the calls
 * of that final shrunk run, with seed, path and replayPath (as ipam/ does).
 */
import fc from 'fast-check';
import { runModelCheck } from '../model-run.js';
import type { Capability, Check, CheckContext, Level } from '../types.js';
import { driverCommands } from './commands/index.js';
import { CreateNetworkCommand } from './commands/network.js';
import { CreateEndpointCommand, DeleteEndpointCommand, RecreateEndpointCommand, ReplaceEndpointCommand } from './commands/endpoint.js';
import { JoinCommand, TwinRunCommand } from './commands/join.js';
import { DriverIds, type DriverModelId } from './ids.js';
import { requireDesign } from './addressing.js';
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
  const started = performance.now();
  const probe = ctx.pools.next();
  if (probe.v4.length === 0) ctx.skip('no IPv4 pool to test with (give an IPv4 --subnet)');
  // Where addresses come from and whether links are routed: probed once, before any run.
  const design = await requireDesign(ctx);
  if (focus === DriverIds.endpointAddress && design.mode !== 'null') ctx.skip(`the driver gets its addresses from ${design.mode === 'plugin' ? "the plugin's own IPAM" : "Docker's default IPAM"}: it supplies none to judge (only with the null IPAM, --ipam-driver null)`);
  const replay = ctx.config.replay;
  const transport = { broken: false };
  const ids = new IdSource(ctx.seed);
  // The model runs plan with what the design probe left of the budget (a slow driver: fewer runs, not an overrun).
  const left = Math.max(1, Math.round((ctx.check.budgetMs ?? ctx.config.checkBudgetMs) - (performance.now() - started)));
  const planned: CheckContext = Object.create(ctx, { check: { value: { ...ctx.check, budgetMs: left } } }) as CheckContext;
  await runModelCheck(planned, {
    commands: driverCommands({
      slots: probe.v4.length,
      maxCommands: ctx.config.maxCommands,
      ...(replay?.commandsReplayPath !== undefined ? { replayPath: replay.commandsReplayPath } : {}),
    }),
    runs: driverRuns(ctx.config.runs),
    transport,
    // Pinned, as random runs reach them only on some seeds (2 in 100 for the churn ones):
    // endpoint ids sharing 5 / 7 characters with a joined one; a container replaced
    // while another runs (what is derived from the live count comes back); an endpoint
    // created again after its delete (what the delete kept refuses it).
    examples: [
      ...([5, 7] as const).map((k) => [new CreateEndpointCommand(0, 'plain'), new JoinCommand(0), new TwinRunCommand(0, k)]),
      [new CreateEndpointCommand(0, 'plain'), new CreateEndpointCommand(0, 'plain'), new ReplaceEndpointCommand(0)],
      [new CreateEndpointCommand(0, 'plain'), new DeleteEndpointCommand(0), new RecreateEndpointCommand(0)],
    ],
    newSystem: (timeUp) => new DriverSystem(ctx, ctx.pools.next(), focus, ids, transport, timeUp, ctx.caller, design),
    // Every run starts with one network (docker network create): most commands need one.
    execute: (sys, cmds) =>
      fc.asyncModelRun(async () => {
        const model = newDriverModel();
        await new CreateNetworkCommand(0).run(model, sys);
        return { model, real: sys };
      }, cmds),
  });
}
