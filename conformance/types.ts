/**
 * The conformance framework's vocabulary. Suites are plain values (no global
 * registry): a Suite is a list of Checks, and runSuites() runs any list of
 * suites against one target with one config.
 */
import type { CallRecord, PluginCaller } from '../src/client/types.js';
import type { ResolvedConfig } from './config.js';
import type { PoolPlan } from './pools.js';
import type { RawSender } from './raw.js';
import type { Resources } from './resources.js';

/** must: breaks dockerd or loses data; should: robustness dockerd relies on; compat: like Docker's own drivers. */
export type Level = 'must' | 'should' | 'compat';
export const LEVELS: readonly Level[] = ['must', 'should', 'compat'];

/** True when a check of `level` fails the run at `threshold`. */
export function levelFails(level: Level, threshold: Level): boolean {
  return LEVELS.indexOf(level) <= LEVELS.indexOf(threshold);
}

/** What a plugin can take; checks list what they need and are skipped otherwise. */
export type Capability = 'ipam' | 'driver' | 'ipv6' | 'linux' | 'auto-pool' | 'sub-pool';

export interface Check {
  /** Stable id, `<suite>.<kebab-name>`; never reused for another meaning. */
  readonly id: string;
  readonly title: string;
  readonly level: Level;
  /** Why it matters, citing the rule (protocol.md / ipam-semantics.md section). */
  readonly reason: string;
  readonly requires: readonly Capability[];
  /** Override of the per-check time budget (ms). */
  readonly budgetMs?: number;
  /**
   * Sends input dockerd never sends (malformed, oversize, truncated): runs after every
   * other check, so a plugin that dies on bad input cannot hide the model checks.
   */
  readonly hostile?: boolean;
  run(ctx: CheckContext): Promise<void>;
}

export interface Suite {
  readonly id: string;
  readonly title: string;
  readonly checks: readonly Check[];
}

export interface AddressSpaces {
  readonly local: string;
  readonly global: string;
}

/** v1 (legacy) plugins get Plugin.Activate; managed (v2) plugins never do (protocol.md §1.7). */
export type PluginKind = 'v1' | 'managed';

/** Per-check state handed to Check.run. */
export interface CheckContext {
  readonly check: Check;
  /** The shared connection (every call is recorded for this check). */
  readonly caller: PluginCaller;
  /** A fresh extra connection (for concurrency checks); closed when the check ends. */
  connect(): Promise<PluginCaller>;
  /** Byte-level exchanges for malformed / hostile requests. */
  readonly raw: RawSender;
  readonly config: ResolvedConfig;
  readonly capabilities: ReadonlySet<Capability>;
  /** From GetDefaultAddressSpaces (IPAM plugins), else LocalDefault/GlobalDefault. */
  readonly addressSpaces: AddressSpaces;
  /** Every pool / address / network / endpoint created here; cleaned up LIFO after the check. */
  readonly resources: Resources;
  readonly pools: PoolPlan;
  /** Seed for this check (config seed mixed with the check id). */
  readonly seed: number;
  /** Aborted when the check's time budget is spent. */
  readonly signal: AbortSignal;
  /** Calls recorded so far in this check, oldest first. */
  readonly records: readonly CallRecord[];
  /** Worked out from the handshake (or `config.pluginKind`). */
  readonly pluginKind: PluginKind;
  /**
   * Restart the plugin (SIGKILL where the checker owns the process) and wait until it
   * answers again; null when the checker cannot restart this target. The runner does not
   * count the restart's transport errors as the plugin dying.
   */
  readonly restartPlugin: (() => Promise<void>) | null;
  /** Non-failing observation (accepted variant, compat difference). */
  note(message: string): void;
  /** Stop the check as skipped. */
  skip(reason: string): never;
  /** Stop the check as failed; the calls recorded so far become the counterexample unless given. */
  fail(message: string, counterexample?: Partial<Counterexample>): never;
}

/** One call as shown in reports and replay files. */
export interface CallSummary {
  readonly path: string;
  readonly request: string;
  readonly status?: number;
  readonly response?: string;
  readonly outcome: CallRecord['outcome'] | 'raw';
  readonly durationMs: number;
}

export interface Counterexample {
  /** The (shrunk) steps in words, e.g. fast-check command list. */
  readonly steps: readonly string[];
  /** The calls actually made by the final (shrunk) run. */
  readonly calls: readonly CallSummary[];
  readonly seed?: number;
  /** fast-check counterexample path (with seed, replays exactly the shrunk case). */
  readonly path?: string;
  /** fast-check `fc.commands` replayPath (which generated commands ran), needed with `path`. */
  readonly commandsReplayPath?: string;
  /** Ready shell lines (curl --unix-socket ...). */
  readonly reproducer?: string;
}

/** `not-run`: the plugin died (or stopped answering) earlier and could not be restarted, or --bail. */
export type CheckStatus = 'passed' | 'failed' | 'skipped' | 'not-run';

export interface CheckResult {
  readonly suite: string;
  readonly id: string;
  readonly title: string;
  readonly level: Level;
  readonly reason: string;
  readonly status: CheckStatus;
  /** Failure or skip reason; empty for passes. */
  readonly message: string;
  readonly notes: readonly string[];
  readonly counterexample?: Counterexample;
  readonly seed: number;
  /** Replay file written for this failure. */
  readonly replayPath?: string;
  readonly calls: number;
  readonly durationMs: number;
}

export interface Leak {
  readonly kind: string;
  /** e.g. pool id or `poolId address`. */
  readonly id: string;
  /** Check that created it. */
  readonly check: string;
  readonly detail: string;
}

export interface RunSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly notRun: number;
  /** Failed checks at or above the threshold level. */
  readonly failing: number;
  readonly calls: number;
  readonly seconds: number;
  readonly callsPerSecond: number;
}

/** The plugin stopped answering during a check (crash or hang). */
export interface PluginDeath {
  /** Check during which it happened. */
  readonly check: string;
  /** The call that got no answer (with its reproducer). */
  readonly call: CallSummary;
  readonly reproducer?: string;
  readonly message: string;
  /** True when the checker restarted the plugin and carried on. */
  readonly restarted: boolean;
}

export interface RunReport {
  readonly target: string;
  readonly level: Level;
  readonly seed: number;
  readonly profile: string;
  readonly capabilities: readonly Capability[];
  readonly pluginKind: PluginKind;
  readonly startedAt: string;
  readonly summary: RunSummary;
  /** Every time the plugin died or stopped answering. */
  readonly deaths: readonly PluginDeath[];
  readonly checks: readonly CheckResult[];
  readonly leaks: readonly Leak[];
}

export type RunEvent =
  | { readonly type: 'run-started'; readonly target: string; readonly total: number; readonly capabilities: readonly Capability[] }
  | { readonly type: 'suite-started'; readonly suite: Suite }
  | { readonly type: 'check-started'; readonly suite: string; readonly check: Check; readonly index: number; readonly total: number }
  | { readonly type: 'check-finished'; readonly result: CheckResult; readonly index: number; readonly total: number }
  | { readonly type: 'call'; readonly record: CallRecord }
  | { readonly type: 'plugin-died'; readonly death: PluginDeath }
  | { readonly type: 'run-finished'; readonly report: RunReport };
