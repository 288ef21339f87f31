/**
 * runSuites: connect, probe what the plugin implements, run every selected
 * check with its own context, budget and cleanup, and return one RunReport.
 * Reporters are pure functions of that report; progress comes as events.
 */
import type { CallRecord, PluginCaller } from '../src/client/types.js';
import { LOCAL_DEFAULT, GLOBAL_DEFAULT } from '../src/protocol/constants.js';
import { ActivateResponse } from '../src/protocol/messages.js';
import { goDecode } from '../src/protocol/schema.js';
import { type ConformanceConfig, defaultConfig, type ResolvedConfig } from './config.js';
import { curlReproducer, summarizeRecord } from './counterexample.js';
import { UsageError } from '../src/errors.js';
import { SkipCheck, TargetUnreachableError, Violation } from './errors.js';
import { formatCidr } from './cidr.js';
import { createPoolPlan, type PoolPlan } from './pools.js';
import { hostHeaderFor, type RawSender } from './raw.js';
import { writeReplayFile } from './replay-file.js';
import { Resources } from './resources.js';
import { type Connector, createTarget, type Target, type TargetSpec } from './target.js';
import { type Death, LivenessWatch, servedReadPath } from './liveness.js';
import { restartByCommand } from './restart.js';
import {
  type AddressSpaces,
  type Capability,
  type Check,
  type CheckContext,
  type CheckResult,
  type Counterexample,
  type Leak,
  levelFails,
  type PluginDeath,
  type PluginKind,
  type RunEvent,
  type RunReport,
  type Suite,
} from './types.js';

export interface RunOptions {
  /** Suites to choose from (default: every suite cnmkit ships). `config.suites` filters them by id. */
  readonly suites?: readonly Suite[];
  readonly onEvent?: (event: RunEvent) => void;
  /** How to open client connections for a TargetSpec (default: src/client's connect). */
  readonly connector?: Connector;
  /**
   * Restart a plugin the caller owns (a container, an embedded plugin): kill it and start it
   * again. Used when the plugin dies, and by the restart checks; `config.restartCmd` wins.
   */
  readonly restart?: () => Promise<void>;
}

