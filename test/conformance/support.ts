/** Shared helpers of the conformance tests: temp sockets and a quick run. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSuites, type RunOptions } from '../../conformance/runner.js';
import type { ListeningPlugin } from './plugins/listen.js';
import type { ConformanceConfig } from '../../conformance/config.js';
import type { CheckResult, RunReport } from '../../conformance/types.js';
import { IpamIds } from '../../conformance/ipam/ids.js';
import { readReplayFile, type ReplayFile } from '../../conformance/replay-file.js';
import { type MiniPlugin, startMiniIpam } from './plugins/mini-ipam.js';

/** The multi suite's checks, in the order a run reports them. */
export const MULTI_CHECK_IDS: readonly string[] = ['multi.global-space', 'multi.pool-used-everywhere', 'multi.release-seen-everywhere', 'multi.model', 'multi.storm-no-duplicate', 'multi.storm-linearizable', 'multi.restart-one-instance'];

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

/**
 * A recorded failure to replay: ipam.no-duplicate-address failed on the mini IPAM with the
 * cursor-wrap flaw, its replay file, and the same IPAM without the flaw; both stop after `body`.
 */
export async function withDuplicateFailure(dir: TempDir, body: (x: { broken: MiniPlugin; fixed: MiniPlugin; failure: CheckResult; file: ReplayFile }) => Promise<void>): Promise<void> {
  const broken = await startMiniIpam(dir.socket('dup'), ['cursor-wrap-duplicate']);
  const fixed = await startMiniIpam(dir.socket('fixed'));
  try {
    const report = await runOn(broken.socketPath, quickConfig(dir, { checks: [IpamIds.noDuplicate] }));
    const failure = result(report, IpamIds.noDuplicate);
    if (failure.status !== 'failed') throw new Error(`${IpamIds.noDuplicate} did not fail on the flawed IPAM: ${failure.status} ${failure.message}`);
    await body({ broken, fixed, failure, file: await readReplayFile(failure.replayPath!) });
  } finally {
    await broken.close();
    await fixed.close();
  }
}
