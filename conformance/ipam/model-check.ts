/**
 * Model-based checks: each runs `fc.asyncModelRun` over generated command
 * sequences with its own invariant in focus, shrinks a failure to the
 * smallest sequence, and reports the calls of that final shrunk run.
 */
import fc from 'fast-check';
import { sizeOf } from '../cidr.js';
import { runModelCheck } from '../model-run.js';
import type { Capability, Check, CheckContext, Level } from '../types.js';
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
  const largest = slots.reduce((max, s) => (sizeOf(s) > max ? sizeOf(s) : max), 0n);
  const poolSize = Number(largest > 4096n ? 4096n : largest);
  const replay = ctx.config.replay;
  const transport = { broken: false };
  await runModelCheck(ctx, {
    commands: ipamCommands({
      slots: slots.length,
      poolSize,
      maxCommands: ctx.config.maxCommands,
      ...(replay?.commandsReplayPath !== undefined ? { replayPath: replay.commandsReplayPath } : {}),
    }),
    runs: ctx.config.runs,
    transport,
    // IPAM executions are short: generate for 60% of the budget.
    generateShare: 0.6,
    newSystem: (timeUp) => new IpamSystem(ctx, ctx.pools.next(), focus, transport, timeUp),
    execute: (sys, cmds) => fc.asyncModelRun(() => ({ model: newModel(), real: sys }), cmds),
  });
}
