/**
 * runInstances: check several targets as instances of one plugin on different
 * hosts. The selected single-instance suites run on the first target (every
 * instance runs the same plugin: checking each alone again would only repeat
 * the run), then the `multi` suite checks them together. One RunReport.
 */
import type { PluginCaller } from '../../src/client/types.js';
import { UsageError } from '../../src/errors.js';
import { type ConformanceConfig, defaultConfig, type ResolvedConfig } from '../config.js';
import { clientConnector, pluginRawSender } from '../connector.js';
import { hostHeaderFor } from '../raw.js';
import { restartByCommand } from '../restart.js';
import { replay, type ReplayOutcome } from '../replay.js';
import { readReplayFile, type ReplayFile } from '../replay-file.js';
import { type RunOptions, runSuites } from '../runner.js';
import { createTarget, type Target, type TargetSpec } from '../target.js';
import type { RunReport, Suite } from '../types.js';
import type { MultiPeer } from './instances.js';
import { MULTI_SUITE_ID, multiSuite } from './suite.js';

export interface InstancesOptions extends RunOptions {
  /** Per target (same positions): how the checker restarts it, or null. */
  readonly restarts?: readonly ((() => Promise<void>) | null)[];
  /** Per target: a restart command (argv, no shell); wins over `restarts`. The first one becomes `config.restartCmd`. */
  readonly restartCmds?: readonly (readonly string[] | null)[];
}

/** `A`, `B`, ... for the first 26 instances, then `#27`, ... */
export function instanceLabel(index: number): string {
  return index < 26 ? String.fromCharCode(65 + index) : `#${index + 1}`;
}

/** The read-only call a restarted IPAM must answer again before the checks go on. */
const READ_PATH = '/IpamDriver.GetDefaultAddressSpaces';

/** Several targets made ready: the first as the runner's target, the others as peers of the multi suite. */
interface OpenInstances {
  readonly first: Target;
  readonly suite: Suite;
  readonly description: string;
  close(): Promise<void>;
}

function openInstances(targets: readonly (Target | TargetSpec)[], config: ResolvedConfig, options: InstancesOptions): OpenInstances {
  if (targets.length < 2) throw new UsageError(`checking instances of one plugin needs at least two targets, got ${targets.length}`);
  const resolved = targets.map((t) => ('connect' in t && typeof t.connect === 'function' ? (t as Target) : createTarget(t as TargetSpec, options.connector ?? clientConnector, pluginRawSender)));
  const opened: PluginCaller[] = [];
  const peers: MultiPeer[] = resolved.slice(1).map((target, k) => {
    const raw = target.rawSender({ hostHeader: hostHeaderFor(config.profile), defaultTimeoutMs: config.timeoutMs });
    const cmd = options.restartCmds?.[k + 1] ?? null;
    const restart = cmd !== null ? restartByCommand(cmd, raw, READ_PATH) : (options.restarts?.[k + 1] ?? null);
    let conn: Promise<PluginCaller> | null = null;
    return {
      label: instanceLabel(k + 1),
      target,
      raw,
      restart,
      caller: () =>
        (conn ??= target.connect({ timeoutMs: config.timeoutMs, profile: config.profile }).then((c) => {
          opened.push(c);
          return c;
        })),
    };
  });
  const first = resolved[0]!;
  return {
    first,
    suite: multiSuite({ first: first.description, peers }),
    description: resolved.map((t, i) => `${instanceLabel(i)}=${t.description}`).join(' + '),
    async close() {
      for (const c of opened) await c.close().catch(() => {});
      for (const t of resolved.slice(1)) await t.close?.().catch(() => {});
    },
  };
}

export async function runInstances(targets: readonly (Target | TargetSpec)[], configInput: Partial<ConformanceConfig> = {}, options: InstancesOptions = {}): Promise<RunReport> {
  const config = defaultConfig(configInput);
  const inst = openInstances(targets, config, options);
  const suites = [...(options.suites ?? (await import('../suites.js')).ALL_SUITES), inst.suite];
  const firstCmd = options.restartCmds?.[0] ?? null;
  const firstRestart = options.restarts?.[0] ?? options.restart;
  try {
    const report = await runSuites(inst.first, { ...config, ...(firstCmd !== null ? { restartCmd: [...firstCmd] } : {}) }, { ...options, suites, ...(firstRestart ? { restart: firstRestart } : {}) });
    return { ...report, target: inst.description };
  } finally {
    await inst.close();
  }
}

/** `replay()` of a multi-suite failure: the same check, seed and fast-check path, against every instance again. */
export async function replayInstances(
  file: string | ReplayFile,
  targets: readonly (Target | TargetSpec)[],
  overrides: Partial<ConformanceConfig> = {},
  options: InstancesOptions = {},
): Promise<ReplayOutcome> {
  const f = typeof file === 'string' ? await readReplayFile(file) : file;
  if (f.suite !== MULTI_SUITE_ID) throw new UsageError(`${f.check} is not a check of the multi suite: replay it against one target`);
  const inst = openInstances(targets, defaultConfig({ timeoutMs: f.config.timeoutMs, profile: f.config.profile === 'moby' ? 'moby' : 'docker-20.10', ...overrides }), options);
  try {
    const outcome = await replay(f, inst.first, overrides, { ...options, suites: [inst.suite] });
    return { ...outcome, report: { ...outcome.report, target: inst.description } };
  } finally {
    await inst.close();
  }
}
