/**
 * Campaigns split across CI jobs the way test runners shard: `--seeds A..B
 * --shard i/n` runs a deterministic slice of the seed range (contiguous blocks,
 * as `vitest --shard` slices its files), each seed's run complete, and writes
 * one shard report: the run reports in the JSON reporter's format plus what
 * identifies the campaign (command, seed range, shard count, the settings that
 * shape the runs), so `cnmkit merge-reports` can refuse missing shards and
 * mixed configurations.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CnmkitError, UsageError } from '../src/errors.js';
import { jsonReport } from './report/json.js';
import type { CheckResult, Counterexample, RunReport } from './types.js';

export const SHARD_FORMAT = 'cnmkit-shard/1';

/** Inclusive seed range. */
export interface SeedRange {
  readonly from: number;
  readonly to: number;
}

/** 1-based shard index of `count`. */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

export type CampaignCommand = 'check' | 'simulate';

export interface ShardReport {
  readonly format: typeof SHARD_FORMAT;
  readonly command: CampaignCommand;
  readonly seeds: SeedRange;
  readonly shard: ShardSpec;
  /** The settings every shard of one campaign shares (compared by merge-reports). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly target: string;
  readonly startedAt: string;
  readonly seconds: number;
  /** One full run per seed of this shard, in seed order. */
  readonly runs: readonly RunReport[];
}

/** Bad shard input: a usage error (exit 2). */
export class ShardReportError extends CnmkitError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}

const SEED_MAX = 2 ** 31 - 1;

