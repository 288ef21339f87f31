/**
 * `cnmkit check`: run the conformance suites against a plugin and report.
 * Binds flags onto the conformance config (csi-sanity's main.go shape).
 * Exit: 0 conformant at --level, 1 violations, 2 usage error or unreachable.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Argv } from 'yargs';
import {
  consoleProgress,
  consoleReport,
  defaultConfig,
  exitCodeFor,
  htmlReport,
  jsonReport,
  junitReport,
  parseKeyValues,
  runSuites,
  tapReport,
  type ConformanceConfig,
  type RunReport,
  type TargetSpec,
} from '../../conformance/index.js';
import { UsageError } from '../errors.js';
import { MULTI_SUITE_ID, runInstances } from '../../conformance/multi/index.js';
import { restartCommandsFor } from '../../conformance/multi/restart-cmds.js';
import { campaignExitCode, campaignOfShard, renderCampaign } from '../../conformance/report/merge.js';
import { parseSeedRange, parseShard, runShard, type SeedRange, type ShardSpec, writeShardReport } from '../../conformance/shard.js';
import { PROFILES, type Profile } from '../protocol/constants.js';
import { lookupPlugin } from '../client/index.js';
import { startImagePlugin, type ImagePlugin } from './image-target.js';
import { findManagedPlugin, type ManagedPlugin } from './managed-target.js';
import { startReferenceTarget, type ReferenceTarget } from './reference-target.js';

const REPORTERS = ['console', 'json', 'junit', 'tap', 'html'] as const;
type ReporterName = (typeof REPORTERS)[number];

export interface CheckArgs {
  /** Repeated: instances of one plugin on several hosts (so is --url). */
  socket?: string | string[];
  url?: string | string[];
  plugin?: string;
  image?: string;
  'image-socket'?: string;
  'image-wait'?: number;
  reference?: boolean;
  suite?: string[];
  check?: string[];
  level: string;
  profile: Profile;
  seed?: number;
  runs?: number;
  timeout?: number;
  'run-budget'?: number;
  'plugin-kind'?: string;
  reporter?: string[];
  output?: string[];
  bail?: boolean;
  'driver-opt'?: string[];
  'ipam-opt'?: string[];
  subnet?: string[];
  'replay-dir'?: string;
  netns?: string;
  'ipam-driver'?: string;
  /** Repeated with several targets: once per target, or once with {i}. */
  'restart-cmd'?: string | string[];
  seeds?: string;
  shard?: string;
  'shard-dir'?: string;
  color?: boolean;
}

export function registerCheck(cli: Argv): Argv {
  return cli.command(
    'check',
    'Check a plugin against the remote protocol contract (exit 0 conformant, 1 violations, 2 usage/unreachable)',
    (y) => checkOptions(y),
    async (argv) => {
      process.exitCode = await check(argv as unknown as CheckArgs);
    },
  );
}

