/**
 * Campaigns split into shards, as CI matrix jobs run them: `check --seeds A..B
 * --shard i/n` and `simulate --seeds A..B --steps K --shard i/n` (subprocesses)
 * write one report per shard, each seed's run complete; `merge-reports` makes one
 * report in every format with every failure's seed and replay file; a check
 * failure's replay file reproduces it.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSeedRange, parseShard, shardSeeds } from '../../conformance/shard.js';
import { type MiniPlugin, startMiniIpam } from '../conformance/plugins/mini-ipam.js';
import { serveDoubleAddressPlugin } from './double-address-plugin.js';
import { runCli } from './run-cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cnmkit-shard-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface CampaignJson {
  format: string;
  command: string;
  seeds: { from: number; to: number };
  shards: number;
  summary: { runs: number; failingRuns: number; failing: number };
  failures: { seed: number; check: string; checkSeed: number; replayPath: string | null; message: string }[];
  runs: { seed: number; checks: { id: string; status: string }[] }[];
}

describe('the seed split', () => {
  it('every seed of the range is in exactly one shard, blocks contiguous, sizes within one', () => {
    fc.assert(
      fc.property(fc.integer({ min: -50, max: 50 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 12 }), (from, len, count) => {
        const range = { from, to: from + len };
        const parts = Array.from({ length: count }, (_, i) => shardSeeds(range, { index: i + 1, count }));
        const all = parts.flat();
        expect(all).toEqual(Array.from({ length: len + 1 }, (_, k) => from + k));
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('bad --seeds / --shard are usage errors naming the flag', () => {
    expect(() => parseSeedRange('5..1')).toThrow(/--seeds 5\.\.1: the first seed is larger than the last/);
    expect(() => parseSeedRange('1-5')).toThrow(/--seeds must be A\.\.B/);
    expect(() => parseShard('0/3')).toThrow(/--shard 0\/3: i must be from 1 to 3/);
    expect(() => parseShard('4/3')).toThrow(/i must be from 1 to 3/);
    expect(() => parseShard('2')).toThrow(/--shard must be i\/n/);
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
  });
});

describe('cnmkit check --seeds --shard, then merge-reports', () => {
  let broken: MiniPlugin;
  let correct: MiniPlugin;
  beforeAll(async () => {
    broken = await startMiniIpam(join(dir, 'broken.sock'), ['cursor-wrap-duplicate']);
    correct = await startMiniIpam(join(dir, 'correct.sock'), []);
  });
  afterAll(async () => {
    await broken?.close();
    await correct?.close();
  });

  const checkArgs = (socket: string, seeds: string, shard: string, out: string): string[] => [
    'check', '--socket', socket, '--check', 'ipam.no-duplicate-address', '--runs', '25', '--timeout', '5',
    '--seeds', seeds, '--shard', shard, '--shard-dir', join(out, 'shards'), '--replay-dir', join(out, 'replays'),
  ];

  it('each shard runs its own seeds and writes its report; the merged report has every failure with seed and replay file, in every format', async () => {
    const out = join(dir, 'broken');
    const shards = await Promise.all([1, 2].map((i) => runCli([...checkArgs(broken.socketPath, '11..15', `${i}/2`, out), '--reporter', 'json'], { timeoutMs: 120_000 })));
    for (const [i, r] of shards.entries()) {
      expect(r.code, r.stderr).toBe(1);
      const own = JSON.parse(r.stdout) as CampaignJson;
      expect(own.runs.map((x) => x.seed)).toEqual(i === 0 ? [11, 12, 13] : [14, 15]);
      expect(r.stderr).toMatch(new RegExp(`shard report .*shard-${i + 1}-of-2\\.json`));
    }
    expect(readdirSync(join(out, 'shards')).sort()).toEqual(['shard-1-of-2.json', 'shard-2-of-2.json']);

    const html = join(out, 'merged.html');
    const junit = join(out, 'merged.xml');
    const tap = join(out, 'merged.tap');
    const merged = await runCli(['merge-reports', join(out, 'shards'), '--reporter', 'json', '--reporter', `junit:${junit}`, '--reporter', `tap:${tap}`, '--reporter', `html:${html}`]);
    expect(merged.code, merged.stderr).toBe(1);
    const c = JSON.parse(merged.stdout) as CampaignJson;
    expect(c).toMatchObject({ format: 'cnmkit-campaign/1', command: 'check', seeds: { from: 11, to: 15 }, shards: 2 });
    expect(c.runs.map((x) => x.seed)).toEqual([11, 12, 13, 14, 15]);
    expect(c.summary.runs).toBe(5);
    expect(c.failures.map((f) => f.seed)).toEqual(c.runs.filter((x) => x.checks.some((k) => k.status === 'failed')).map((x) => x.seed));
    expect(c.failures.length).toBeGreaterThanOrEqual(3);
    for (const f of c.failures) {
      expect(f.check).toBe('ipam.no-duplicate-address');
      expect(f.replayPath).not.toBeNull();
      expect(existsSync(f.replayPath!)).toBe(true);
    }
    const seedsShown = (text: string): boolean => c.failures.every((f) => text.includes(`seed ${f.seed}`) && text.includes(f.replayPath!));
    expect(seedsShown(readFileSync(junit, 'utf8'))).toBe(true);
    expect(seedsShown(readFileSync(tap, 'utf8'))).toBe(true);
    expect(seedsShown(readFileSync(html, 'utf8'))).toBe(true);
    const console = await runCli(['merge-reports', join(out, 'shards')]);
    expect(console.code).toBe(1);
    expect(console.stdout).toMatch(/cnmkit check --seeds 11\.\.15 \(2 shards, 5 runs\)/);
    expect(console.stdout).toMatch(/FAILING: \d of 5 seeds failing/);
    expect(seedsShown(console.stdout)).toBe(true);

    // A failure's replay file reproduces it against the plugin.
    const again = await runCli(['replay', c.failures[0]!.replayPath!, '--socket', broken.socketPath]);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/still failing: ipam\.no-duplicate-address/);
  }, 240_000);

  it('a correct plugin: every shard and the merged report pass, exit 0; a rerun of a shard runs the same seeds', async () => {
    const out = join(dir, 'correct');
    for (const i of [1, 2, 3]) {
      const r = await runCli(checkArgs(correct.socketPath, '1..4', `${i}/3`, out), { timeoutMs: 120_000 });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/PASSING: 0 of \d seeds failing/);
    }
    const merged = await runCli(['merge-reports', join(out, 'shards'), '--reporter', 'json']);
    expect(merged.code).toBe(0);
    const c = JSON.parse(merged.stdout) as CampaignJson;
    expect(c.runs.map((x) => x.seed)).toEqual([1, 2, 3, 4]);
    expect(c.failures).toEqual([]);
    const again = await runCli([...checkArgs(correct.socketPath, '1..4', '1/3', join(out, 'again')), '--reporter', 'json']);
    expect((JSON.parse(again.stdout) as CampaignJson).runs.map((x) => x.seed)).toEqual([1, 2]);
  }, 240_000);

  it('flag errors are one line, exit 2', async () => {
    for (const [args, message] of [
      [['--seeds', '1..3', '--seed', '4'], /give either --seed or --seeds, not both/],
      [['--shard', '1/2'], /--shard needs --seeds A\.\.B/],
      [['--seeds', '3..1'], /the first seed is larger than the last/],
      [['--seeds', '1..3', '--shard', '3/2'], /--shard 3\/2: i must be from 1 to 2/],
    ] as const) {
      const r = await runCli(['check', '--socket', correct.socketPath, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 60_000);
});

describe('cnmkit simulate --seeds --steps --shard, then merge-reports', () => {
  let socket: string;
  let close: (() => Promise<void>) | null = null;
  /** The flawed plugin, started afresh (a plugin keeps the networks of earlier runs, whose ids a replay reuses). */
  async function fresh(): Promise<void> {
    await close?.();
    close = await serveDoubleAddressPlugin(socket);
  }
  beforeAll(async () => {
    socket = join(dir, 'sim-broken.sock');
    await fresh();
  });
  afterAll(async () => {
    await close?.();
  });

  it('three shards of a fuzz campaign merge into one report with the replay scenario of every failing seed (which the reference plugin runs clean)', async () => {
    const out = join(dir, 'sim');
    // One after the other: the jobs share one plugin here (in CI each job has its own).
    for (const i of [1, 2, 3]) {
      const r = await runCli(['simulate', '--seeds', '1..6', '--steps', '40', '--shard', `${i}/3`, '--socket', socket, '--shard-dir', join(out, 'shards'), '--replay-dir', join(out, 'replays')], { timeoutMs: 120_000 });
      expect(r.stdout).toMatch(/\[1\/2\] seed \d: (FAIL|pass)/);
    }
    const merged = await runCli(['merge-reports', join(out, 'shards'), '--reporter', 'json']);
    const c = JSON.parse(merged.stdout) as CampaignJson;
    expect(c.command).toBe('simulate');
    expect(c.runs.map((x) => x.seed)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c.failures.length).toBeGreaterThanOrEqual(2);
    expect(merged.code).toBe(1);
    for (const f of c.failures) {
      expect(f.check).toBe('simulate.invariants');
      expect(f.message).toMatch(/invariant violated at step \d+ of 40: .*duplicate address/);
      expect(f.replayPath).toMatch(new RegExp(`simulate-${f.seed}\\.yaml$`));
      expect(readFileSync(f.replayPath!, 'utf8').startsWith(`# Replay file written by cnmkit simulate --seed ${f.seed} --steps 40\n`)).toBe(true);
    }
    // The same scenario on the reference plugin holds every invariant: the flaw is the plugin's.
    const onReference = await runCli(['simulate', c.failures[0]!.replayPath!]);
    expect(onReference.code, onReference.stdout.slice(-3000)).toBe(0);
  }, 240_000);
});