export function parseSeedRange(text: string, min = -(2 ** 31)): SeedRange {
  const m = /^(-?\d+)\.\.(-?\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--seeds must be A..B (two integers, e.g. 1..100), got ${JSON.stringify(text)}`);
  const from = Number(m[1]);
  const to = Number(m[2]);
  for (const v of [from, to]) if (!Number.isSafeInteger(v) || v < min || v > SEED_MAX) throw new UsageError(`--seeds: ${v} is not a seed from ${min} to ${SEED_MAX}`);
  if (from > to) throw new UsageError(`--seeds ${text}: the first seed is larger than the last`);
  if (to - from >= 1_000_000) throw new UsageError(`--seeds ${text}: at most 1000000 seeds per campaign`);
  return { from, to };
}

export function parseShard(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--shard must be i/n (e.g. 2/4), got ${JSON.stringify(text)}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 10_000) throw new UsageError(`--shard ${text}: n must be from 1 to 10000`);
  if (index < 1 || index > count) throw new UsageError(`--shard ${text}: i must be from 1 to ${count}`);
  return { index, count };
}

/** The seeds of one shard: contiguous blocks whose sizes differ by at most one; every seed in exactly one shard. */
export function shardSeeds(range: SeedRange, shard: ShardSpec): number[] {
  const total = range.to - range.from + 1;
  const base = Math.floor(total / shard.count);
  const extra = total % shard.count;
  // The first `extra` shards take one seed more.
  const start = (shard.index - 1) * base + Math.min(shard.index - 1, extra);
  const size = base + (shard.index <= extra ? 1 : 0);
  return Array.from({ length: size }, (_, k) => range.from + start + k);
}

function shardFileName(shard: ShardSpec): string {
  return `shard-${shard.index}-of-${shard.count}.json`;
}

export interface ShardRunOptions {
  readonly command: CampaignCommand;
  readonly seeds: SeedRange;
  readonly shard: ShardSpec;
  readonly config: Readonly<Record<string, unknown>>;
  readonly target: string;
  /** One full run for one seed. */
  run(seed: number): Promise<RunReport>;
  /** After each seed (progress lines). */
  onRun?(seed: number, report: RunReport, done: number, total: number): void;
}

/** Run every seed of the shard, one after the other. */
export async function runShard(o: ShardRunOptions): Promise<ShardReport> {
  const seeds = shardSeeds(o.seeds, o.shard);
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const runs: RunReport[] = [];
  for (const seed of seeds) {
    const report = await o.run(seed);
    runs.push(report);
    o.onRun?.(seed, report, runs.length, seeds.length);
  }
  return {
    format: SHARD_FORMAT,
    command: o.command,
    seeds: o.seeds,
    shard: o.shard,
    config: o.config,
    target: o.target,
    startedAt,
    seconds: Math.round(performance.now() - started) / 1000,
    runs,
  };
}

/** The shard file: the runs as the JSON reporter writes them. */
export function shardReportText(r: ShardReport): string {
  const runs = r.runs.map((run) => JSON.parse(jsonReport(run)) as unknown);
  return `${JSON.stringify({ ...r, runs }, null, 2)}\n`;
}

/** Writes `<dir>/shard-<i>-of-<n>.json`; returns the absolute path. */
export async function writeShardReport(dir: string, r: ShardReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = resolve(join(dir, shardFileName(r.shard)));
  await writeFile(file, shardReportText(r));
  return file;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A run report back from the JSON reporter's format. */
function runReportFromJson(v: unknown, where: string): RunReport {
  if (!isObject(v) || !Array.isArray(v['checks']) || !isObject(v['summary']) || typeof v['seed'] !== 'number' || typeof v['target'] !== 'string') {
    throw new ShardReportError(`${where}: a run is not in the JSON report format (target, seed, summary, checks)`);
  }
  const checks = (v['checks'] as unknown[]).map((c, i): CheckResult => {
    if (!isObject(c) || typeof c['id'] !== 'string' || typeof c['status'] !== 'string' || typeof c['level'] !== 'string') throw new ShardReportError(`${where}: check ${i} of the run with seed ${String(v['seed'])} has no id, status or level`);
    const { counterexample, replayPath, ...rest } = c;
    return {
      ...(rest as unknown as Omit<CheckResult, 'counterexample' | 'replayPath'>),
      ...(isObject(counterexample) ? { counterexample: counterexample as unknown as Counterexample } : {}),
      ...(typeof replayPath === 'string' ? { replayPath } : {}),
    };
  });
  return { ...(v as unknown as RunReport), checks, deaths: Array.isArray(v['deaths']) ? (v['deaths'] as RunReport['deaths']) : [], leaks: Array.isArray(v['leaks']) ? (v['leaks'] as RunReport['leaks']) : [] };
}

export function parseShardReport(text: string, where: string): ShardReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ShardReportError(`${where} is not JSON`);
  }
  if (!isObject(data) || data['format'] !== SHARD_FORMAT) throw new ShardReportError(`${where} is not a ${SHARD_FORMAT} report (written by cnmkit check/simulate --seeds A..B --shard i/n)`);
  const seeds = data['seeds'];
  const shard = data['shard'];
  if (
    (data['command'] !== 'check' && data['command'] !== 'simulate') ||
    !isObject(seeds) ||
    typeof seeds['from'] !== 'number' ||
    typeof seeds['to'] !== 'number' ||
    !isObject(shard) ||
    typeof shard['index'] !== 'number' ||
    typeof shard['count'] !== 'number' ||
    !isObject(data['config']) ||
    !Array.isArray(data['runs'])
  ) {
    throw new ShardReportError(`${where}: incomplete ${SHARD_FORMAT} report (command, seeds, shard, config, runs)`);
  }
  const runs = (data['runs'] as unknown[]).map((r) => runReportFromJson(r, where));
  return {
    format: SHARD_FORMAT,
    command: data['command'],
    seeds: { from: seeds['from'], to: seeds['to'] },
    shard: { index: shard['index'], count: shard['count'] },
    config: data['config'],
    target: typeof data['target'] === 'string' ? data['target'] : '',
    startedAt: typeof data['startedAt'] === 'string' ? data['startedAt'] : '',
    seconds: typeof data['seconds'] === 'number' ? data['seconds'] : 0,
    runs,
  };
}

export async function readShardReport(file: string): Promise<ShardReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ShardReportError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseShardReport(text, file);
}
