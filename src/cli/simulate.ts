/**
 * `cnmkit simulate`: replay a scenario file (or a generated one with
 * `--seed N --steps K`) on the simulated daemon with the reference plugin or
 * any plugin socket; print each call, the answer and the state; optionally
 * write a self-contained HTML page. Exit 1 when an expectation or invariant
 * does not hold (fuzzing: after writing the shrunk replay file).
 */
import { writeFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { PROFILES, type Profile } from '../protocol/constants.js';
import { readTrace, TraceFormatError } from '../record/trace.js';
import { renderHtml } from '../simulate/html.js';
import { viewOfRecording } from '../simulate/recording.js';
import { loadScenario, ScenarioError, type Scenario } from '../simulate/scenario.js';
import { fuzz, simulate } from '../simulate/simulate.js';
import { renderText } from '../simulate/text.js';
import type { Trace } from '../simulate/trace.js';
import { scenarioToYaml } from '../simulate/write.js';
import { EXIT_OK, EXIT_VIOLATIONS } from './errors.js';
import { campaignExitCode, campaignOfShard, renderCampaign } from '../../conformance/report/merge.js';
import { parseSeedRange, parseShard, runShard, writeShardReport } from '../../conformance/shard.js';
import { simulateSeed } from '../../conformance/shard-simulate.js';

interface SimulateArgs {
  scenario?: string;
  socket?: string;
  html?: string;
  json: boolean;
  seed?: number;
  steps?: number;
  profile?: Profile;
  replay?: string;
  seeds?: string;
  shard?: string;
  'shard-dir'?: string;
  'replay-dir'?: string;
  trace?: string;
}

export function registerSimulate(cli: Argv): Argv {
  return cli.command(
    'simulate [scenario]',
    'Replay a scenario (docker commands) on the simulated daemon and show every plugin call and the state after it',
    (y) =>
      y
        .positional('scenario', { type: 'string', describe: 'scenario file (YAML/JSON, see fixtures/scenarios/README.md)' })
        .option('socket', { type: 'string', describe: 'plugin socket to run against (default: the in-process reference plugin)' })
        .option('html', { type: 'string', describe: 'write a self-contained HTML page (allocation maps, timeline, namespaces)' })
        .option('json', { type: 'boolean', default: false, describe: 'print the trace as JSON' })
        .option('seed', { type: 'number', describe: 'generate a random scenario from this seed (fuzzing)' })
        .option('steps', { type: 'number', describe: 'steps of the generated scenario (with --seed, default 30)' })
        .option('replay', { type: 'string', describe: 'with --seed: where to write the shrunk failing scenario (default ./simulate-replay-<seed>.yaml)' })
        .option('profile', { choices: PROFILES, describe: 'daemon profile (default: the scenario\'s, else docker-20.10)' })
        .option('seeds', { type: 'string', group: 'Campaign:', describe: 'A..B: one fuzz run per seed (with --steps); writes a shard report for cnmkit merge-reports' })
        .option('shard', { type: 'string', group: 'Campaign:', describe: 'i/n: only the i-th of n slices of --seeds (CI matrix jobs)' })
        .option('shard-dir', { type: 'string', group: 'Campaign:', describe: 'where the shard report shard-<i>-of-<n>.json goes (default ./cnmkit-shards)' })
        .option('replay-dir', { type: 'string', group: 'Campaign:', describe: 'where failing seeds\' shrunk scenarios simulate-<seed>.yaml go (default ./cnmkit-replays)' })
        .option('trace', { type: 'string', describe: 'show a session recorded by cnmkit record (TRACE.jsonl) as steps and state instead of running one' }),
    async (argv) => {
      process.exitCode = await runSimulate(argv as unknown as SimulateArgs);
    },
  );
}

function output(trace: Trace, a: SimulateArgs): void {
  if (a.json) process.stdout.write(`${JSON.stringify(trace, null, 2)}\n`);
  else process.stdout.write(renderText(trace));
  if (a.html !== undefined) {
    try {
      writeFileSync(a.html, renderHtml(trace));
    } catch (e) {
      throw new UsageError(`--html ${a.html}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!a.json) process.stdout.write(`wrote ${a.html}\n`);
  }
}

function integer(name: string, v: number | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

/** `--trace`: nothing runs; the recorded calls become the steps and the state after each. */
function showRecording(a: SimulateArgs & { trace: string }): number {
  for (const [name, given] of [['a scenario file', a.scenario], ['--seed', a.seed], ['--steps', a.steps], ['--socket', a.socket], ['--replay', a.replay], ['--profile', a.profile], ['--seeds', a.seeds], ['--shard', a.shard]] as const) {
    if (given !== undefined) throw new UsageError(`--trace shows a recorded session: ${name} does not go with it`);
  }
  let view: Trace;
  try {
    view = viewOfRecording(readTrace(a.trace).sessions, { source: a.trace });
  } catch (e) {
    if (e instanceof TraceFormatError) throw new UsageError(e.message);
    throw e;
  }
  output(view, a);
  return view.problems.length > 0 ? EXIT_VIOLATIONS : EXIT_OK;
}

export async function runSimulate(a: SimulateArgs): Promise<number> {
  if (a.trace !== undefined) return showRecording({ ...a, trace: a.trace });
  if (a.seeds !== undefined || a.shard !== undefined || a['shard-dir'] !== undefined || a['replay-dir'] !== undefined) return simulateCampaign(a);
  const seed = integer('seed', a.seed, 0, 2 ** 31 - 1);
  const steps = integer('steps', a.steps, 1, 10_000);
  const opts = { ...(a.socket !== undefined ? { socket: a.socket } : {}), ...(a.profile !== undefined ? { profile: a.profile } : {}) };
  if (seed === undefined) {
    if (steps !== undefined) throw new UsageError('--steps needs --seed');
    if (a.replay !== undefined) throw new UsageError('--replay needs --seed');
    if (a.scenario === undefined) throw new UsageError('give a scenario file, or --seed N [--steps K] for a random one');
    let scenario: Scenario;
    try {
      scenario = loadScenario(a.scenario);
    } catch (e) {
      if (e instanceof ScenarioError) throw new UsageError(e.message);
      throw e;
    }
    const { trace } = await simulate(scenario, opts);
    output(trace, a);
    return trace.problems.length > 0 ? EXIT_VIOLATIONS : EXIT_OK;
  }
  if (a.scenario !== undefined) throw new UsageError('give either a scenario file or --seed, not both');
  const r = await fuzz({ ...opts, seed, steps: steps ?? 30 });
  if (r.shrunk === null) {
    output(r.result.trace, a);
    return EXIT_OK;
  }
  output(r.shrunk.result.trace, a);
  const file = a.replay ?? `simulate-replay-${seed}.yaml`;
  const header = `Replay file written by cnmkit simulate --seed ${seed} --steps ${steps ?? 30}\n${r.result.trace.problems.join('\n')}`;
  try {
    writeFileSync(file, scenarioToYaml(r.shrunk.scenario, header));
  } catch (e) {
    throw new UsageError(`--replay ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  process.stderr.write(`cnmkit simulate: invariant violated at step ${r.result.violationAt} of seed ${seed}; shrunk to ${r.shrunk.scenario.steps.length} steps (${r.shrunk.runs} runs); replay: cnmkit simulate ${file}\n`);
  return EXIT_VIOLATIONS;
}

/** `--seeds A..B --steps K [--shard i/n]`: one fuzz run per seed of this shard; the shard report written; exit 1 when a seed failed. */
async function simulateCampaign(a: SimulateArgs): Promise<number> {
  if (a.seeds === undefined) throw new UsageError('--shard, --shard-dir and --replay-dir need --seeds A..B');
  if (a.seed !== undefined || a.scenario !== undefined || a.replay !== undefined || a.html !== undefined) throw new UsageError('--seeds runs generated scenarios: give no --seed, scenario file, --replay or --html with it');
  const seeds = parseSeedRange(a.seeds, 0);
  const shard = a.shard !== undefined ? parseShard(a.shard) : { index: 1, count: 1 };
  const steps = integer('steps', a.steps, 1, 10_000) ?? 30;
  const replayDir = a['replay-dir'] ?? 'cnmkit-replays';
  const target = a.socket !== undefined ? `unix://${a.socket}` : 'reference';
  const log = a.json ? process.stderr : process.stdout;
  log.write(`cnmkit simulate --seeds ${seeds.from}..${seeds.to} --steps ${steps} --shard ${shard.index}/${shard.count} on ${target}\n`);
  const report = await runShard({
    command: 'simulate',
    seeds,
    shard,
    config: { steps, profile: a.profile ?? null },
    target,
    run: (seed) => simulateSeed(seed, { steps, replayDir, ...(a.socket !== undefined ? { socket: a.socket } : {}), ...(a.profile !== undefined ? { profile: a.profile } : {}) }),
    onRun: (seed, r, done, total) => log.write(`  [${done}/${total}] seed ${seed}: ${r.summary.failing > 0 ? `FAIL ${r.checks[0]?.message ?? ''}` : 'pass'} (${r.summary.calls} calls, ${r.summary.seconds} s)\n`),
  });
  const file = await writeShardReport(a['shard-dir'] ?? 'cnmkit-shards', report);
  const campaign = campaignOfShard(report);
  process.stdout.write(renderCampaign(a.json ? 'json' : 'console', campaign, !a.json && process.stdout.isTTY === true));
  process.stderr.write(`cnmkit simulate: shard report ${file}\n`);
  return campaignExitCode(campaign);
}
