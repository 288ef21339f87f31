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
import {
  type AddressSpaces,
  type Capability,
  type Check,
  type CheckContext,
  type CheckResult,
  type Counterexample,
  type Leak,
  levelFails,
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
  const onRecord = (r: CallRecord): void => {
    calls++;
    currentRecords.list?.push(r);
    emit({ type: 'call', record: r });
  };
  const raw = tgt.rawSender({
    hostHeader: hostHeaderFor(config.profile),
    defaultTimeoutMs: config.timeoutMs,
    onExchange: () => {
      calls++;
      currentRecords.raw++;
    },
  });

  let caller: PluginCaller;
  try {
    caller = await tgt.connect({ timeoutMs: config.timeoutMs, profile: config.profile });
  } catch (e) {
    throw new TargetUnreachableError(`${tgt.description}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  const unsubscribe = caller.onCall(onRecord);
  const plan = createPoolPlan(config);
  const results: CheckResult[] = [];
  const leaks: Leak[] = [];
  let capabilities: Set<Capability>;
  let spaces: AddressSpaces;
  try {
    ({ capabilities, spaces } = await probeTarget(tgt.description, raw, caller, config, plan));
    const selected: { suite: Suite; check: Check }[] = [];
    for (const suite of suites) for (const check of suite.checks) if (matchesFilter(check.id, config.checks)) selected.push({ suite, check });
    emit({ type: 'run-started', target: tgt.description, total: selected.length, capabilities: [...capabilities] });
    let lastSuite: Suite | null = null;
    let bailed = false;
    for (const [index, { suite, check }] of selected.entries()) {
      if (suite !== lastSuite) {
        emit({ type: 'suite-started', suite });
        lastSuite = suite;
      }
      emit({ type: 'check-started', suite: suite.id, check, index, total: selected.length });
      let result: CheckResult;
      if (bailed) {
        result = skipped(suite, check, config, 'not run: --bail after an earlier failure');
      } else {
        const missing = check.requires.filter((c) => !capabilities.has(c));
        if (missing.length > 0) {
          const noV6Subnet = missing.includes('ipv6') && config.subnets.length > 0 && !config.subnets.some((x) => x.includes(':'));
          result = skipped(suite, check, config, noV6Subnet ? 'no IPv6 --subnet given' : `plugin does not offer ${missing.join(', ')}`);
        } else {
          const { result: r, leaks: l } = await runOneCheck(suite, check, { caller, raw, config, capabilities, spaces, plan, tgt, onRecord, currentRecords });
          result = r;
          leaks.push(...l);
        }
      }
      results.push(result);
      emit({ type: 'check-finished', result, index, total: selected.length });
      if (config.bail && result.status === 'failed' && levelFails(result.level, config.level)) bailed = true;
    }
  } finally {
    unsubscribe();
    await caller.close().catch(() => {});
    await tgt.close?.().catch(() => {});
  }
  const seconds = (performance.now() - started) / 1000;
  const failed = results.filter((r) => r.status === 'failed');
  const report: RunReport = {
    target: tgt.description,
    level: config.level,
    seed: config.seed,
    profile: config.profile,
    capabilities: [...capabilities].sort(),
    startedAt,
    summary: {
      passed: results.filter((r) => r.status === 'passed').length,
      failed: failed.length,
      skipped: results.filter((r) => r.status === 'skipped').length,
      failing: failed.filter((r) => levelFails(r.level, config.level)).length,
      calls,
      seconds: Math.round(seconds * 1000) / 1000,
      callsPerSecond: seconds > 0 ? Math.round(calls / seconds) : 0,
    },
    checks: results,
    leaks,
  };
  emit({ type: 'run-finished', report });
  return report;
}

function skipped(suite: Suite, check: Check, config: ResolvedConfig, message: string): CheckResult {
  return {
    suite: suite.id,
    id: check.id,
    title: check.title,
    level: check.level,
    reason: check.reason,
    status: 'skipped',
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
}

class BudgetExceeded extends Error {}

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
  const ctx: CheckContext = {
    check,
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
  const budget = check.budgetMs ?? config.checkBudgetMs;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.run(ctx),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ac.abort();
          reject(new BudgetExceeded(`check did not finish within its ${budget} ms budget (per-call timeout ${config.timeoutMs} ms)`));
        }, budget);
      }),
    ]);
  } catch (e) {
    if (e instanceof SkipCheck) {
      status = 'skipped';
      message = e.message;
    } else {
      status = 'failed';
      message = e instanceof Error ? e.message : String(e);
      const given = e instanceof Violation ? e.counterexample : undefined;
      const calls = given?.calls ?? records.slice(-12).map(summarizeRecord);
      counterexample = {
        steps: given?.steps ?? [],
        calls,
        ...(given?.seed !== undefined ? { seed: given.seed } : {}),
        ...(given?.path !== undefined ? { path: given.path } : {}),
        ...(given?.commandsReplayPath !== undefined ? { commandsReplayPath: given.commandsReplayPath } : {}),
        ...(curlReproducer(calls, env.raw.curlPrefix) !== undefined ? { reproducer: curlReproducer(calls, env.raw.curlPrefix)! } : {}),
      };
      if (!(e instanceof Violation) && !(e instanceof BudgetExceeded)) message = `check stopped by an unexpected error: ${message}`;
    }
  } finally {
    clearTimeout(timer);
  }
  env.currentRecords.list = null;
  const rawCalls = env.currentRecords.raw;
  // What the client noticed on the way (protocol.md deviations) is worth a note even when the check passed.
  for (const r of records) for (const d of r.deviations) if (d.level !== 'compat') ctx.note(`${r.path}: ${d.id} (${d.rule}): ${d.message}`);
  let leaks: Leak[] = [];
  try {
    leaks = await withTimeout(resources.cleanup({ probe: true }), Math.max(config.timeoutMs * 4, 2000), []);
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

/** Handshake and capability probe: the one place where "unreachable" is decided. */
async function probeTarget(
  description: string,
  raw: RawSender,
  caller: PluginCaller,
  config: ResolvedConfig,
  plan: PoolPlan,
): Promise<{ capabilities: Set<Capability>; spaces: AddressSpaces }> {
  const caps = new Set<Capability>();
  const activate = await raw.send({ path: '/Plugin.Activate' });
  if (activate.kind !== 'reply') throw new TargetUnreachableError(`${description}: ${activate.message}`);
  if (config.capabilities) {
    for (const c of config.capabilities) caps.add(c);
  } else {
    let implementsList: unknown = null;
    if (activate.status === 200) {
      try {
        const decoded = goDecode(ActivateResponse, JSON.parse(activate.body));
        implementsList = decoded.ok ? decoded.value.Implements : null;
      } catch {
        implementsList = null;
      }
    }
    if (Array.isArray(implementsList)) {
      if (implementsList.includes('IpamDriver')) caps.add('ipam');
      if (implementsList.includes('NetworkDriver')) caps.add('driver');
    }
    if (!caps.has('ipam') && !caps.has('driver')) {
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
    if (got.ok && got.value.LocalDefaultAddressSpace) {
      spaces = { local: got.value.LocalDefaultAddressSpace, global: got.value.GlobalDefaultAddressSpace || got.value.LocalDefaultAddressSpace };
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
  return { capabilities: caps, spaces };
}

/** A Target for a spec over src/client (loaded lazily: the framework itself needs no transport). */
async function targetOf(spec: TargetSpec, connector: Connector | undefined): Promise<Target> {
  const { clientConnector, pluginRawSender } = await import('./connector.js');
  return createTarget(spec, connector ?? clientConnector, pluginRawSender);
}
