import type { RunReport } from '../types.js';
import { counterexampleText, specLinksText, xmlText } from './text.js';

function seeLine(reason: string): string {
  const see = specLinksText(reason);
  return see === '' ? '' : `see: ${see}\n`;
}

/** JUnit XML: one testsuite per suite; failures below --level are reported as skipped with a note. */
export function junitReport(report: RunReport): string {
  const suites = new Map<string, RunReport['checks'][number][]>();
  for (const c of report.checks) {
    const list = suites.get(c.suite) ?? [];
    list.push(c);
    suites.set(c.suite, list);
  }
  const order = ['must', 'should', 'compat'];
  const failing = (level: string): boolean => order.indexOf(level) <= order.indexOf(report.level);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites name="cnmkit check" tests="${report.checks.length}" failures="${report.summary.failing}" time="${report.summary.seconds}">`);
  for (const [suite, checks] of suites) {
    const failures = checks.filter((c) => c.status === 'failed' && failing(c.level)).length;
    const skipped = checks.filter((c) => c.status === 'skipped' || c.status === 'not-run' || (c.status === 'failed' && !failing(c.level))).length;
    const time = checks.reduce((t, c) => t + c.durationMs, 0) / 1000;
    out.push(`  <testsuite name="${xmlText(suite)}" tests="${checks.length}" failures="${failures}" skipped="${skipped}" time="${time.toFixed(3)}">`);
    for (const c of checks) {
      out.push(`    <testcase classname="${xmlText(`cnmkit.${suite}`)}" name="${xmlText(`${c.id} [${c.level}] ${c.title}`)}" time="${(c.durationMs / 1000).toFixed(3)}">`);
      if (c.status === 'failed' && failing(c.level)) {
        out.push(`      <failure message="${xmlText(c.message)}" type="${c.level}">${xmlText(`${c.message}\nreason: ${c.reason}\n${seeLine(c.reason)}${counterexampleText(c)}`)}</failure>`);
      } else if (c.status === 'failed') {
        out.push(`      <skipped message="${xmlText(`${c.level} difference (not failing at --level ${report.level}): ${c.message}`)}"/>`);
      } else if (c.status === 'skipped' || c.status === 'not-run') {
        out.push(`      <skipped message="${xmlText(c.message)}"/>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