export function checkOptions(y: Argv): Argv {
  return y
    .option('socket', { type: 'string', group: 'Target:', describe: 'plugin unix socket; repeat it (or --url) for instances of one plugin on several hosts (multi suite)' })
    .option('url', { type: 'string', group: 'Target:', describe: 'plugin URL (tcp://HOST:PORT, unix:///PATH); repeatable like --socket' })
    .option('plugin', { type: 'string', group: 'Target:', describe: 'plugin name, found as dockerd finds it: a v1 socket/spec, or a managed plugin NAME[:TAG] (docker plugin inspect)' })
    .option('image', { type: 'string', group: 'Target:', describe: 'plugin container image (started with testcontainers, socket dir shared)' })
    .option('image-socket', { type: 'string', group: 'Target:', describe: 'socket file name the image creates (default: first *.sock)' })
    .option('image-wait', { type: 'number', group: 'Target:', describe: 'seconds to wait for the image\'s socket (default 30)' })
    .option('reference', { type: 'boolean', group: 'Target:', describe: 'the embedded reference plugin on the virtual backend' })
    .option('suite', { type: 'string', array: true, describe: 'suites to run (protocol, ipam, driver, lifecycle; with several --socket/--url also multi; default all)' })
    .option('check', { type: 'string', array: true, describe: 'only these check ids (a trailing * matches a prefix)' })
    .option('level', { choices: ['must', 'should', 'compat'], default: 'should', describe: 'lowest level that fails the run' })
    .option('profile', { choices: PROFILES, default: 'docker-20.10' as Profile, describe: 'daemon behaviour to check against' })
    .option('seed', { type: 'number', describe: 'base seed of the property checks (default 42)' })
    .option('runs', { type: 'number', describe: 'runs per model-based check (default 100)' })
    .option('timeout', { type: 'number', describe: 'longest a call may take, in seconds (default 30: a managed plugin\'s request timeout)' })
    .option('run-budget', { type: 'number', describe: 'time for the whole run in seconds (default 600); a slow plugin gets fewer model runs' })
    .option('plugin-kind', { choices: ['auto', 'v1', 'managed'], describe: 'v1 plugins get Plugin.Activate, managed (v2) never do; default: from the handshake' })
    .option('reporter', { type: 'string', array: true, describe: 'console|json|junit|tap|html; repeatable, NAME:FILE or paired with --output (html: one page, cited rules linked to docs/)' })
    .option('output', { type: 'string', array: true, describe: 'file for the reporter at the same position' })
    .option('bail', { type: 'boolean', describe: 'stop after the first failing check' })
    .option('driver-opt', { type: 'string', array: true, describe: 'K=V added to every CreateNetwork (like docker network create -o)' })
    .option('ipam-opt', { type: 'string', array: true, describe: 'K=V sent with every RequestPool (like --ipam-opt)' })
    .option('subnet', { type: 'string', array: true, describe: 'pools the checks use (repeatable; default private test ranges)' })
    .option('netns', { choices: ['auto', 'none', 'linux'], describe: 'check the driver\'s links on the real kernel: auto (default: when root), linux (insist), none (off)' })
    .option('ipam-driver', { choices: ['auto', 'default', 'plugin', 'null'], describe: 'addresses for driver checks: the plugin\'s IPAM, Docker\'s default, or the null IPAM (driver supplies them); default auto' })
    .option('restart-cmd', { type: 'string', describe: 'command (split on spaces, no shell) that restarts the plugin, for lifecycle.restart-keeps-state; with several targets once per target or once with {i} (the target\'s number)' })
    .option('seeds', { type: 'string', group: 'Campaign:', describe: 'A..B: one full run per seed (instead of --seed); writes a shard report for cnmkit merge-reports' })
    .option('shard', { type: 'string', group: 'Campaign:', describe: 'i/n: only the i-th of n slices of --seeds (CI matrix jobs)' })
    .option('shard-dir', { type: 'string', group: 'Campaign:', describe: 'where the shard report shard-<i>-of-<n>.json goes (default ./cnmkit-shards)' })
    .option('replay-dir', { type: 'string', describe: 'where replay files of failures go (default ./cnmkit-replays)' })
    .option('color', { type: 'boolean', describe: 'colour the console report (default: when stdout is a TTY)' });
}

interface ReporterPlan {
  readonly name: ReporterName;
  /** null = stdout. */
  readonly file: string | null;
}

export function planReporters(reporters: readonly string[] | undefined, outputs: readonly string[] | undefined): ReporterPlan[] {
  const names = reporters === undefined || reporters.length === 0 ? ['console'] : reporters;
  const outs = outputs ?? [];
  if (outs.length > names.length) throw new UsageError(`--output given ${outs.length} times for ${names.length} reporter(s)`);
  return names.map((spec, i) => {
    const colon = spec.indexOf(':');
    const name = colon >= 0 ? spec.slice(0, colon) : spec;
    const file = colon >= 0 ? spec.slice(colon + 1) : outs[i] ?? null;
    if (!(REPORTERS as readonly string[]).includes(name)) throw new UsageError(`--reporter must be one of ${REPORTERS.join(', ')}, got "${name}"`);
    if (file === '') throw new UsageError(`--reporter ${spec}: empty file name`);
    return { name: name as ReporterName, file };
  });
}

