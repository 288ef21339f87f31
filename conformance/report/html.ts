/**
 * HTML report: one self-contained page (no scripts, no external files) with the suite tables,
 * every failure with its counterexample, and each cited rule linked to its section of the
 * specification that ships with cnmkit (docs/protocol.md, docs/ipam-semantics.md).
 */
import { pathToFileURL } from 'node:url';
import { citationLinks, specDocsDir, type CitationLink, type SpecSections } from '../citations.js';
import type { CheckResult, RunReport } from '../types.js';
import { levelFails } from '../types.js';
import { counterexampleText, htmlText } from './text.js';

export interface HtmlOptions {
  /**
   * Prepended to `protocol.md#…` in links: a URL ending in `/`, e.g. a repository's blob URL for a
   * report published from CI. Default: the file URL of this cnmkit's docs folder.
   */
  readonly docsBase?: string;
  /** The documents' sections (default: read from this cnmkit's docs). */
  readonly sections?: SpecSections;
}

/** The default base: this cnmkit's docs folder as a file URL, or the package-relative path. */
function defaultDocsBase(): string {
  const dir = specDocsDir();
  return dir === null ? 'docs/' : `${pathToFileURL(dir).href}/`;
}

type Verdict = 'pass' | 'fail' | 'diff' | 'skip' | 'nrun';

