/**
 * `cnmkit merge-reports DIR` on shard reports made here: one campaign in every
 * format, failures below a run's level not failing it, and every kind of bad
 * input (no reports, a missing, doubled or cut-short shard, shards of another
 * campaign or configuration, a file that is no shard report) refused with one
 * line and exit 2.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignJunit, campaignTap, mergeShardReports } from '../../conformance/report/merge.js';
import { parseShardReport, SHARD_FORMAT, type ShardReport, shardReportText, shardSeeds } from '../../conformance/shard.js';
import type { CheckResult, Level, RunReport } from '../../conformance/types.js';
import { runCli } from './run-cli.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'cnmkit-merge-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function check(id: string, status: CheckResult['status'], level: Level, seed: number, replayPath?: string): CheckResult {
  return {
    suite: id.split('.')[0]!,
    id,
    title: `title of ${id}`,
    level,
    reason: 'a rule',
    status,
    message: status === 'failed' ? `${id} failed <on> seed ${seed} & "quoted"` : '',
    notes: [],
    ...(status === 'failed' ? { counterexample: { steps: ['RequestPool 10.0.0.0/28'], calls: [], seed: seed * 7 } } : {}),
    seed: seed * 7,
    ...(replayPath !== undefined ? { replayPath } : {}),
    calls: 3,
    durationMs: 5,
  };
}

/** Seed 3 fails a must check; seed 4 only a compat one (not failing at should). */
function run(seed: number): RunReport {
  const checks = [check('ipam.a', seed === 3 ? 'failed' : 'passed', 'must', seed, seed === 3 ? `/replays/ipam.a-${seed * 7}.json` : undefined), check('ipam.b', seed === 4 ? 'failed' : 'skipped', 'compat', seed)];
  const failed = checks.filter((c) => c.status === 'failed').length;
  return {
    target: 'unix:///x.sock',
    level: 'should',
    seed,
    profile: 'docker-20.10',
    capabilities: ['ipam'],
    pluginKind: 'v1',
    startedAt: '2026-12-05T00:00:00.000Z',
    summary: { passed: checks.filter((c) => c.status === 'passed').length, failed, skipped: checks.filter((c) => c.status === 'skipped').length, notRun: 0, failing: seed === 3 ? 1 : 0, calls: 6, seconds: 0.01, callsPerSecond: 600 },
    checks,
    deaths: [],
    leaks: [],
  };
}

function shard(index: number, count: number, over: Partial<ShardReport> = {}): ShardReport {
  const seeds = over.seeds ?? { from: 1, to: 5 };
  return {
    format: SHARD_FORMAT,
    command: 'check',
    seeds,
    shard: { index, count },
    config: { level: 'should', runs: 100 },
    target: `unix:///tmp/job${index}/x.sock`,
    startedAt: `2026-12-05T00:0${index}:00.000Z`,
    seconds: 1.5,
    runs: shardSeeds(seeds, { index, count }).map(run),
    ...over,
  };
}

