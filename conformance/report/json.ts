import type { CheckResult, RunReport } from '../types.js';

/** The machine-readable report: `summary` plus one entry per check. */
export function jsonReport(report: RunReport): string {
  return `${JSON.stringify(
    {
      target: report.target,
      level: report.level,
      seed: report.seed,
      profile: report.profile,
      capabilities: report.capabilities,
      pluginKind: report.pluginKind,
      startedAt: report.startedAt,
      summary: report.summary,
      deaths: report.deaths,
      checks: report.checks.map(checkJson),
      leaks: report.leaks,
    },
    null,
    2,
  )}\n`;
}

/** One check's entry in the JSON reports (a run's and a campaign's), absent fields as null. */
export function checkJson(c: CheckResult): Record<string, unknown> {
  return {
    id: c.id,
    suite: c.suite,
    title: c.title,
    level: c.level,
    status: c.status,
    message: c.message,
    reason: c.reason,
    notes: c.notes,
    counterexample: c.counterexample ?? null,
    seed: c.seed,
    replayPath: c.replayPath ?? null,
    calls: c.calls,
    durationMs: c.durationMs,
  };
}
