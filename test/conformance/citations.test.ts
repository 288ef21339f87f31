/**
 * The specification ships with cnmkit: every section a check cites is a heading of
 * docs/protocol.md or docs/ipam-semantics.md, and the reports link to it with GitHub's anchors.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  citationLabel,
  citationLinks,
  citedSection,
  docSections,
  githubSlug,
  loadSpecSections,
  parseCitations,
  specDocsDir,
  unresolvedCitations,
  type Citation,
  type SpecSections,
} from '../../conformance/citations.js';
import { consoleReport } from '../../conformance/report/console.js';
import { htmlReport } from '../../conformance/report/html.js';
import { ALL_SUITES } from '../../conformance/suites.js';
import { planReporters } from '../../src/cli/check.js';
import type { CheckResult, RunReport } from '../../conformance/types.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const docsDir = join(root, 'docs');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const labels = (cs: readonly Citation[]): string[] => cs.map(citationLabel);

describe('GitHub heading anchors', () => {
  it('match the slugs GitHub generates', () => {
    expect(githubSlug('2.2 NetworkDriver')).toBe('22-networkdriver');
    expect(githubSlug('1.5 Timeouts, retries and the empty-body retry')).toBe('15-timeouts-retries-and-the-empty-body-retry');
    expect(githubSlug('Appendix B Request bodies as dockerd sends them')).toBe('appendix-b-request-bodies-as-dockerd-sends-them');
    expect(githubSlug('`NetworkDriver.Join` (v1 only)')).toBe('networkdriverjoin-v1-only');
    expect(githubSlug('C++ & Go: [links](https://x.y) too')).toBe('c--go-links-too');
    expect(githubSlug('Ünïcödé snake_case')).toBe('ünïcödé-snake_case');
  });

  it('number repeated headings as GitHub does (-1, -2)', () => {
    const seen = new Map<string, number>();
    expect(['Notes', 'Notes', 'Notes-1', 'Notes'].map((h) => githubSlug(h, seen))).toEqual(['notes', 'notes-1', 'notes-1-1', 'notes-2']);
  });

  it('docSections keys numbered headings and skips fenced code', () => {
    const md = ['# Title', '## 1 Transport', 'intro', '## 1.1 Finding a plugin', 'find', '```', '## 9 not a heading', '```', '### 2.2.9 Join', 'join', '#### detail', 'more', '## Appendix B Bodies', '---', '## 1 Transport'].join('\n');
    const s = docSections(md);
    expect([...s.keys()]).toEqual(['1', '1.1', '2.2.9', 'Appendix B']);
    expect(s.get('2.2.9')?.anchor).toBe('229-join');
    expect(s.get('Appendix B')?.anchor).toBe('appendix-b-bodies');
    expect(s.get('1')?.body).toBe('intro');
    expect(s.get('1.1')?.body).toBe('find\n```\n## 9 not a heading\n```\n### 2.2.9 Join\njoin\n#### detail\nmore');
    expect(s.get('2.2.9')?.body).toBe('join\n#### detail\nmore');
    expect(s.get('Appendix B')?.body).toBe('');
  });
});

describe('parseCitations', () => {
  it('reads the forms check reasons use', () => {
    expect(labels(parseCitations('protocol.md §4.2-§4.4: CreateNetwork'))).toEqual(['protocol.md §4.2', 'protocol.md §4.3', 'protocol.md §4.4']);
    expect(labels(parseCitations('ipam-semantics.md §2.1-2.2: one bitmap'))).toEqual(['ipam-semantics.md §2.1', 'ipam-semantics.md §2.2']);
    expect(labels(parseCitations('(protocol.md §1-2).'))).toEqual(['protocol.md §1', 'protocol.md §2']);
    expect(labels(parseCitations('ipam-semantics.md §2.2 step 4 / protocol.md §2.3: x'))).toEqual(['ipam-semantics.md §2.2', 'protocol.md §2.3']);
    expect(labels(parseCitations('protocol.md §2.2 and Appendix B: shapes'))).toEqual(['protocol.md §2.2', 'protocol.md Appendix B']);
    expect(labels(parseCitations('protocol.md §2.2 (Join) / §4.3: the daemon'))).toEqual(['protocol.md §2.2 (Join)', 'protocol.md §4.3']);
    expect(labels(parseCitations('protocol.md §1.3 and §7.1 item 5 ("expect")'))).toEqual(['protocol.md §1.3', 'protocol.md §7.1']);
    expect(labels(parseCitations('ipam-semantics.md §1.9, D31), so'))).toEqual(['ipam-semantics.md §1.9']);
    expect(labels(parseCitations('docs (protocol.md\n   * §1.5), so'))).toEqual(['protocol.md §1.5']);
    expect(labels(parseCitations('Docker IPAM (ipam-semantics.md). Never'))).toEqual(['ipam-semantics.md']);
  });

  it('ignores section signs that cite something else', () => {
    expect(parseCitations('issue 12 §5: parallel networks')).toEqual([]);
    expect(labels(parseCitations("libnetwork's docs/ipam.md (protocol.md §2.3)"))).toEqual(['protocol.md §2.3']);
  });
});

describe('the shipped specification', () => {
  const sections = loadSpecSections(docsDir);

  it('is found next to the conformance code', () => {
    expect(specDocsDir()).toBe(docsDir);
    expect(sections.get('protocol.md')?.get('2.2')?.anchor).toBe('22-networkdriver');
    expect(sections.get('ipam-semantics.md')?.get('2.2')?.anchor).toBe('22-requestaddress-the-order-of-checks');
  });

  it('has a heading for every section a check reason cites', () => {
    let cited = 0;
    for (const suite of ALL_SUITES) {
      for (const check of suite.checks) {
        const cs = parseCitations(check.reason);
        expect(cs, `${check.id} cites no rule: ${check.reason}`).not.toEqual([]);
        expect(labels(unresolvedCitations(cs, sections)), check.id).toEqual([]);
        cited += cs.length;
      }
    }
    expect(cited).toBeGreaterThan(100);
  });

  it('has a heading for every section cited anywhere in conformance/ (messages, notes, comments)', () => {
    const missing: string[] = [];
    let cited = 0;
    for (const file of sourceFiles(join(root, 'conformance'))) {
      const cs = parseCitations(readFileSync(file, 'utf8'));
      cited += cs.length;
      for (const c of unresolvedCitations(cs, sections)) missing.push(`${file.slice(root.length)}: ${citationLabel(c)}`);
    }
    expect(missing).toEqual([]);
    expect(cited).toBeGreaterThan(100);
  });

  it('resolves the cross-references inside the documents', () => {
    const missing: string[] = [];
    for (const doc of ['protocol.md', 'ipam-semantics.md'] as const) {
      const text = readFileSync(join(docsDir, doc), 'utf8');
      for (const c of unresolvedCitations(parseCitations(text), sections)) missing.push(`${doc}: ${citationLabel(c)}`);
      // A bare § refers to the document it stands in, unless a document was named just before it.
      for (const m of text.matchAll(/§\s?(\d+(?:\.\d+)*)/g)) {
        if (/(protocol|ipam-semantics)\.md(?:[\s,/–-]|and|§\s?\d+(?:\.\d+)*)*$/.test(text.slice(Math.max(0, m.index - 60), m.index))) continue;
        if (!sections.get(doc)?.has(m[1]!)) missing.push(`${doc}: ${m[0]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every #anchor link inside the documents (the contents lists) names a heading', () => {
    for (const doc of ['protocol.md', 'ipam-semantics.md']) {
      const text = readFileSync(join(docsDir, doc), 'utf8');
      const seen = new Map<string, number>();
      const anchors = new Set(text.split('\n').flatMap((l) => (/^#{1,6}\s/.test(l) ? [githubSlug(l.replace(/^#+\s+/, ''), seen)] : [])));
      const links = [...text.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
      expect(links.length, doc).toBeGreaterThan(20);
      expect(links.filter((l) => !anchors.has(l)), doc).toEqual([]);
    }
  });

  it('links a method named in parentheses to its own subsection', () => {
    const topics: string[] = [];
    for (const suite of ALL_SUITES) {
      for (const check of suite.checks) {
        for (const c of parseCitations(check.reason)) {
          // A method name (CamelCase word) under §2.2 / §2.3 must have its own heading.
          if (c.topic === undefined || c.section === null || !/^2\.[23]$/.test(c.section) || !/^[A-Z][A-Za-z]+\b/.test(c.topic)) continue;
          const s = citedSection(c, sections);
          if (s?.id === c.section) topics.push(`${check.id}: ${citationLabel(c)}`);
        }
      }
    }
    expect(topics).toEqual([]);
    expect(citationLinks('protocol.md §2.2 (CreateEndpoint): x', 'docs/', sections)[0]?.href).toBe('docs/protocol.md#226-createendpoint');
  });

  it('fails when a cited section is missing from the documents', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnmkit-docs-'));
    try {
      cpSync(docsDir, dir, { recursive: true });
      const file = join(dir, 'protocol.md');
      writeFileSync(file, readFileSync(file, 'utf8').replace(/^## 2\.2 NetworkDriver$/m, '## NetworkDriver'));
      const broken = loadSpecSections(dir);
      const cs = ALL_SUITES.flatMap((s) => s.checks.flatMap((c) => parseCitations(c.reason)));
      expect(labels(unresolvedCitations(cs, broken))).toContain('protocol.md §2.2 (Join)');
      expect(labels(unresolvedCitations(parseCitations('protocol.md §9.9 and ipam-semantics.md §2.2'), sections))).toEqual(['protocol.md §9.9']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ships with the npm package, and the built code finds it two levels up (dist/conformance → docs)', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('docs');
    const installed = mkdtempSync(join(tmpdir(), 'cnmkit-pkg-'));
    try {
      cpSync(docsDir, join(installed, 'docs'), { recursive: true });
      cpSync(join(root, 'conformance', 'citations.ts'), join(installed, 'dist', 'conformance', 'citations.ts'));
      const built = (await import(pathToFileURL(join(installed, 'dist', 'conformance', 'citations.ts')).href)) as { specDocsDir(): string | null };
      expect(built.specDocsDir()).toBe(join(installed, 'docs'));
    } finally {
      rmSync(installed, { recursive: true, force: true });
    }
  });
});

describe('reports point to the cited section', () => {
  const sections: SpecSections = loadSpecSections(docsDir);
  const failed: CheckResult = {
    suite: 'driver',
    id: 'driver.join-gateway',
    title: 'Join gateway <reachable>',
    level: 'must',
    status: 'failed',
    message: 'gateway 10.9.9.9 is not on the subnet',
    reason: 'protocol.md §2.2 (Join): the gateway must be reachable; ipam-semantics.md §2.2 step 4.',
    notes: [],
    seed: 7,
    calls: 4,
    durationMs: 3,
  };
  const passed: CheckResult = { ...failed, id: 'driver.ok', status: 'passed', message: '', reason: 'protocol.md §4.3: container start.' };
  const report: RunReport = {
    target: 'unix:///p.sock',
    level: 'should',
    seed: 1,
    profile: 'docker-20.10',
    capabilities: ['driver'],
    pluginKind: 'v1',
    startedAt: '2026-01-01T00:00:00.000Z',
    summary: { passed: 1, failed: 1, skipped: 0, notRun: 0, failing: 1, calls: 8, seconds: 0.1, callsPerSecond: 80 },
    checks: [passed, failed],
    deaths: [],
    leaks: [],
  };

  it('console prints a see line with package-relative links and where docs/ is', () => {
    const text = consoleReport(report, { sections, docsDir: '/opt/cnmkit/docs' });
    expect(text).toContain('  see docs/protocol.md#229-join  docs/ipam-semantics.md#22-requestaddress-the-order-of-checks\n');
    expect(text).toContain('Cited rules: docs/ is /opt/cnmkit/docs');
    expect(consoleReport(report, { sections, docsBase: 'https://example.org/cnmkit/docs/' })).toContain('see https://example.org/cnmkit/docs/protocol.md#229-join');
    expect(consoleReport({ ...report, checks: [passed] }, { sections })).not.toContain(' see ');
  });

  it('cnmkit check --reporter html is accepted', () => {
    expect(planReporters(['html:report.html', 'console'], undefined)).toEqual([
      { name: 'html', file: 'report.html' },
      { name: 'console', file: null },
    ]);
  });

  it('html renders links to the sections, escaped, with a configurable base', () => {
    const html = htmlReport(report, { sections, docsBase: 'https://example.org/docs/' });
    expect(html).toContain('<a href="https://example.org/docs/protocol.md#229-join">protocol.md §2.2 (Join)</a>');
    expect(html).toContain('<a href="https://example.org/docs/protocol.md#43-container-start">protocol.md §4.3</a>');
    expect(html).toContain('Join gateway &lt;reachable&gt;');
    expect(html).not.toContain('<reachable>');
    expect(html).toContain('NOT CONFORMANT');
    expect(htmlReport(report, { sections })).toMatch(/href="file:\/\/[^"]*\/docs\/protocol\.md#229-join"/);
    // The failure's cited sections are copied once to the end of the page, so the report reads on its own.
    expect(html).toContain('<a href="#rule-protocol-229-join" title="the section\'s text below">(text)</a>');
    expect(html).toMatch(/<details id="rule-protocol-229-join"><summary>protocol.md 2.2.9 Join \(<a href="https:\/\/example.org\/docs\/protocol.md#229-join">document<\/a>\)<\/summary><pre>- Request:/);
    expect(html).toContain('docker_gwbridge');
    expect(html).not.toContain('id="rule-protocol-43-container-start"');
  });
});
