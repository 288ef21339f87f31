/** Human report: per-suite tables, failures with their counterexample, leaks, and the summary. */
import { citationLinks, specDocsDir, type SpecSections } from '../citations.js';
import type { RunEvent, RunReport } from '../types.js';
import { levelFails } from '../types.js';
import { counterexampleText, paint } from './text.js';

export interface ConsoleOptions {
  readonly color?: boolean;
  /** Prepended to `protocol.md#…` in `see` lines; default `docs/`, the folder inside the cnmkit package. */
  readonly docsBase?: string;
  /** Where the cited documents are, named once under the failures; default this cnmkit's docs folder. */
  readonly docsDir?: string | null;
  /** The documents' sections (default: read from this cnmkit's docs). */
  readonly sections?: SpecSections;
}

export function consoleReport(report: RunReport, opts: ConsoleOptions = {}): string {
  const color = opts.color ?? false;
  const out: string[] = [];
  out.push(`cnmkit check ${report.target}  (level ${report.level}, profile ${report.profile}, seed ${report.seed}, ${report.pluginKind === 'managed' ? 'managed (v2) plugin' : 'v1 plugin'}, capabilities: ${report.capabilities.join(', ') || 'none'})`);
  for (const d of report.deaths) out.push(paint(color, 31, `${d.message}${d.restarted ? ' (restarted, the run went on)' : ' (no way to restart it: later checks not run)'}`));
  const suites = [...new Set(report.checks.map((c) => c.suite))];
  for (const suite of suites) {
    const checks = report.checks.filter((c) => c.suite === suite);
    out.push('', paint(color, 1, `Suite ${suite}`));
    const w = Math.max(...checks.map((c) => c.id.length));
    for (const c of checks) {
      const fails = c.status === 'failed' && levelFails(c.level, report.level);
      const status =
        c.status === 'passed'
          ? paint(color, 32, 'PASS')
          : c.status === 'skipped'
            ? paint(color, 33, 'SKIP')
            : c.status === 'not-run'
              ? paint(color, 35, 'NRUN')
              : fails
                ? paint(color, 31, 'FAIL')
                : paint(color, 36, 'DIFF');
      const tail = c.status === 'skipped' || c.status === 'not-run' ? `  (${c.message})` : c.notes.length > 0 && c.status === 'passed' ? `  note: ${c.notes[0]}` : '';
      out.push(`  ${status}  ${c.id.padEnd(w)}  ${c.level.padEnd(6)} ${String(c.durationMs).padStart(6)} ms  ${c.title}${tail}`);
    }
  }
  const failed = report.checks.filter((c) => c.status === 'failed');
  if (failed.length > 0) {
    out.push('', paint(color, 1, 'Failures'));
    let cited = false;
    for (const c of failed) {
      out.push('', `${levelFails(c.level, report.level) ? paint(color, 31, '✗') : paint(color, 36, '~')} ${c.id} [${c.level}] ${c.title}`);
      out.push(`  ${c.message}`);
      out.push(`  rule: ${c.reason}`);
      const links = citationLinks(c.reason, opts.docsBase ?? 'docs/', opts.sections);
      if (links.length > 0) {
        out.push(`  see ${links.map((l) => l.href).join('  ')}`);
        cited = true;
      }
      for (const n of c.notes) out.push(`  note: ${n}`);
      const ce = counterexampleText(c);
      if (ce) out.push(ce);
    }
    // The `see` paths are relative to the cnmkit package; say once where that is on this machine.
    const docsDir = opts.docsDir === undefined ? specDocsDir() : opts.docsDir;
    if (cited && docsDir !== null && opts.docsBase === undefined) out.push('', `Cited rules: docs/ is ${docsDir} (the specification ships with cnmkit).`);
  }
  if (report.leaks.length > 0) {
    out.push('', paint(color, 1, 'Leaks (still held after cleanup)'));
    for (const l of report.leaks) out.push(`  ${l.kind} ${l.id}  (from ${l.check}): ${l.detail}`);
  }
  const s = report.summary;
  out.push('');
  out.push(
    `${s.failing > 0 ? paint(color, 31, 'NOT CONFORMANT') : paint(color, 32, 'CONFORMANT')} at level ${report.level}: ${s.passed} passed, ${s.failed} failed (${s.failing} failing), ${s.skipped} skipped${s.notRun > 0 ? `, ${s.notRun} not run` : ''}; ${s.calls} plugin calls in ${s.seconds} s (${s.callsPerSecond} calls/s)`,
  );
  return `${out.join('\n')}\n`;
}

/** Streaming progress for a TTY or log: one line per finished check. */
export function consoleProgress(write: (text: string) => void, opts: ConsoleOptions = {}): (event: RunEvent) => void {
  const color = opts.color ?? false;
  return (e) => {
    if (e.type === 'plugin-died') write(`${paint(color, 31, e.death.message)}${e.death.restarted ? ' — restarted, going on' : ' — later checks not run'}\n`);
    else if (e.type === 'run-started') write(`checking ${e.target}: ${e.total} checks (capabilities: ${e.capabilities.join(', ') || 'none'})\n`);
    else if (e.type === 'suite-started') write(`${paint(color, 1, e.suite.id)}\n`);
    else if (e.type === 'check-finished') {
      const r = e.result;
      const mark = r.status === 'passed' ? paint(color, 32, '✓') : r.status === 'skipped' ? paint(color, 33, '-') : r.status === 'not-run' ? paint(color, 35, '·') : paint(color, 31, '✗');
      write(`  [${e.index + 1}/${e.total}] ${mark} ${r.id} (${r.durationMs} ms, ${r.calls} calls)\n`);
    }
  };
}