function verdict(c: CheckResult, level: RunReport['level']): Verdict {
  if (c.status === 'passed') return 'pass';
  if (c.status === 'skipped') return 'skip';
  if (c.status === 'not-run') return 'nrun';
  return levelFails(c.level, level) ? 'fail' : 'diff';
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left;vertical-align:top;border-bottom:1px solid #ddd}
.pass{color:#176f2c}.fail{color:#b00020;font-weight:bold}.diff{color:#0b6e99}.skip{color:#9a6700}.nrun{color:#8250df}
.verdict{font-weight:bold}.ok{color:#176f2c}.bad{color:#b00020}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap}
.rule{color:#555}.spec a{margin-right:.8em;white-space:nowrap}section.failure{border-left:3px solid #b00020;padding-left:1em;margin:1em 0}
section.failure.diff{border-color:#0b6e99}`;

/** `<p>Specification: <a …>protocol.md §2.2 (Join)</a>…</p>` for a check's reason, or '' when it cites nothing (for other HTML pages, e.g. merged campaigns). */
export function specLinksHtml(reason: string, opts: HtmlOptions = {}): string {
  const links = citationLinks(reason, opts.docsBase ?? defaultDocsBase(), opts.sections);
  return links.length === 0 ? '' : `<p>Specification: ${links.map((l) => `<a href="${htmlText(l.href)}">${htmlText(l.label)}</a>`).join(' ')}</p>`;
}

/** Page-internal id of a cited section's copy under "Cited rules". */
const ruleId = (l: CitationLink): string => `rule-${l.doc.replace(/\.md$/, '')}-${l.section?.anchor ?? ''}`;

export function htmlReport(report: RunReport, opts: HtmlOptions = {}): string {
  const base = opts.docsBase ?? defaultDocsBase();
  // Sections cited by failures, copied to the end of the page so it reads on its own (a CI artifact).
  const cited = new Map<string, CitationLink>();
  const specLinks = (reason: string, copy = false): string => {
    const links = citationLinks(reason, base, opts.sections);
    if (links.length === 0) return '';
    const html = links.map((l) => {
      const a = `<a href="${htmlText(l.href)}">${htmlText(l.label)}</a>`;
      if (!copy || l.section === undefined) return a;
      cited.set(ruleId(l), l);
      return `${a} <a href="#${htmlText(ruleId(l))}" title="the section's text below">(text)</a>`;
    });
    return `<span class="spec">${html.join('')}</span>`;
  };
  const s = report.summary;
  const out: string[] = [];
  out.push('<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">', `<title>cnmkit check ${htmlText(report.target)}</title>`, `<style>${STYLE}</style>`, '</head>', '<body>');
  out.push(`<h1>cnmkit check ${htmlText(report.target)}</h1>`);
  out.push(
    `<p>Level ${htmlText(report.level)}, profile ${htmlText(report.profile)}, seed ${report.seed}, ${report.pluginKind === 'managed' ? 'managed (v2) plugin' : 'v1 plugin'}, capabilities: ${htmlText(report.capabilities.join(', ') || 'none')}; started ${htmlText(report.startedAt)}.</p>`,
  );
  out.push(
    `<p class="verdict ${s.failing > 0 ? 'bad' : 'ok'}">${s.failing > 0 ? 'NOT CONFORMANT' : 'CONFORMANT'} at level ${htmlText(report.level)}: ${s.passed} passed, ${s.failed} failed (${s.failing} failing), ${s.skipped} skipped${s.notRun > 0 ? `, ${s.notRun} not run` : ''}; ${s.calls} plugin calls in ${s.seconds} s (${s.callsPerSecond} calls/s).</p>`,
  );
  for (const d of report.deaths) {
    out.push(`<p class="bad">${htmlText(d.message)}${d.restarted ? ' (restarted, the run went on)' : ' (no way to restart it: later checks not run)'}</p>`);
  }
  for (const suite of [...new Set(report.checks.map((c) => c.suite))]) {
    out.push(`<h2>Suite ${htmlText(suite)}</h2>`, '<table>', '<tr><th></th><th>check</th><th>level</th><th>ms</th><th>title</th><th>rule</th></tr>');
    for (const c of report.checks.filter((x) => x.suite === suite)) {
      const v = verdict(c, report.level);
      const tail = c.status === 'skipped' || c.status === 'not-run' ? ` <span class="rule">(${htmlText(c.message)})</span>` : '';
      out.push(
        `<tr><td class="${v}">${v.toUpperCase()}</td><td>${c.status === 'failed' ? `<a href="#${htmlText(c.id)}">${htmlText(c.id)}</a>` : htmlText(c.id)}</td><td>${htmlText(c.level)}</td><td>${c.durationMs}</td><td>${htmlText(c.title)}${tail}</td><td>${specLinks(c.reason)}</td></tr>`,
      );
    }
    out.push('</table>');
  }
  const failed = report.checks.filter((c) => c.status === 'failed');
  if (failed.length > 0) {
    out.push('<h2>Failures</h2>');
    for (const c of failed) {
      const v = verdict(c, report.level);
      out.push(`<section class="failure ${v}" id="${htmlText(c.id)}">`);
      out.push(`<h3><span class="${v}">${v === 'fail' ? '✗' : '~'}</span> ${htmlText(c.id)} [${htmlText(c.level)}] ${htmlText(c.title)}</h3>`);
      out.push(`<p>${htmlText(c.message)}</p>`);
      out.push(`<p class="rule">Rule: ${htmlText(c.reason)}</p>`);
      const links = specLinks(c.reason, true);
      if (links) out.push(`<p>Specification: ${links}</p>`);
      for (const n of c.notes) out.push(`<p class="rule">Note: ${htmlText(n)}</p>`);
      const ce = counterexampleText(c, '');
      if (ce) out.push(`<pre>${htmlText(ce)}</pre>`);
      out.push('</section>');
    }
  }
  if (report.leaks.length > 0) {
    out.push('<h2>Leaks (still held after cleanup)</h2>', '<ul>');
    for (const l of report.leaks) out.push(`<li>${htmlText(l.kind)} ${htmlText(l.id)} (from ${htmlText(l.check)}): ${htmlText(l.detail)}</li>`);
    out.push('</ul>');
  }
  if (cited.size > 0) {
    out.push('<h2>Cited rules</h2>');
    for (const [id, l] of cited) {
      out.push(`<details id="${htmlText(id)}"><summary>${htmlText(l.doc)} ${htmlText(l.section!.title)} (<a href="${htmlText(l.href)}">document</a>)</summary><pre>${htmlText(l.section!.body)}</pre></details>`);
    }
  }
  out.push('</body>', '</html>');
  return `${out.join('\n')}\n`;
}
