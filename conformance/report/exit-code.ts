import { levelFails, type Level, type RunReport } from '../types.js';

/** 0: conformant at `level`; 1: at least one failed check at or above it. (2 = usage/unreachable is the CLI's.) */
export function exitCodeFor(report: RunReport, level: Level = report.level): 0 | 1 {
  return report.checks.some((c) => c.status === 'failed' && levelFails(c.level, level)) ? 1 : 0;
}
