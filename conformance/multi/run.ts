/**
 * runInstances: check several targets as instances of one plugin on different
 * hosts. The selected single-instance suites run on the first target (every
 * instance runs the same plugin: checking each alone again would only repeat
 * the run), then the `multi` suite checks them together. One RunReport.
 */
import type { PluginCaller } from '../../src/client/types.js';
import { UsageError } from '../../src/errors.js';
import { type ConformanceConfig, defaultConfig } from '../config.js';
import { clientConnector, pluginRawSender } from '../connector.js';
import { hostHeaderFor } from '../raw.js';
import { restartByCommand } from '../restart.js';
import { type RunOptions, runSuites } from '../runner.js';
import { createTarget, type Target, type TargetSpec } from '../target.js';
import type { RunReport } from '../types.js';
import type { MultiPeer } from './instances.js';
import { multiSuite } from './index.js';

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

export async function runInstances(targets: readonly (Target | TargetSpec)[], configInput: Partial<ConformanceConfig> = {}, options: InstancesOptions = {}): Promise<RunReport> {
  if (targets.length < 2) throw new UsageError(`checking instances of one plugin needs at least two targets, got ${targets.length}`);
  const config = defaultConfig(configInput);
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
  const suites = [...(options.suites ?? (await import('../suites.js')).ALL_SUITES), multiSuite({ first: first.description, peers })];
  const firstCmd = options.restartCmds?.[0] ?? null;
  const firstRestart = options.restarts?.[0] ?? options.restart;
  try {
    const report = await runSuites(first, { ...config, ...(firstCmd !== null ? { restartCmd: [...firstCmd] } : {}) }, { ...options, suites, ...(firstRestart ? { restart: firstRestart } : {}) });
    return { ...report, target: resolved.map((t, i) => `${instanceLabel(i)}=${t.description}`).join(' + ') };
  } finally {
    for (const c of opened) await c.close().catch(() => {});
    for (const t of resolved.slice(1)) await t.close?.().catch(() => {});
  }
}
