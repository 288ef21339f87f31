/** Shared helpers of the conformance tests: temp sockets and a quick run. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSuites, type RunOptions } from '../../conformance/runner.js';
import type { ListeningPlugin } from './plugins/listen.js';
import type { ConformanceConfig } from '../../conformance/config.js';
import type { CheckResult, RunReport } from '../../conformance/types.js';

export interface TempDir {
  readonly path: string;
  socket(name: string): string;
  remove(): Promise<void>;
}

export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), 'cnmkit-conf-'));
  return { path, socket: (name) => join(path, `${name}.sock`), remove: () => rm(path, { recursive: true, force: true }) };
}

/** Small, fixed-seed runs: seconds, not minutes. */
export function quickConfig(dir: TempDir, overrides: Partial<ConformanceConfig> = {}): Partial<ConformanceConfig> {
  return { seed: 7, runs: 30, timeoutMs: 2000, replayDir: join(dir.path, 'replays'), ...overrides };
}

export async function runOn(socket: string, config: Partial<ConformanceConfig>): Promise<RunReport> {
  return runSuites({ socket }, config);
}

export function result(report: RunReport, id: string): CheckResult {
  const r = report.checks.find((c) => c.id === id);
  if (!r) throw new Error(`check ${id} not in report (have ${report.checks.map((c) => c.id).join(', ')})`);
  return r;
}

export function failedIds(report: RunReport): string[] {
  return report.checks.filter((c) => c.status === 'failed').map((c) => c.id);
}

let sockets = 0;

/** Start a plugin on a fresh socket in `dir`, run the suites against it with `quickConfig` + `config`, close it. */
export async function runPlugin(
  dir: TempDir,
  start: (socket: string) => Promise<Pick<ListeningPlugin, 'close'>>,
  config: Partial<ConformanceConfig> = {},
  options: RunOptions = {},
): Promise<RunReport> {
  const socket = dir.socket(`p${process.pid}-${sockets++}`);
  const plugin = await start(socket);
  try {
    return await runSuites({ socket }, quickConfig(dir, config), options);
  } finally {
    await plugin.close();
  }
}
