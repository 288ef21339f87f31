import type { RunReport } from '../types.js';
import { levelFails } from '../types.js';
import { counterexampleText, specLinksText } from './text.js';

/** TAP version 13; failures below --level are `not ok ... # TODO` so they do not fail the stream. */
export function tapReport(report: RunReport): string {
  const out: string[] = ['TAP version 13', `1..${report.checks.length}`];
  report.checks.forEach((c, i) => {
    const n = i + 1;
    const name = `${c.id} [${c.level}] ${c.title}`.replace(/#/g, '\\#');
    if (c.status === 'passed') out.push(`ok ${n} - ${name}`);
    else if (c.status === 'skipped' || c.status === 'not-run') out.push(`ok ${n} - ${name} # SKIP ${c.message.replace(/\n/g, ' ')}`);
    else {
      out.push(`not ok ${n} - ${name}${levelFails(c.level, report.level) ? '' : ` # TODO ${c.level} level, not failing at --level ${report.level}`}`);
      out.push('  ---');
      out.push(`  message: ${JSON.stringify(c.message)}`);
      out.push(`  severity: ${c.level}`);
      const see = specLinksText(c.reason);
      if (see !== '') out.push(`  see: ${JSON.stringify(see)}`);
      out.push(`  seed: ${c.seed}`);
      if (c.replayPath) out.push(`  replay: ${JSON.stringify(c.replayPath)}`);
      const ce = counterexampleText(c, '');
      if (ce) {
        out.push('  counterexample: |');
        for (const l of ce.split('\n')) out.push(`    ${l}`);
      }
      out.push('  ...');
    }
  });
  for (const d of report.deaths) out.push(`# ${d.message}${d.restarted ? ' (restarted)' : ''}`);
  out.push(`# passed ${report.summary.passed}, failed ${report.summary.failed}, skipped ${report.summary.skipped}, not run ${report.summary.notRun}, ${report.summary.calls} calls in ${report.summary.seconds}s (${report.summary.callsPerSecond} calls/s)`);
  return `${out.join('\n')}\n`;
}