let dirs = 0;
function dirWith(files: Record<string, string>): string {
  const d = join(root, `d${dirs++}`);
  mkdirSync(d);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

describe('merge-reports', () => {
  it('merges the shards of one campaign in seed order, in every format; a compat difference does not fail it', async () => {
    const d = dirWith({ 'shard-2-of-2.json': shardReportText(shard(2, 2)), 'shard-1-of-2.json': shardReportText(shard(1, 2)), 'notes.txt': 'ignored' });
    const r = await runCli(['merge-reports', d, '--reporter', 'json']);
    expect(r.code).toBe(1);
    const c = JSON.parse(r.stdout) as { runs: { seed: number }[]; failures: { seed: number; check: string; failing: boolean; checkSeed: number; replayPath: string | null }[]; summary: { runs: number; failingRuns: number }; targets: string[] };
    expect(c.runs.map((x) => x.seed)).toEqual([1, 2, 3, 4, 5]);
    expect(c.failures).toEqual([
      { seed: 3, check: 'ipam.a', level: 'must', failing: true, message: expect.stringContaining('seed 3') as unknown, checkSeed: 21, path: null, replayPath: '/replays/ipam.a-21.json' },
      { seed: 4, check: 'ipam.b', level: 'compat', failing: false, message: expect.stringContaining('seed 4') as unknown, checkSeed: 28, path: null, replayPath: null },
    ]);
    expect(c.summary).toMatchObject({ runs: 5, failingRuns: 1 });
    expect(c.targets).toEqual(['unix:///tmp/job1/x.sock', 'unix:///tmp/job2/x.sock']);

    const console = await runCli(['merge-reports', d]);
    expect(console.stdout).toMatch(/✗ seed 3: ipam\.a \[must\]/);
    expect(console.stdout).toMatch(/~ seed 4: ipam\.b \[compat\]/);
    expect(console.stdout).toMatch(/replay: cnmkit replay \/replays\/ipam\.a-21\.json/);
    expect(console.stdout).toMatch(/FAILING: 1 of 5 seeds failing/);

    // Without the must failure the campaign passes (exit 0) although seed 4 has a compat difference.
    const passing = (s: ShardReport): ShardReport => ({ ...s, runs: s.runs.map((x) => (x.seed === 3 ? { ...run(2), seed: 3 } : x)) });
    const ok = dirWith({ 'a.json': shardReportText(passing(shard(1, 2))), 'b.json': shardReportText(passing(shard(2, 2))) });
    const okRun = await runCli(['merge-reports', ok]);
    expect(okRun.code, okRun.stdout).toBe(0);
  }, 60_000);

  it('JUnit and TAP: one case per seed and check, escaped; the compat difference is skipped / TODO', () => {
    const c = mergeShardReports([1, 2].map((i) => ({ file: `s${i}.json`, report: parseShardReport(shardReportText(shard(i, 2)), `s${i}.json`) })));
    const xml = campaignJunit(c);
    expect(xml).toMatch(/<testsuites name="cnmkit check --seeds 1\.\.5 \(2 shards, 5 runs\)[^"]*" tests="10" failures="1"/);
    expect(xml).toContain('<failure message="ipam.a failed &lt;on&gt; seed 3 &amp; &quot;quoted&quot;" type="must">');
    expect(xml).toContain('<skipped message="compat difference (not failing at --level should): ipam.b failed &lt;on&gt; seed 4');
    expect((xml.match(/<testcase /g) ?? []).length).toBe(10);
    const tap = campaignTap(c);
    expect(tap).toMatch(/^TAP version 13\n1\.\.10\n/);
    expect(tap).toMatch(/not ok 5 - seed 3 ipam\.a \[must\] title of ipam\.a\n {2}---\n/);
    expect(tap).toMatch(/not ok 8 - seed 4 ipam\.b \[compat\] title of ipam\.b # TODO compat level/);
    expect(tap).toContain('  replay: "/replays/ipam.a-21.json"');
  });

  it('bad input: one line, exit 2', async () => {
    const one = shardReportText(shard(1, 3));
    const two = shardReportText(shard(2, 3));
    const three = shardReportText(shard(3, 3));
    const cases: [string, RegExp][] = [
      [join(root, 'nope'), /^cnmkit: cannot read .*nope: ENOENT$/],
      [dirWith({}), /^cnmkit: no shard reports \(\*\.json\) in /],
      [dirWith({ 'a.json': one, 'c.json': three }), /^cnmkit: missing shard 2\/3 \(have 1, 3 of 3\)$/],
      [dirWith({ 'a.json': one, 'b.json': two, 'b2.json': two, 'c.json': three }), /^cnmkit: shard 2\/3 given twice: .*b\.json and .*b2\.json$/],
      [dirWith({ 'a.json': one, 'b.json': shardReportText(shard(2, 3, { config: { level: 'should', runs: 50 } })), 'c.json': three }), /^cnmkit: mixed configurations: .*b\.json and .*a\.json differ in runs: 100 vs 50$/],
      [dirWith({ 'a.json': one, 'b.json': shardReportText(shard(2, 3, { seeds: { from: 1, to: 9 } })) }), /^cnmkit: mixed campaigns: .*b\.json covers seeds 1\.\.9, .*a\.json 1\.\.5$/],
      [dirWith({ 'a.json': one, 'b.json': shardReportText(shard(2, 3, { command: 'simulate' })) }), /^cnmkit: mixed campaigns: .*b\.json is from cnmkit simulate, .*a\.json from cnmkit check$/],
      [dirWith({ 'a.json': one, 'b.json': shardReportText(shard(2, 4)) }), /^cnmkit: mixed campaigns: .*b\.json is shard 2\/4, .*a\.json shard 1\/3$/],
      [dirWith({ 'a.json': one, 'b.json': shardReportText({ ...shard(2, 3), runs: [run(3)] }), 'c.json': three }), /^cnmkit: .*b\.json: shard 2\/3 should hold the runs of seeds 3\.\.4, holds 3 \(an interrupted job\?\)$/],
      [dirWith({ 'a.json': '{"format":"cnmkit-replay/1"}' }), /^cnmkit: .*a\.json is not a cnmkit-shard\/1 report/],
      [dirWith({ 'a.json': 'not json' }), /^cnmkit: .*a\.json is not JSON$/],
      [dirWith({ 'a.json': JSON.stringify({ ...JSON.parse(one), runs: [{ seed: 1 }] }) }), /^cnmkit: .*a\.json: a run is not in the JSON report format/],
    ];
    for (const [d, message] of cases) {
      const r = await runCli(['merge-reports', d]);
      expect(r.code, `${d}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim(), d).toMatch(message);
      expect(r.stderr.trim().split('\n'), d).toHaveLength(1);
    }
    const bad = await runCli(['merge-reports', dirWith({ 'a.json': shardReportText(shard(1, 1)) }), '--reporter', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--reporter must be one of console, json, junit, tap, html, got "xml"/);
  }, 120_000);
});
