/**
 * `cnmkit replay FILE`: run the failed check again with the seed and
 * fast-check path from its replay file, against any target, and say whether
 * the violation still shows. `resendCalls` resends the recorded bytes as is.
 */
import type { ConformanceConfig } from './config.js';
import type { RawSender } from './raw.js';
import { readReplayFile, type ReplayFile } from './replay-file.js';
import { runSuites, type RunOptions } from './runner.js';
import type { Target, TargetSpec } from './target.js';
import type { CheckResult, RunReport } from './types.js';

export interface ReplayOutcome {
  /** The check failed again. */
  readonly reproduced: boolean;
  readonly result: CheckResult | undefined;
  readonly report: RunReport;
}

export async function replay(
  file: string | ReplayFile,
  target: Target | TargetSpec,
  overrides: Partial<ConformanceConfig> = {},
  options: RunOptions = {},
): Promise<ReplayOutcome> {
  const f = typeof file === 'string' ? await readReplayFile(file) : file;
  const report = await runSuites(
    target,
    {
      profile: f.config.profile === 'moby' ? 'moby' : 'docker-20.10',
      subnets: [...f.config.subnets],
      ipamOpts: { ...f.config.ipamOpts },
      driverOpts: { ...f.config.driverOpts },
      timeoutMs: f.config.timeoutMs,
      maxCommands: f.config.maxCommands,
      concurrency: f.config.concurrency,
      stormSize: f.config.stormSize,
      replayDir: null,
      ...overrides,
      level: 'compat',
      suites: [f.suite],
      checks: [f.check],
      replay: { seed: f.seed, ...(f.path !== undefined ? { path: f.path } : {}), ...(f.commandsReplayPath !== undefined ? { commandsReplayPath: f.commandsReplayPath } : {}) },
    },
    options,
  );
  const result = report.checks.find((c) => c.id === f.check);
  return { reproduced: result?.status === 'failed', result, report };
}

export interface ResentCall {
  readonly path: string;
  readonly expectedStatus: number | undefined;
  readonly status: number | undefined;
  readonly response: string | undefined;
  readonly same: boolean;
}

/** Send the recorded requests byte for byte and compare the status codes. */
export async function resendCalls(file: ReplayFile, raw: RawSender, timeoutMs = 5000): Promise<ResentCall[]> {
  const out: ResentCall[] = [];
  for (const c of file.calls) {
    const res = await raw.send({ path: c.path, body: c.request }, { timeoutMs });
    const status = res.kind === 'reply' ? res.status : undefined;
    out.push({ path: c.path, expectedStatus: c.status, status, response: res.kind === 'reply' ? res.body : res.message, same: status === c.status });
  }
  return out;
}
