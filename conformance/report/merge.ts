/**
 * One campaign from its shard reports (`cnmkit merge-reports DIR`), and the
 * campaign in every reporter format: console, JSON, JUnit, TAP. Every failure
 * keeps the seed of its run, its check seed and its replay file. Bad input
 * (no reports, a missing or doubled shard, shards of different campaigns) is
 * refused with one line naming the files.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type CampaignCommand, readShardReport, type SeedRange, type ShardReport, ShardReportError, shardSeeds } from '../shard.js';
import { type CheckResult, type Level, levelFails, type RunReport } from '../types.js';
import { checkJson } from './json.js';
import { counterexampleText, htmlText, paint, xmlText } from './text.js';
import { specLinksHtml } from './html.js';

export const CAMPAIGN_FORMAT = 'cnmkit-campaign/1';

export interface Campaign {
  readonly command: CampaignCommand;
  readonly seeds: SeedRange;
  /** Shards merged (all of them). */
  readonly shards: number;
  readonly config: Readonly<Record<string, unknown>>;
  /** Distinct targets the shards ran against (socket paths differ between CI machines). */
  readonly targets: readonly string[];
  readonly startedAt: string;
  /** Sum over the shards (CPU-time-like: the shards ran in parallel). */
  readonly seconds: number;
  /** Every run, in seed order. */
  readonly runs: readonly RunReport[];
}

interface CampaignFailure {
  /** The run's seed (`--seed` of that run). */
  readonly runSeed: number;
  readonly check: CheckResult;
  /** At or above the run's level. */
  readonly failing: boolean;
}

/** The campaign of one shard (what `check --seeds --shard` prints before merging). */
export function campaignOfShard(r: ShardReport): Campaign {
  return { command: r.command, seeds: r.seeds, shards: 1, config: r.config, targets: [r.target], startedAt: r.startedAt, seconds: r.seconds, runs: r.runs };
}

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The first setting two configurations differ in, as `key: a vs b`. */
function configDifference(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string | null {
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (stable(a[k]) !== stable(b[k])) return `${k}: ${stable(a[k])} vs ${stable(b[k])}`;
  }
  return null;
}

export interface NamedShard {
  readonly file: string;
  readonly report: ShardReport;
}

/** Merge shard reports of one campaign; throws ShardReportError for anything that is not a whole campaign. */
export function mergeShardReports(shards: readonly NamedShard[]): Campaign {
  if (shards.length === 0) throw new ShardReportError('no shard reports to merge');
  const first = shards[0]!;
  const name = (s: NamedShard): string => s.file;
  for (const s of shards.slice(1)) {
    const r = s.report;
    if (r.command !== first.report.command) throw new ShardReportError(`mixed campaigns: ${name(s)} is from cnmkit ${r.command}, ${name(first)} from cnmkit ${first.report.command}`);
    if (r.seeds.from !== first.report.seeds.from || r.seeds.to !== first.report.seeds.to) throw new ShardReportError(`mixed campaigns: ${name(s)} covers seeds ${r.seeds.from}..${r.seeds.to}, ${name(first)} ${first.report.seeds.from}..${first.report.seeds.to}`);
    if (r.shard.count !== first.report.shard.count) throw new ShardReportError(`mixed campaigns: ${name(s)} is shard ${r.shard.index}/${r.shard.count}, ${name(first)} shard ${first.report.shard.index}/${first.report.shard.count}`);
    const diff = configDifference(first.report.config, r.config);
    if (diff !== null) throw new ShardReportError(`mixed configurations: ${name(s)} and ${name(first)} differ in ${diff}`);
  }
  const count = first.report.shard.count;
  const byIndex = new Map<number, NamedShard>();
  for (const s of shards) {
    const twin = byIndex.get(s.report.shard.index);
    if (twin) throw new ShardReportError(`shard ${s.report.shard.index}/${count} given twice: ${name(twin)} and ${name(s)}`);
    byIndex.set(s.report.shard.index, s);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length > 0) throw new ShardReportError(`missing shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} (have ${[...byIndex.keys()].sort((a, b) => a - b).join(', ')} of ${count})`);
  for (const s of shards) {
    const want = shardSeeds(first.report.seeds, s.report.shard);
    const got = s.report.runs.map((r) => r.seed);
    if (stable(want) !== stable(got)) throw new ShardReportError(`${name(s)}: shard ${s.report.shard.index}/${count} should hold the runs of seeds ${want.length > 0 ? `${want[0]}..${want[want.length - 1]}` : '(none)'}, holds ${got.length > 0 ? got.join(', ') : 'none'} (an interrupted job?)`);
  }
  const ordered = [...shards].sort((a, b) => a.report.shard.index - b.report.shard.index);
  return {
    command: first.report.command,
    seeds: first.report.seeds,
    shards: count,
    config: first.report.config,
    targets: [...new Set(ordered.map((s) => s.report.target))],
    startedAt: ordered.map((s) => s.report.startedAt).sort()[0] ?? '',
    seconds: Math.round(ordered.reduce((t, s) => t + s.report.seconds, 0) * 1000) / 1000,
    runs: ordered.flatMap((s) => s.report.runs),
  };
}

