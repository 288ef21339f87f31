/**
 * Model-based checks: each runs `fc.asyncModelRun` over generated command
 * sequences with its own invariant in focus, shrinks a failure to the
 * smallest sequence, and reports the calls of that final shrunk run.
 *
 * The model first requests explicit pools (--subnet). A plugin that grants none
 * may serve only automatic pools: the model then runs again requesting Pool ""
 * and works with what it gets, or, when automatic pools are refused too, the
 * check is skipped with the plugin's reasons (--subnet or --ipam-opt may be
 * missing). A check whose
 * invariant no run ever evaluated (no pool granted, no address handed out...)
 * is skipped with the reason, not passed.
 */
import fc from 'fast-check';
import { sizeOf } from '../cidr.js';
import { runModelCheck } from '../model-run.js';
import type { Capability, Check, CheckContext, Level } from '../types.js';
import { ipamCommands } from './commands/index.js';
import { IpamIds, type IpamModelId } from './ids.js';
import { poolRequest } from './helpers.js';
import { newModel } from './model.js';
import { IpamSystem, type RunShared, newRunShared } from './system.js';

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

/** What "nothing was checked" means for each invariant. */
const UNCHECKED: Record<IpamModelId, string> = {
  [IpamIds.requestPool]: 'no RequestPool was answered',
  [IpamIds.noDuplicate]: 'no address was handed out',
  [IpamIds.inPool]: 'no address was handed out',
  [IpamIds.cidrReply]: 'no address was handed out',
  [IpamIds.prefixLength]: 'no address inside its pool was handed out',
  [IpamIds.inSubPool]: 'no automatic address was handed out from a pool with a sub-pool (SubPool refused, or --ip-range not tested)',
  [IpamIds.noNetworkBroadcast]: 'no IPv4 address was handed out',
  [IpamIds.v6Anycast]: 'no IPv6 address was handed out',
  [IpamIds.preferred]: 'no preferred address was asked for (automatic-pool mode: dockerd sends --ip only with --subnet)',
  [IpamIds.releasedAddress]: 'no allocated address was released',
  [IpamIds.releasedPool]: 'no pool was released',
  [IpamIds.overlap]: 'no overlapping pool was asked for (automatic-pool mode: dockerd checks --subnet only)',
  [IpamIds.exhaustionError]: 'no pool was filled (pools too large, or the pool state was unknown)',
  [IpamIds.exhaustionCount]: 'no pool was filled or refused an address with a known free count',
  [IpamIds.gateway]: 'no gateway was requested (every pool carried a gateway in its Data, as Calico does)',
};

/**
 * After an explicit-mode run in which the plugin granted no explicit pool: try
 * one automatic RequestPool. Granted: the model runs again in automatic-pool
 * mode. Refused too: the check is skipped with both reasons.
 */
async function automaticFallback(ctx: CheckContext, explicitRefusal: string): Promise<void> {
  const t = { timeoutMs: ctx.config.timeoutMs };
  const auto = await ctx.caller.tryCall('RequestPool', poolRequest(ctx, null), t);
  if (auto.ok) {
    await ctx.caller.tryCall('ReleasePool', { PoolID: auto.value.PoolID }, t);
    ctx.note(`${explicitRefusal}: checked in automatic-pool mode (Pool "", as docker network create without --subnet)`);
    return;
  }
  const opts = Object.keys(ctx.config.ipamOpts).length > 0 ? `--ipam-opt ${JSON.stringify(ctx.config.ipamOpts)}` : 'no --ipam-opt';
  ctx.skip(
    `the plugin grants no pool: ${explicitRefusal}, and an automatic one too (${auto.error.message}); ` +
      `give the subnets it serves with --subnet, or the options it needs with --ipam-opt (${opts} given)`,
  );
}

async function runModel(ctx: CheckContext, focus: IpamModelId): Promise<void> {
  const probe = ctx.pools.next();
  const slots = [...probe.v4, ...(ctx.capabilities.has('ipv6') ? probe.v6 : [])];
  if (slots.length === 0) ctx.skip('no pool to test with (give an IPv4 --subnet)');
  if (focus.startsWith('ipam.ipv6') && !slots.some((s) => s.family === 6)) ctx.skip('no IPv6 pool to test with');
  const largest = slots.reduce((max, s) => (sizeOf(s) > max ? sizeOf(s) : max), 0n);
  const poolSize = Number(largest > 4096n ? 4096n : largest);
  const replay = ctx.config.replay;
  const run = async (auto: boolean): Promise<RunShared> => {
    const transport = { broken: false };
    const shared = newRunShared();
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
      newSystem: (timeUp) => new IpamSystem(ctx, ctx.pools.next(), focus, transport, timeUp, ctx.caller, shared),
      execute: (sys, cmds) => fc.asyncModelRun(() => ({ model: newModel(auto), real: sys }), cmds),
    });
    return shared;
  };
  let shared = await run(false);
  if (!shared.explicitGranted && shared.explicitRefusal !== null) {
    await automaticFallback(ctx, shared.explicitRefusal);
    shared = await run(true);
  }
  if (!replay && (shared.tally.get(focus) ?? 0) === 0) ctx.skip(`nothing to judge: ${UNCHECKED[focus]} in ${ctx.config.runs} runs`);
}