/** Stable per-check seed: the run seed mixed with the check id (FNV-1a). */
export function seedFor(base: number, checkId: string): number {
  let h = 0x811c9dc5 ^ (base | 0);
  for (let i = 0; i < checkId.length; i++) {
    h ^= checkId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

function matchesFilter(id: string, filters: readonly string[]): boolean {
  if (filters.length === 0) return true;
  return filters.some((f) => (f.endsWith('*') ? id.startsWith(f.slice(0, -1)) : id === f));
}

function isTarget(t: Target | TargetSpec): t is Target {
  return typeof (t as Target).connect === 'function' && typeof (t as Target).rawSender === 'function';
}

export async function runSuites(
  target: Target | TargetSpec,
  configInput: Partial<ConformanceConfig> = {},
  options: RunOptions = {},
): Promise<RunReport> {
  // defaultConfig validates and fills whatever the caller left out (a full config passes through unchanged).
  const config: ResolvedConfig = defaultConfig(configInput);
  const emit = options.onEvent ?? (() => {});
  const allSuites = options.suites ?? (await import('./suites.js')).ALL_SUITES;
  const suites = allSuites.filter((s) => config.suites.length === 0 || config.suites.includes(s.id));
  const unknown = config.suites.filter((id) => !allSuites.some((s) => s.id === id));
  if (unknown.length > 0) {
    throw new UsageError(`unknown suite ${unknown.join(', ')} (known: ${allSuites.map((s) => s.id).join(', ')})`);
  }
  const tgt: Target = isTarget(target) ? target : await targetOf(target, options.connector);

  const started = performance.now();
  const startedAt = new Date().toISOString();
  let calls = 0;
  const currentRecords: { list: CallRecord[] | null; raw: number } = { list: null, raw: 0 };
  // Every call that got no answer makes the runner ask whether the plugin is still there.
  let liveness: LivenessWatch | null = null;
  const onRecord = (r: CallRecord): void => {
    calls++;
    currentRecords.list?.push(r);
    emit({ type: 'call', record: r });
    if (r.outcome === 'timeout' || r.outcome === 'transport-error') liveness?.suspect({ call: summarizeRecord(r), detail: r.error ?? r.outcome });
  };
  const rawOptions = { hostHeader: hostHeaderFor(config.profile), defaultTimeoutMs: config.timeoutMs };
  const raw = tgt.rawSender({
    ...rawOptions,
    onExchange: (summary, res) => {
      calls++;
      currentRecords.raw++;
      if (res.kind === 'timeout' || res.kind === 'transport-error') liveness?.suspect({ call: summary, detail: res.message });
    },
  });
  // The probe has a sender of its own: its exchanges are not calls of the check.
  const probeRaw = tgt.rawSender(rawOptions);

  let caller: PluginCaller;
  try {
    caller = await tgt.connect({ timeoutMs: config.timeoutMs, profile: config.profile });
  } catch (e) {
    throw new TargetUnreachableError(`${tgt.description}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  let unsubscribe = caller.onCall(onRecord);
  const plan = createPoolPlan(config);
  const results: CheckResult[] = [];
  const leaks: Leak[] = [];
  const deaths: PluginDeath[] = [];
  let capabilities: Set<Capability>;
  let spaces: AddressSpaces;
  let pluginKind: PluginKind;
  try {
    ({ capabilities, spaces, pluginKind } = await probeTarget(tgt.description, raw, caller, config, plan));
    const readPath = servedReadPath(capabilities);
    liveness = new LivenessWatch(async () => {
      const res = await probeRaw.send({ path: readPath }, { timeoutMs: config.timeoutMs });
      return res.kind === 'reply' ? null : `${readPath}: ${res.message}`;
    });
    const watch = liveness;
    const restarter = config.restartCmd !== null ? restartByCommand(config.restartCmd, probeRaw, readPath) : options.restart ?? null;
    const restartPlugin = restarter === null ? null : () => watch.pause(restarter);

    // Hostile-input checks go last: a plugin that dies on bad input cannot hide the model checks.
    const selected: { suite: Suite; check: Check }[] = [];
    for (const suite of suites) for (const check of suite.checks) if (matchesFilter(check.id, config.checks)) selected.push({ suite, check });
    const ordered = [...selected.filter((x) => x.check.hostile !== true), ...selected.filter((x) => x.check.hostile === true)];
    emit({ type: 'run-started', target: tgt.description, total: ordered.length, capabilities: [...capabilities] });
    let lastSuite: Suite | null = null;
    let stopped: string | null = null;
    for (const [index, { suite, check }] of ordered.entries()) {
      if (suite !== lastSuite) {
        emit({ type: 'suite-started', suite });
        lastSuite = suite;
      }
      emit({ type: 'check-started', suite: suite.id, check, index, total: ordered.length });
      let result: CheckResult;
      if (stopped !== null) {
        result = notRun(suite, check, config, stopped);
      } else {
        const missing = check.requires.filter((c) => !capabilities.has(c));
        if (missing.length > 0) {
          const noV6Subnet = missing.includes('ipv6') && config.subnets.length > 0 && !config.subnets.some((x) => x.includes(':'));
          result = skipped(suite, check, config, noV6Subnet ? 'no IPv6 --subnet given' : `plugin does not offer ${missing.join(', ')}`);
        } else {
          const budgetMs = checkBudget(check, config, started, ordered.length - index);
          const env: RunEnv = { caller, raw, config, capabilities, spaces, plan, tgt, onRecord, currentRecords, liveness: watch, pluginKind, restartPlugin, budgetMs };
          const { result: r, leaks: l } = await runOneCheck(suite, check, env);
          result = r;
          leaks.push(...l);
        }
      }
      // A probe still in flight decides whether this check saw the plugin die.
      const death = stopped === null ? await watch.settled() : null;
      if (death !== null) {
        const record = deathRecord(check, death, raw.curlPrefix);
        result = diedResult(result, record);
        let restarted = false;
        if (restartPlugin !== null) {
          try {
            await restartPlugin();
            unsubscribe();
            await caller.close().catch(() => {});
            caller = await tgt.connect({ timeoutMs: config.timeoutMs, profile: config.profile });
            unsubscribe = caller.onCall(onRecord);
            watch.revive();
            restarted = true;
          } catch (e) {
            result = { ...result, notes: [...result.notes, `restart failed: ${e instanceof Error ? e.message : String(e)}`] };
          }
        }
        const final: PluginDeath = { ...record, restarted };
        deaths.push(final);
        emit({ type: 'plugin-died', death: final });
        if (!restarted) stopped = `not run: the plugin died (or stopped answering) during ${check.id}`;
      }
      results.push(result);
      emit({ type: 'check-finished', result, index, total: ordered.length });
      if (config.bail && stopped === null && result.status === 'failed' && levelFails(result.level, config.level)) stopped = 'not run: --bail after an earlier failure';
    }
  } finally {
    unsubscribe();
    await caller.close().catch(() => {});
    await tgt.close?.().catch(() => {});
  }
  const seconds = (performance.now() - started) / 1000;
  const failed = results.filter((r) => r.status === 'failed');
  const count = (status: CheckResult['status']): number => results.filter((r) => r.status === status).length;
  const report: RunReport = {
    target: tgt.description,
    level: config.level,
    seed: config.seed,
    profile: config.profile,
    capabilities: [...capabilities].sort(),
    pluginKind,
    startedAt,
    summary: {
      passed: count('passed'),
      failed: failed.length,
      skipped: count('skipped'),
      notRun: count('not-run'),
      failing: failed.filter((r) => levelFails(r.level, config.level)).length,
      calls,
      seconds: Math.round(seconds * 1000) / 1000,
      callsPerSecond: seconds > 0 ? Math.round(calls / seconds) : 0,
    },
    checks: results,
    deaths,
    leaks,
  };
  emit({ type: 'run-finished', report });
  return report;
}

/**
 * A check's share of what is left of the run budget: generous, so fast plugins never feel
 * it, but a slow one still ends in about `runBudgetMs` (model checks then do fewer runs).
 */
function checkBudget(check: Check, config: ResolvedConfig, started: number, remainingChecks: number): number {
  const own = check.budgetMs ?? config.checkBudgetMs;
  const left = config.runBudgetMs - (performance.now() - started);
  const share = Math.floor((left / Math.max(1, remainingChecks)) * 1.5);
  return Math.max(Math.min(own, share), Math.min(own, 2_000));
}

function deathRecord(check: Check, death: Death, curlPrefix: readonly string[] | null): Omit<PluginDeath, 'restarted'> {
  const reproducer = curlReproducer([death.call], curlPrefix);
  return {
    check: check.id,
    call: death.call,
    ...(reproducer !== undefined ? { reproducer } : {}),
    message: `plugin died (or stopped answering) during ${check.id} on ${death.call.path}: ${death.detail}; then ${death.probe}`,
  };
}

/** The check in which the plugin died fails at must with the death as its message (the crash is the finding). */
function diedResult(result: CheckResult, death: Omit<PluginDeath, 'restarted'>): CheckResult {
  const calls = result.counterexample?.calls ?? [];
  const withCall = calls.some((c) => c.path === death.call.path && c.request === death.call.request) ? calls : [...calls, death.call];
  return {
    ...result,
    level: 'must',
    status: 'failed',
    message: death.message,
    notes: result.status === 'failed' && result.message !== '' ? [`before that: ${result.message}`, ...result.notes] : result.notes,
    counterexample: { ...(result.counterexample ?? { steps: [] }), calls: withCall, ...(death.reproducer !== undefined ? { reproducer: death.reproducer } : {}) },
  };
}

function skipped(suite: Suite, check: Check, config: ResolvedConfig, message: string): CheckResult {
  return { ...notRun(suite, check, config, message), status: 'skipped' };
}

function notRun(suite: Suite, check: Check, config: ResolvedConfig, message: string): CheckResult {
  return {
    suite: suite.id,
    id: check.id,
    title: check.title,
    level: check.level,
    reason: check.reason,
    status: 'not-run',
    message,
    notes: [],
    seed: seedFor(config.seed, check.id),
    calls: 0,
    durationMs: 0,
  };
}

interface RunEnv {
  readonly caller: PluginCaller;
  readonly raw: RawSender;
  readonly config: ResolvedConfig;
  readonly capabilities: ReadonlySet<Capability>;
  readonly spaces: AddressSpaces;
  readonly plan: PoolPlan;
  readonly tgt: Target;
  readonly onRecord: (r: CallRecord) => void;
  readonly currentRecords: { list: CallRecord[] | null; raw: number };
  readonly liveness: LivenessWatch;
  readonly pluginKind: PluginKind;
  readonly restartPlugin: (() => Promise<void>) | null;
  readonly budgetMs: number;
}

class BudgetExceeded extends Error {}
class PluginDiedDuringCheck extends Error {}

async function runOneCheck(suite: Suite, check: Check, env: RunEnv): Promise<{ result: CheckResult; leaks: Leak[] }> {
  const { config } = env;
  const records: CallRecord[] = [];
  env.currentRecords.list = records;
  env.currentRecords.raw = 0;
  const notes: string[] = [];
  const ac = new AbortController();
  const resources = new Resources(check.id, config.timeoutMs);
  const extras: PluginCaller[] = [];
  const seed = config.replay ? config.replay.seed : seedFor(config.seed, check.id);
  const started = performance.now();
  // The check sees its (possibly shrunk) budget; the model runner plans its runs with it.
  const budgeted: Check = env.budgetMs === (check.budgetMs ?? config.checkBudgetMs) ? check : { ...check, budgetMs: env.budgetMs, run: check.run };
  const ctx: CheckContext = {
    check: budgeted,
    caller: env.caller,
    async connect() {
      const c = await env.tgt.connect({ timeoutMs: config.timeoutMs, profile: config.profile });
      c.onCall(env.onRecord);
      extras.push(c);
      return c;
    },
    raw: env.raw,
    config,
    capabilities: env.capabilities,
    addressSpaces: env.spaces,
    resources,
    pools: env.plan,
    seed,
    signal: ac.signal,
    records,
    pluginKind: env.pluginKind,
    restartPlugin: env.restartPlugin,
    note: (m) => {
      if (!notes.includes(m)) notes.push(m);
    },
    skip: (reason) => {
      throw new SkipCheck(reason);
    },
    fail: (message, counterexample) => {
      throw new Violation(message, check.id, counterexample);
    },
  };
  let status: CheckResult['status'] = 'passed';
  let message = '';
  let counterexample: Counterexample | undefined;
  const budget = env.budgetMs;
  let timer: NodeJS.Timeout | undefined;
  let stopWatching = (): void => {};
  try {
    await Promise.race([
      check.run(ctx),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ac.abort();
          reject(new BudgetExceeded(`time budget of ${budget} ms spent after ${records.length + env.currentRecords.raw} calls`));
        }, budget);
      }),
      new Promise<never>((_, reject) => {
        stopWatching = env.liveness.onDeath(() => {
          ac.abort();
          reject(new PluginDiedDuringCheck('plugin died'));
        });
      }),
    ]);
  } catch (e) {
    if (e instanceof SkipCheck) {
      status = 'skipped';
      message = e.message;
    } else if (e instanceof BudgetExceeded) {
      // The plugin answers (else the liveness watch would have said so), only slowly: a note, not a failure.
      status = 'skipped';
      const slowest = records.reduce((m, r) => Math.max(m, r.durationMs), 0);
      message = `${e.message} (slowest call ${Math.round(slowest)} ms): not enough time to judge; give a larger --run-budget`;
    } else if (e instanceof PluginDiedDuringCheck) {
      // The runner turns this into the death verdict; keep the calls that led there.
      counterexample = { steps: [], calls: records.slice(-12).map(summarizeRecord) };
    } else {
      status = 'failed';
      message = e instanceof Error ? e.message : String(e);
      const given = e instanceof Violation ? e.counterexample : undefined;
      const calls = given?.calls ?? records.slice(-12).map(summarizeRecord);
      // A check reaching several instances builds its own (each call to its own socket).
      const reproducer = given?.reproducer ?? curlReproducer(calls, env.raw.curlPrefix);
      counterexample = {
        steps: given?.steps ?? [],
        calls,
        ...(given?.seed !== undefined ? { seed: given.seed } : {}),
        ...(given?.path !== undefined ? { path: given.path } : {}),
        ...(given?.commandsReplayPath !== undefined ? { commandsReplayPath: given.commandsReplayPath } : {}),
        ...(reproducer !== undefined ? { reproducer } : {}),
      };
      if (!(e instanceof Violation)) message = `check stopped by an unexpected error: ${message}`;
    }
  } finally {
    clearTimeout(timer);
    stopWatching();
  }
  env.currentRecords.list = null;
  const rawCalls = env.currentRecords.raw;
  // What the client noticed on the way (protocol.md deviations) is worth a note even when the check passed.
  for (const r of records) for (const d of r.deviations) if (d.level !== 'compat') ctx.note(`${r.path}: ${d.id} (${d.rule}): ${d.message}`);
  let leaks: Leak[] = [];
  try {
    // Cleaning up against a plugin that is gone only collects timeouts.
    // Bounded like the check itself, so a slow plugin cannot stretch the run past its budget.
    if ((await env.liveness.settled()) === null) leaks = await withTimeout(resources.cleanup({ probe: true }), Math.max(2000, Math.min(config.timeoutMs * 4, budget)), []);
  } finally {
    for (const c of extras) await c.close().catch(() => {});
  }
  const result: CheckResult = {
    suite: suite.id,
    id: check.id,
    title: check.title,
    level: check.level,
    reason: check.reason,
    status,
    message,
    notes,
    ...(counterexample ? { counterexample } : {}),
    seed,
    calls: records.length + rawCalls,
    durationMs: Math.round(performance.now() - started),
  };
  if (status === 'failed' && config.replayDir !== null) {
    try {
      const replayPath = await writeReplayFile(config.replayDir, result, config);
      return { result: { ...result, replayPath }, leaks };
    } catch {
      // An unwritable replay dir must not hide the failure itself.
    }
  }
  return { result, leaks };
}

async function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Handshake and capability probe: the one place where "unreachable" is decided. A plugin
 * that answers Plugin.Activate with its manifest is a v1 plugin; one that refuses it but
 * serves the registration calls is a managed (v2) plugin, which dockerd never activates.
 */
async function probeTarget(
  description: string,
  raw: RawSender,
  caller: PluginCaller,
  config: ResolvedConfig,
  plan: PoolPlan,
): Promise<{ capabilities: Set<Capability>; spaces: AddressSpaces; pluginKind: PluginKind }> {
  const caps = new Set<Capability>();
  const activate = await raw.send({ path: '/Plugin.Activate' });
  if (activate.kind !== 'reply') throw new TargetUnreachableError(`${description}: ${activate.message}`);
  let implementsList: unknown = null;
  if (activate.status === 200) {
    try {
      const decoded = goDecode(ActivateResponse, JSON.parse(activate.body));
      implementsList = decoded.ok ? decoded.value.Implements : null;
    } catch {
      implementsList = null;
    }
  }
  const manifest = Array.isArray(implementsList) && implementsList.some((x) => x === 'IpamDriver' || x === 'NetworkDriver');
  const pluginKind: PluginKind = config.pluginKind !== 'auto' ? config.pluginKind : manifest ? 'v1' : 'managed';
  if (config.capabilities) {
    for (const c of config.capabilities) caps.add(c);
  } else {
    if (manifest) {
      const list = implementsList as unknown[];
      if (list.includes('IpamDriver')) caps.add('ipam');
      if (list.includes('NetworkDriver')) caps.add('driver');
    } else {
      // Managed (v2) plugins get no Activate: look at the registration calls instead.
      const ipam = await raw.send({ path: '/IpamDriver.GetDefaultAddressSpaces' });
      if (ipam.kind === 'reply' && ipam.status === 200) caps.add('ipam');
      const drv = await raw.send({ path: '/NetworkDriver.GetCapabilities' });
      if (drv.kind === 'reply' && drv.status === 200) caps.add('driver');
    }
    if (process.platform === 'linux') caps.add('linux');
  }
  let spaces: AddressSpaces = { local: LOCAL_DEFAULT, global: GLOBAL_DEFAULT };
  if (caps.has('ipam')) {
    const got = await caller.tryCall('GetDefaultAddressSpaces', undefined, { timeoutMs: config.timeoutMs });
    if (got.ok) {
      // A local-only IPAM may leave the global name empty; dockerd then sends "" for global-scope networks.
      spaces = { local: got.value.LocalDefaultAddressSpace ?? '', global: got.value.GlobalDefaultAddressSpace || got.value.LocalDefaultAddressSpace || '' };
    }
    if (!config.capabilities) {
      const arena = plan.next();
      const v6 = arena.v6[0];
      if (v6) {
        const r = await caller.tryCall('RequestPool', { AddressSpace: spaces.local, Pool: formatCidr(v6), SubPool: '', Options: { ...config.ipamOpts }, V6: true }, { timeoutMs: config.timeoutMs });
        if (r.ok) {
          caps.add('ipv6');
          await caller.tryCall('ReleasePool', { PoolID: r.value.PoolID }, { timeoutMs: config.timeoutMs });
        }
      }
    }
  }
  return { capabilities: caps, spaces, pluginKind };
}

/** A Target for a spec over src/client (loaded lazily: the framework itself needs no transport). */
async function targetOf(spec: TargetSpec, connector: Connector | undefined): Promise<Target> {
  const { clientConnector, pluginRawSender } = await import('./connector.js');
  return createTarget(spec, connector ?? clientConnector, pluginRawSender);
}