/** Every `*.json` shard report in `dir` (other files are ignored; a JSON file that is no shard report is an error). */
export async function readShardDir(dir: string): Promise<NamedShard[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (e) {
    throw new ShardReportError(`cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (names.length === 0) throw new ShardReportError(`no shard reports (*.json) in ${dir}`);
  return Promise.all(names.map(async (n) => ({ file: join(dir, n), report: await readShardReport(join(dir, n)) })));
}

function campaignFailures(c: Campaign): CampaignFailure[] {
  return c.runs.flatMap((run) => run.checks.filter((k) => k.status === 'failed').map((check) => ({ runSeed: run.seed, check, failing: levelFails(check.level, run.level) })));
}

interface CampaignSummary {
  readonly runs: number;
  readonly failingRuns: number;
  readonly passed: number;
  readonly failed: number;
  readonly failing: number;
  readonly skipped: number;
  readonly notRun: number;
  readonly calls: number;
  readonly seconds: number;
}

function campaignSummary(c: Campaign): CampaignSummary {
  const sum = (f: (r: RunReport) => number): number => c.runs.reduce((t, r) => t + f(r), 0);
  return {
    runs: c.runs.length,
    failingRuns: c.runs.filter((r) => r.summary.failing > 0).length,
    passed: sum((r) => r.summary.passed),
    failed: sum((r) => r.summary.failed),
    failing: sum((r) => r.summary.failing),
    skipped: sum((r) => r.summary.skipped),
    notRun: sum((r) => r.summary.notRun),
    calls: sum((r) => r.summary.calls),
    seconds: c.seconds,
  };
}

/** 0: no run failed at its level; 1: at least one did. */
export function campaignExitCode(c: Campaign): 0 | 1 {
  return campaignSummary(c).failing > 0 ? 1 : 0;
}

function title(c: Campaign): string {
  return `cnmkit ${c.command} --seeds ${c.seeds.from}..${c.seeds.to} (${c.shards} shard${c.shards > 1 ? 's' : ''}, ${c.runs.length} run${c.runs.length === 1 ? '' : 's'}) on ${c.targets.join(', ') || 'no target'}`;
}

function campaignConsole(c: Campaign, opts: { color?: boolean } = {}): string {
  const color = opts.color ?? false;
  const out: string[] = [paint(color, 1, title(c))];
  for (const r of c.runs) {
    const s = r.summary;
    const verdict = s.failing > 0 ? paint(color, 31, 'FAIL') : paint(color, 32, 'PASS');
    out.push(`  ${verdict}  seed ${r.seed}: ${s.passed} passed, ${s.failed} failed (${s.failing} failing), ${s.skipped} skipped${s.notRun > 0 ? `, ${s.notRun} not run` : ''}; ${s.calls} calls in ${s.seconds} s`);
  }
  const failures = campaignFailures(c);
  if (failures.length > 0) {
    out.push('', paint(color, 1, 'Failures'));
    for (const f of failures) {
      out.push('', `${f.failing ? paint(color, 31, '✗') : paint(color, 36, '~')} seed ${f.runSeed}: ${f.check.id} [${f.check.level}] ${f.check.title}`);
      out.push(`  ${f.check.message}`);
      out.push(`  rerun: cnmkit ${c.command} --seed ${f.runSeed}${c.command === 'simulate' && typeof c.config['steps'] === 'number' ? ` --steps ${c.config['steps']}` : ''}`);
      const ce = counterexampleText(f.check);
      if (ce) out.push(ce);
      else if (f.check.replayPath) out.push(`  replay: ${f.check.replayPath}`);
    }
  }
  const s = campaignSummary(c);
  out.push('', `${s.failing > 0 ? paint(color, 31, 'FAILING') : paint(color, 32, 'PASSING')}: ${s.failingRuns} of ${s.runs} seeds failing; ${s.passed} passed, ${s.failed} failed (${s.failing} failing), ${s.skipped} skipped${s.notRun > 0 ? `, ${s.notRun} not run` : ''}; ${s.calls} plugin calls, ${s.seconds} s over ${c.shards} shard${c.shards > 1 ? 's' : ''}`);
  return `${out.join('\n')}\n`;
}

function campaignJson(c: Campaign): string {
  return `${JSON.stringify(
    {
      format: CAMPAIGN_FORMAT,
      command: c.command,
      seeds: c.seeds,
      shards: c.shards,
      config: c.config,
      targets: c.targets,
      startedAt: c.startedAt,
      summary: campaignSummary(c),
      failures: campaignFailures(c).map((f) => ({
        seed: f.runSeed,
        check: f.check.id,
        level: f.check.level,
        failing: f.failing,
        message: f.check.message,
        checkSeed: f.check.counterexample?.seed ?? f.check.seed,
        path: f.check.counterexample?.path ?? null,
        replayPath: f.check.replayPath ?? null,
      })),
      runs: c.runs.map((r) => ({
        seed: r.seed,
        target: r.target,
        level: r.level,
        profile: r.profile,
        summary: r.summary,
        deaths: r.deaths,
        checks: r.checks.map(checkJson),
        leaks: r.leaks,
      })),
    },
    null,
    2,
  )}\n`;
}

/** JUnit XML: one testsuite per (seed, suite); failures below a run's level are skipped with a note. */
export function campaignJunit(c: Campaign): string {
  const s = campaignSummary(c);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites name="${xmlText(title(c))}" tests="${c.runs.reduce((t, r) => t + r.checks.length, 0)}" failures="${s.failing}" time="${s.seconds}">`);
  for (const run of c.runs) {
    const suites = [...new Set(run.checks.map((k) => k.suite))];
    for (const suite of suites) {
      const checks = run.checks.filter((k) => k.suite === suite);
      const fails = (k: CheckResult): boolean => k.status === 'failed' && levelFails(k.level, run.level as Level);
      const skipped = checks.filter((k) => k.status === 'skipped' || k.status === 'not-run' || (k.status === 'failed' && !fails(k))).length;
      const time = checks.reduce((t, k) => t + k.durationMs, 0) / 1000;
      out.push(`  <testsuite name="${xmlText(`seed ${run.seed} ${suite}`)}" tests="${checks.length}" failures="${checks.filter(fails).length}" skipped="${skipped}" time="${time.toFixed(3)}">`);
      for (const k of checks) {
        out.push(`    <testcase classname="${xmlText(`cnmkit.seed${run.seed}.${suite}`)}" name="${xmlText(`${k.id} [${k.level}] ${k.title} (seed ${run.seed})`)}" time="${(k.durationMs / 1000).toFixed(3)}">`);
        if (fails(k)) out.push(`      <failure message="${xmlText(k.message)}" type="${k.level}">${xmlText(`${k.message}\nrun seed: ${run.seed}\nreason: ${k.reason}\n${counterexampleText(k)}${k.replayPath && !k.counterexample ? `\nreplay: ${k.replayPath}` : ''}`)}</failure>`);
        else if (k.status === 'failed') out.push(`      <skipped message="${xmlText(`${k.level} difference (not failing at --level ${run.level}): ${k.message}`)}"/>`);
        else if (k.status === 'skipped' || k.status === 'not-run') out.push(`      <skipped message="${xmlText(k.message)}"/>`);
        out.push('    </testcase>');
      }
      out.push('  </testsuite>');
    }
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

/** TAP version 13: one line per (seed, check); failures below a run's level are `# TODO`. */
export function campaignTap(c: Campaign): string {
  const total = c.runs.reduce((t, r) => t + r.checks.length, 0);
  const out: string[] = ['TAP version 13', `1..${total}`];
  let n = 0;
  for (const run of c.runs) {
    for (const k of run.checks) {
      n++;
      const name = `seed ${run.seed} ${k.id} [${k.level}] ${k.title}`.replace(/#/g, '\\#');
      if (k.status === 'passed') out.push(`ok ${n} - ${name}`);
      else if (k.status === 'skipped' || k.status === 'not-run') out.push(`ok ${n} - ${name} # SKIP ${k.message.replace(/\n/g, ' ')}`);
      else {
        out.push(`not ok ${n} - ${name}${levelFails(k.level, run.level) ? '' : ` # TODO ${k.level} level, not failing at --level ${run.level}`}`);
        out.push('  ---', `  message: ${JSON.stringify(k.message)}`, `  severity: ${k.level}`, `  run seed: ${run.seed}`, `  seed: ${k.counterexample?.seed ?? k.seed}`);
        if (k.replayPath) out.push(`  replay: ${JSON.stringify(k.replayPath)}`);
        out.push('  ...');
      }
    }
  }
  const s = campaignSummary(c);
  out.push(`# ${s.failingRuns} of ${s.runs} seeds failing; passed ${s.passed}, failed ${s.failed}, skipped ${s.skipped}, not run ${s.notRun}, ${s.calls} calls, ${s.seconds}s over ${c.shards} shards`);
  return `${out.join('\n')}\n`;
}

/** One self-contained page (no scripts): a row per seed, then every failure with its counterexample and replay file. */
function campaignHtml(c: Campaign): string {
  const s = campaignSummary(c);
  const rows = c.runs.map((r) => {
    const v = r.summary.failing > 0 ? 'fail' : 'pass';
    return `<tr class="${v}"><td>${r.seed}</td><td>${v.toUpperCase()}</td><td>${r.summary.passed}</td><td>${r.summary.failed} (${r.summary.failing} failing)</td><td>${r.summary.skipped}</td><td>${r.summary.calls}</td><td>${r.summary.seconds} s</td></tr>`;
  });
  const failures = campaignFailures(c).map(
    (f) =>
      `<section class="${f.failing ? 'fail' : 'diff'}"><h3>seed ${f.runSeed}: ${htmlText(f.check.id)} [${htmlText(f.check.level)}] ${htmlText(f.check.title)}</h3><p>${htmlText(f.check.message)}</p><p class="rule">${htmlText(f.check.reason)}</p>${specLinksHtml(f.check.reason)}${f.check.replayPath ? `<p>replay file: <code>${htmlText(f.check.replayPath)}</code></p>` : ''}<pre>${htmlText(counterexampleText(f.check))}</pre></section>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${htmlText(title(c))}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}tr.fail td{background:#fdd}tr.pass td{background:#dfd}section{border-left:4px solid #c00;padding-left:1em;margin:1em 0}section.diff{border-color:#08a}pre{background:#f6f6f6;padding:8px;overflow:auto}.rule{color:#555}</style></head>
<body><h1>${htmlText(title(c))}</h1>
<p><strong>${s.failing > 0 ? 'FAILING' : 'PASSING'}</strong>: ${s.failingRuns} of ${s.runs} seeds failing; ${s.passed} passed, ${s.failed} failed (${s.failing} failing), ${s.skipped} skipped; ${s.calls} plugin calls, ${s.seconds} s over ${c.shards} shards</p>
<table><tr><th>seed</th><th>verdict</th><th>passed</th><th>failed</th><th>skipped</th><th>calls</th><th>time</th></tr>
${rows.join('\n')}
</table>
${failures.length > 0 ? `<h2>Failures</h2>\n${failures.join('\n')}` : ''}
</body></html>
`;
}

export type CampaignReporter = 'console' | 'json' | 'junit' | 'tap' | 'html';

export function renderCampaign(name: CampaignReporter, c: Campaign, color = false): string {
  switch (name) {
    case 'console':
      return campaignConsole(c, { color });
    case 'json':
      return campaignJson(c);
    case 'junit':
      return campaignJunit(c);
    case 'tap':
      return campaignTap(c);
    case 'html':
      return campaignHtml(c);
  }
}