/** A flag given once or repeated, as a list. */
export function listOf(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** A flag in seconds as milliseconds (undefined when not given); not a positive number is a usage error. */
export function secondsFlagMs(flag: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${flag} must be a positive number of seconds, got ${v}`);
  return Math.ceil(v * 1000);
}

/** Every --socket then every --url, in the order given: the instances of one plugin on several hosts. */
export function instanceSpecs(a: { socket?: string | string[]; url?: string | string[] }): TargetSpec[] {
  return [...listOf(a.socket).map((socket) => ({ socket })), ...listOf(a.url).map((url) => ({ url }))];
}

export function targetCount(a: CheckArgs): number {
  return listOf(a.socket).length + listOf(a.url).length + [a.plugin, a.image, a.reference ? true : undefined].filter((x) => x !== undefined).length;
}

export function configFromArgs(a: CheckArgs): ConformanceConfig {
  const over: Partial<ConformanceConfig> = {
    level: a.level as ConformanceConfig['level'],
    profile: a.profile,
    suites: a.suite ?? [],
    checks: a.check ?? [],
    driverOpts: parseKeyValues(a['driver-opt'] ?? [], '--driver-opt'),
    ipamOpts: parseKeyValues(a['ipam-opt'] ?? [], '--ipam-opt'),
    subnets: a.subnet ?? [],
    bail: a.bail ?? false,
  };
  if (a.seed !== undefined) over.seed = integerFlag('--seed', a.seed, -(2 ** 31), 2 ** 31 - 1);
  if (a.runs !== undefined) over.runs = integerFlag('--runs', a.runs, 1, 1_000_000);
  const timeoutMs = secondsFlagMs('--timeout', a.timeout);
  if (timeoutMs !== undefined) over.timeoutMs = timeoutMs;
  const runBudgetMs = secondsFlagMs('--run-budget', a['run-budget']);
  if (runBudgetMs !== undefined) over.runBudgetMs = runBudgetMs;
  if (a['plugin-kind'] !== undefined) over.pluginKind = a['plugin-kind'] as ConformanceConfig['pluginKind'];
  if (a['replay-dir'] !== undefined) over.replayDir = a['replay-dir'];
  if (a.netns !== undefined) over.netns = a.netns as ConformanceConfig['netns'];
  if (a['ipam-driver'] !== undefined) over.ipamDriver = a['ipam-driver'] as ConformanceConfig['ipamDriver'];
  // With several targets the first target's command (check() expands them per target).
  const restartCmds = listOf(a['restart-cmd']);
  if (restartCmds.length > 0) over.restartCmd = restartCommandsFor(restartCmds, Math.max(1, restartCmds.length))[0]!;
  return defaultConfig(over);
}

async function v1PluginExists(name: string): Promise<boolean> {
  return lookupPlugin(name, {}, { mode: 'none' }).then(
    () => true,
    () => false,
  );
}

function integerFlag(flag: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

function render(name: ReporterName, report: RunReport, color: boolean): string {
  switch (name) {
    case 'console':
      return consoleReport(report, { color });
    case 'json':
      return jsonReport(report);
    case 'junit':
      return junitReport(report);
    case 'tap':
      return tapReport(report);
    case 'html':
      return htmlReport(report);
  }
}

/** Several --socket/--url: instances of one plugin on several hosts (sockets first, then URLs, in the order given). */
function instancesOf(a: CheckArgs): { specs: TargetSpec[]; restartCmds: (string[] | null)[] } | null {
  const specs = instanceSpecs(a);
  if (specs.length < 2) {
    if (listOf(a['restart-cmd']).length > 1) throw new UsageError(`--restart-cmd given ${listOf(a['restart-cmd']).length} times for one target`);
    return null;
  }
  if (targetCount(a) > specs.length) throw new UsageError('several instances are given with --socket/--url only (not with --plugin, --image or --reference)');
  return { specs, restartCmds: restartCommandsFor(listOf(a['restart-cmd']), specs.length) };
}

function campaignOf(a: CheckArgs): { seeds: SeedRange; shard: ShardSpec } | null {
  if (a.seeds === undefined) {
    if (a.shard !== undefined) throw new UsageError('--shard needs --seeds A..B');
    return null;
  }
  if (a.seed !== undefined) throw new UsageError('give either --seed or --seeds, not both');
  return { seeds: parseSeedRange(a.seeds), shard: a.shard !== undefined ? parseShard(a.shard) : { index: 1, count: 1 } };
}

async function check(a: CheckArgs): Promise<number> {
  const n = targetCount(a);
  if (n === 0) throw new UsageError('no target: give one of --socket, --url, --plugin, --image or --reference');
  const instances = instancesOf(a);
  if (n > 1 && instances === null) throw new UsageError('give only one target (--socket, --url, --plugin, --image or --reference), or several --socket/--url for instances of one plugin');
  const campaign = campaignOf(a);
  const config = configFromArgs(a);
  if (instances === null && config.suites.includes(MULTI_SUITE_ID)) throw new UsageError('the multi suite checks instances of one plugin on several hosts: give every instance (--socket A --socket B ...)');
  const reporters = planReporters(a.reporter, a.output);
  const stdoutTaken = reporters.some((r) => r.file === null && r.name !== 'console');
  const progressStream = stdoutTaken ? process.stderr : process.stdout;
  const color = a.color ?? (progressStream.isTTY === true);

  let image: ImagePlugin | null = null;
  let reference: ReferenceTarget | null = null;
  let managed: ManagedPlugin | null = null;
  let spec: TargetSpec;
  if (instances !== null) spec = instances.specs[0]!;
  else if (a.socket !== undefined) spec = { socket: listOf(a.socket)[0]! };
  else if (a.url !== undefined) spec = { url: listOf(a.url)[0]! };
  else if (a.plugin !== undefined) {
    // A name dockerd resolves as a v1 plugin stays one; otherwise docker may know it as a managed plugin.
    managed = a.plugin.includes(':') || !(await v1PluginExists(a.plugin)) ? await findManagedPlugin(a.plugin) : null;
    if (managed !== null) {
      if (!managed.enabled) throw new UsageError(`--plugin ${a.plugin}: the managed plugin is disabled (docker plugin enable ${a.plugin})`);
      spec = { socket: managed.socket };
      if (a['plugin-kind'] === undefined) config.pluginKind = 'managed';
    } else spec = { plugin: a.plugin };
  }
  else if (a.image !== undefined) {
    const wait = a['image-wait'];
    if (wait !== undefined && (!Number.isFinite(wait) || wait <= 0)) throw new UsageError(`--image-wait must be a positive number of seconds, got ${wait}`);
    image = await startImagePlugin(a.image, { socketName: a['image-socket'], ...(wait !== undefined ? { startTimeoutMs: Math.ceil(wait * 1000) } : {}) });
    spec = { socket: image.socket };
  } else {
    // --netns auto with --reference stays on the virtual backend: the reference on the real kernel makes every
    // driver check create real links (about 90 s instead of a few), and `npx cnmkit check --reference` is the
    // quick demo. driver.netns-linux is then skipped ("turned off"); --netns linux asks for the real kernel.
    if (config.netns === 'auto') config.netns = 'none';
    // Without root, --netns linux cannot create namespaces: the reference stays virtual and the check says why it skipped.
    if (config.netns === 'linux' && process.getuid?.() === 0) {
      // --netns linux: the reference runs on the real kernel inside a namespace of its own, which plays its host.
      const [{ openNetnsHost }, { createLinuxBackend }] = await Promise.all([import('../../conformance/driver/netns-host.js'), import('../backend/linux/index.js')]);
      const host = await openNetnsHost();
      const backend = createLinuxBackend({ hostNetns: host.name });
      const ref = await startReferenceTarget({ profile: a.profile, backend });
      config.netnsHost = host.name;
      reference = { socket: ref.socket, restart: () => ref.restart(), close: async () => (await ref.close(), await backend.close(), await host.close()) };
    } else {
      reference = await startReferenceTarget({ profile: a.profile });
    }
    spec = { socket: reference.socket };
  }
  // A plugin the checker started can be killed and started again (restart checks, going on after a crash).
  const restart = reference !== null ? reference.restart : image !== null ? image.restart : managed !== null ? managed.restart : undefined;

  const runOnce = (cfg: ConformanceConfig, progress: boolean): Promise<RunReport> => {
    const options = { ...(progress ? { onEvent: consoleProgress((t) => progressStream.write(t), { color }) } : {}), ...(restart !== undefined ? { restart } : {}) };
    return instances !== null ? runInstances(instances.specs, cfg, { ...options, restartCmds: instances.restartCmds }) : runSuites(spec, cfg, options);
  };
  let report: RunReport;
  try {
    if (campaign !== null) return await checkCampaign(a, campaign, config, (seed) => runOnce({ ...config, seed }, false), reporters, progressStream, color);
    report = await runOnce(config, true);
  } finally {
    if (image !== null) {
      const logs = image.logs();
      await image.stop();
      if (logs.trim() !== '') process.stderr.write(`--- plugin container log (last lines) ---\n${logs.trim().split('\n').slice(-20).join('\n')}\n`);
    }
    await reference?.close();
  }

  for (const r of reporters) {
    const text = render(r.name, report, r.file === null ? color : false);
    if (r.file === null) {
      if (r.name === 'console') progressStream.write(`\n${text}`);
      else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    } else {
      await mkdir(dirname(r.file), { recursive: true });
      await writeFile(r.file, text.endsWith('\n') ? text : `${text}\n`);
    }
  }
  if (!reporters.some((r) => r.name === 'console' && r.file === null)) {
    const s = report.summary;
    process.stderr.write(`cnmkit check: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped (${s.calls} calls in ${s.seconds} s)\n`);
  }
  return exitCodeFor(report, config.level) === 0 ? 0 : 1;
}


/** `--seeds A..B [--shard i/n]`: one full run per seed of this shard, the shard report written, the shard's campaign reported. */
async function checkCampaign(
  a: CheckArgs,
  campaign: { seeds: SeedRange; shard: ShardSpec },
  config: ConformanceConfig,
  run: (seed: number) => Promise<RunReport>,
  reporters: readonly ReporterPlan[],
  progress: NodeJS.WritableStream,
  color: boolean,
): Promise<number> {
  const target = [...listOf(a.socket), ...listOf(a.url), a.plugin, a.image, a.reference ? 'reference' : undefined].filter((x) => x !== undefined).join(' + ');
  // What every shard of one campaign must share (merge-reports refuses mixed ones); not the target: socket paths differ between CI machines.
  const identity = {
    level: config.level,
    profile: config.profile,
    suites: config.suites,
    checks: config.checks,
    runs: config.runs,
    subnets: config.subnets,
    ipamOpts: config.ipamOpts,
    driverOpts: config.driverOpts,
    concurrency: config.concurrency,
    stormSize: config.stormSize,
    timeoutMs: config.timeoutMs,
    instances: Math.max(1, listOf(a.socket).length + listOf(a.url).length),
  };
  progress.write(`cnmkit check --seeds ${campaign.seeds.from}..${campaign.seeds.to} --shard ${campaign.shard.index}/${campaign.shard.count} on ${target}\n`);
  const shard = await runShard({
    command: 'check',
    seeds: campaign.seeds,
    shard: campaign.shard,
    config: identity,
    target,
    run,
    onRun: (seed, r, done, total) => progress.write(`  [${done}/${total}] seed ${seed}: ${r.summary.failing > 0 ? 'FAIL' : 'pass'} (${r.summary.passed} passed, ${r.summary.failed} failed, ${r.summary.skipped} skipped, ${r.summary.seconds} s)\n`),
  });
  const file = await writeShardReport(a['shard-dir'] ?? 'cnmkit-shards', shard);
  await writeReports(reporters, (name, onTty) => renderCampaign(name, campaignOfShard(shard), onTty ? color : false), progress);
  process.stderr.write(`cnmkit check: shard report ${file}\n`);
  return campaignExitCode(campaignOfShard(shard));
}

async function writeReports(reporters: readonly ReporterPlan[], render: (name: ReporterName, onTty: boolean) => string, progress: NodeJS.WritableStream): Promise<void> {
  for (const r of reporters) {
    const text = render(r.name, r.file === null);
    if (r.file === null) {
      if (r.name === 'console') progress.write(`\n${text}`);
      else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    } else {
      await mkdir(dirname(r.file), { recursive: true });
      await writeFile(r.file, text.endsWith('\n') ? text : `${text}\n`);
    }
  }
}
