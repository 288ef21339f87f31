/**
 * Model-based checks: each runs `fc.asyncModelRun` over generated command
 * sequences with its own invariant in focus, shrinks a failure to the
 * smallest sequence, and reports the calls of that final shrunk run.
 *
 * Before generating, one RequestPool finds out how the plugin takes pools: an
 * explicit --subnet (the normal mode), or only automatic pools (the model then
 * requests Pool "" and works with what it gets), or neither (skipped with the
 * plugin's reason: --subnet or --ipam-opt may be missing). A check whose
 * invariant no run ever evaluated (no pool granted, no address handed out...)
 * is skipped with the reason, not passed.
 */
import fc from 'fast-check';
import { formatCidr, sizeOf } from '../cidr.js';
import { runModelCheck } from '../model-run.js';
import type { Capability, Check, CheckContext, Level } from '../types.js';
import { ipamCommands } from './commands/index.js';
import { IpamIds, type IpamModelId } from './ids.js';
import { poolRequest } from './helpers.js';
import { newModel } from './model.js';
import { IpamSystem, type Tally } from './system.js';

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

/** How the plugin takes pools: explicit (`--subnet`), automatic only, or (skips) neither. */
async function poolMode(ctx: CheckContext, first: Parameters<typeof poolRequest>[1]): Promise<'explicit' | 'auto'> {
  const t = { timeoutMs: ctx.config.timeoutMs };
  const explicit = await ctx.caller.tryCall('RequestPool', poolRequest(ctx, first), t);
  if (explicit.ok) {
    await ctx.caller.tryCall('ReleasePool', { PoolID: explicit.value.PoolID }, t);
    return 'explicit';
  }
  const auto = await ctx.caller.tryCall('RequestPool', poolRequest(ctx, null), t);
  if (auto.ok) {
    await ctx.caller.tryCall('ReleasePool', { PoolID: auto.value.PoolID }, t);
    ctx.note(`RequestPool ${first ? formatCidr(first) : ''} refused (${explicit.error.message}): checked in automatic-pool mode (Pool "")`);
    return 'auto';
  }
  const opts = Object.keys(ctx.config.ipamOpts).length > 0 ? `--ipam-opt ${JSON.stringify(ctx.config.ipamOpts)}` : 'no --ipam-opt';
  return ctx.skip(
    `the plugin grants no pool: RequestPool ${first ? formatCidr(first) : ''} refused (${explicit.error.message}) and an automatic one too (${auto.error.message}); ` +
      `give the subnets it serves with --subnet, or the options it needs with --ipam-opt (${opts} given)`,
  );
}

async function runModel(ctx: CheckContext, focus: IpamModelId): Promise<void> {
  const probe = ctx.pools.next();
  const slots = [...probe.v4, ...(ctx.capabilities.has('ipv6') ? probe.v6 : [])];
  if (slots.length === 0) ctx.skip('no pool to test with (give an IPv4 --subnet)');
  if (focus.startsWith('ipam.ipv6') && !slots.some((s) => s.family === 6)) ctx.skip('no IPv6 pool to test with');
  const mode = await poolMode(ctx, slots[0]!);
  const largest = slots.reduce((max, s) => (sizeOf(s) > max ? sizeOf(s) : max), 0n);
  const poolSize = Number(largest > 4096n ? 4096n : largest);
  const replay = ctx.config.replay;
  const transport = { broken: false };
  const tally: Tally = new Map();
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
    newSystem: (timeUp) => new IpamSystem(ctx, ctx.pools.next(), focus, transport, timeUp, ctx.caller, tally),
    execute: (sys, cmds) => fc.asyncModelRun(() => ({ model: newModel(mode === 'auto'), real: sys }), cmds),
  });
  if (!replay && (tally.get(focus) ?? 0) === 0) ctx.skip(`nothing to judge: ${UNCHECKED[focus]} in ${ctx.config.runs} runs`);
}
