/**
 * Replay files: everything needed to show a failure again, independent of the
 * target (the check id, its seed and fast-check path, the config that shaped
 * the requests, and the calls made with their outcomes).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ResolvedConfig } from './config.js';
import { ReplayFileError } from './errors.js';
import type { CallSummary, CheckResult, Level } from './types.js';

export const REPLAY_FORMAT = 'cnmkit-replay/1';

export interface ReplayFile {
  readonly format: typeof REPLAY_FORMAT;
  readonly suite: string;
  readonly check: string;
  readonly level: Level;
  readonly title: string;
  readonly message: string;
  /** The check's seed (not the run seed). */
  readonly seed: number;
  /** fast-check counterexample path for model-based checks. */
  readonly path?: string;
  /** fast-check commands replayPath (model-based checks). */
  readonly commandsReplayPath?: string;
  readonly steps: readonly string[];
  readonly calls: readonly CallSummary[];
  readonly config: {
    readonly profile: string;
    readonly subnets: readonly string[];
    readonly ipamOpts: Readonly<Record<string, string>>;
    readonly driverOpts: Readonly<Record<string, string>>;
    readonly timeoutMs: number;
    readonly maxCommands: number;
    readonly concurrency: number;
    readonly stormSize: number;
  };
  readonly createdAt: string;
}

export function replayFileOf(result: CheckResult, config: ResolvedConfig): ReplayFile {
  const ce = result.counterexample;
  return {
    format: REPLAY_FORMAT,
    suite: result.suite,
    check: result.id,
    level: result.level,
    title: result.title,
    message: result.message,
    seed: ce?.seed ?? result.seed,
    ...(ce?.path !== undefined ? { path: ce.path } : {}),
    ...(ce?.commandsReplayPath !== undefined ? { commandsReplayPath: ce.commandsReplayPath } : {}),
    steps: ce?.steps ?? [],
    calls: ce?.calls ?? [],
    config: {
      profile: config.profile,
      subnets: config.subnets,
      ipamOpts: config.ipamOpts,
      driverOpts: config.driverOpts,
      timeoutMs: config.timeoutMs,
      maxCommands: config.maxCommands,
      concurrency: config.concurrency,
      stormSize: config.stormSize,
    },
    createdAt: new Date().toISOString(),
  };
}

/** Write `<dir>/<check-id>-<seed>.json`; returns the absolute path. */
export async function writeReplayFile(dir: string, result: CheckResult, config: ResolvedConfig): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = resolve(join(dir, `${result.id}-${(result.counterexample?.seed ?? result.seed) >>> 0}.json`));
  await writeFile(file, `${JSON.stringify(replayFileOf(result, config), null, 2)}\n`);
  return file;
}

export async function readReplayFile(path: string): Promise<ReplayFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ReplayFileError(`cannot read replay file ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ReplayFileError(`${path} is not JSON`);
  }
  const f = data as Partial<ReplayFile> | null;
  if (!f || f.format !== REPLAY_FORMAT || typeof f.check !== 'string' || typeof f.seed !== 'number' || !f.config) {
    throw new ReplayFileError(`${path} is not a ${REPLAY_FORMAT} file`);
  }
  return f as ReplayFile;
}
