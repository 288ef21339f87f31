/**
 * Citations of the specification that ships with cnmkit (docs/protocol.md,
 * docs/ipam-semantics.md). Check reasons cite rules as `protocol.md §2.2`,
 * `ipam-semantics.md §2.2 step 4 / protocol.md §2.3`, `protocol.md §4.2-§4.4` or
 * `protocol.md Appendix B`; this module parses those citations and turns each
 * into a link to the section's heading, using the anchors GitHub generates, so
 * the same link works on GitHub and in any viewer that follows its slugs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const SPEC_DOCS = ['protocol.md', 'ipam-semantics.md'] as const;
export type SpecDoc = (typeof SPEC_DOCS)[number];

/** One cited rule: a numbered section (`2.2`), an appendix (`Appendix B`), or the whole document (null). */
export interface Citation {
  readonly doc: SpecDoc;
  readonly section: string | null;
  /**
   * The words in parentheses right after the section, `protocol.md §2.2 (Join)`: when they name a
   * subsection (`2.2.9 Join`) the link goes there.
   */
  readonly topic?: string;
}

/** A heading of a spec document that carries a section id. */
export interface DocSection {
  readonly id: string;
  readonly title: string;
  readonly anchor: string;
  /** The markdown under the heading, up to the next heading of the same or a higher level (subsections included). */
  readonly body: string;
}

/** Section id → heading, per document. */
export type SpecSections = ReadonlyMap<SpecDoc, ReadonlyMap<string, DocSection>>;

const DOC_NAME = /(?:docs\/)?(protocol|ipam-semantics)\.md/g;
// A section number, an appendix, or a range of either kind of number (`4.2-§4.4`, `2.1-2.3`, `1–2`).
const REF = /^§\s?(\d+(?:\.\d+)*)(?:\s?[-–]\s?§?\s?(\d+(?:\.\d+)*))?|^Appendix ([A-Z])\b/;
// What may stand between two refs of one citation: `/`, `,`, `and`, `or`, `;`.
const SEPARATOR = /^(?:\s*(?:[/,;]|\band\b|\bor\b)\s*|\s+)/;
// Qualifiers that narrow a ref without being one: `step 4`, `step 5/7`, `item 5`, `D22`, and a topic `(Join)`.
const QUALIFIER = /^\s*(?:(?:step|steps|item|items)\s\d+(?:\s?[/,-]\s?\d+)*|[DTP]\d\d\b(?:\s?,\s?[DTP]\d\d\b)*)/;
const TOPIC = /^\s*\(([A-Za-z][^()§"']*)\)/;

/**
 * Every citation in a text, in order of appearance, without repeats. Source comments may be
 * passed as they are: a `*` or `//` continuing a comment on the next line is read as a space.
 */
export function parseCitations(text: string): Citation[] {
  const flat = text.replace(/\n\s*(?:\*(?!\/)|\/\/)?\s*/g, ' ');
  const out: Citation[] = [];
  const seen = new Set<string>();
  const add = (c: Citation): void => {
    const key = `${c.doc}#${c.section ?? ''}#${c.topic ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(c);
  };
  for (const m of flat.matchAll(DOC_NAME)) {
    const doc = `${m[1]}.md` as SpecDoc;
    let rest = flat.slice(m.index + m[0].length);
    let refs = 0;
    for (;;) {
      const sep = SEPARATOR.exec(rest);
      const afterSep = sep ? rest.slice(sep[0].length) : rest;
      const ref = REF.exec(afterSep);
      if (!ref) break;
      rest = afterSep.slice(ref[0].length);
      for (let q = QUALIFIER.exec(rest); q; q = QUALIFIER.exec(rest)) rest = rest.slice(q[0].length);
      const topic = TOPIC.exec(rest);
      if (topic) rest = rest.slice(topic[0].length);
      const t = topic ? { topic: topic[1]!.trim() } : {};
      if (ref[3] !== undefined) add({ doc, section: `Appendix ${ref[3]}`, ...t });
      else for (const id of expandRange(ref[1]!, ref[2])) add({ doc, section: id, ...(ref[2] === undefined ? t : {}) });
      refs++;
    }
    if (refs === 0) add({ doc, section: null });
  }
  return out;
}

/** `4.2`..`4.4` → 4.2, 4.3, 4.4; `1`..`2` → 1, 2. Ranges whose ends differ before the last number keep the two ends. */
function expandRange(from: string, to: string | undefined): string[] {
  if (to === undefined) return [from];
  const a = from.split('.').map(Number);
  const b = to.split('.').map(Number);
  const samePrefix = a.length === b.length && a.slice(0, -1).every((n, i) => n === b[i]);
  if (!samePrefix || b.at(-1)! < a.at(-1)!) return [from, to];
  const prefix = a.slice(0, -1);
  const ids: string[] = [];
  for (let n = a.at(-1)!; n <= b.at(-1)!; n++) ids.push([...prefix, n].join('.'));
  return ids;
}

/**
 * The anchor GitHub gives a heading (github-slugger): lower case, every character that is not a
 * letter, mark, digit, `_`, space or `-` dropped, each space turned into `-`. `seen` counts slugs
 * already used in the document, as GitHub appends `-1`, `-2` to repeats.
 */
export function githubSlug(heading: string, seen?: Map<string, number>): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .trim();
  const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
  if (!seen) return base;
  let slug = base;
  let n = seen.get(base) ?? 0;
  while (seen.has(slug)) slug = `${base}-${++n}`;
  seen.set(base, n);
  seen.set(slug, 0);
  return slug;
}

const HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/;
const SECTION_ID = /^(?:(\d+(?:\.\d+)*)\.?|(Appendix [A-Z]))(?=\s|$)/;

/** The numbered headings of a markdown document (`## 2.2 NetworkDriver` → id `2.2`), with GitHub anchors. */
export function docSections(markdown: string): Map<string, DocSection> {
  const lines = markdown.split('\n');
  const headings: { line: number; level: number; title: string; anchor: string }[] = [];
  const seen = new Map<string, number>();
  let fence: string | null = null;
  lines.forEach((line, i) => {
    const f = /^\s*(```|~~~)/.exec(line);
    if (f) {
      if (fence === null) fence = f[1]!;
      else if (f[1] === fence) fence = null;
      return;
    }
    if (fence !== null) return;
    const h = HEADING.exec(line);
    if (h) headings.push({ line: i, level: h[1]!.length, title: h[2]!, anchor: githubSlug(h[2]!, seen) });
  });
  const sections = new Map<string, DocSection>();
  headings.forEach((h, k) => {
    const id = SECTION_ID.exec(h.title);
    if (!id) return;
    const key = id[1] ?? id[2]!;
    if (sections.has(key)) return;
    const next = headings.slice(k + 1).find((o) => o.level <= h.level);
    const body = lines.slice(h.line + 1, next ? next.line : lines.length).join('\n').trim().replace(/(?:^|\n)-{3,}$/, '').trim();
    sections.set(key, { id: key, title: h.title, anchor: h.anchor, body });
  });
  return sections;
}

/** The `docs/` folder of this cnmkit: next to `conformance/` in a checkout, two levels up from `dist/conformance/`. */
export function specDocsDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, '..', 'docs'), join(here, '..', '..', 'docs')]) {
    if (SPEC_DOCS.every((d) => existsSync(join(dir, d)))) return dir;
  }
  return null;
}

let cached: { dir: string; sections: SpecSections } | undefined;

/** The sections of both documents in `dir` (default: this cnmkit's docs); empty maps when a file is missing. */
export function loadSpecSections(dir: string | null = specDocsDir()): SpecSections {
  if (dir === null) return new Map(SPEC_DOCS.map((d) => [d, new Map<string, DocSection>()]));
  if (cached?.dir === dir) return cached.sections;
  const sections = new Map(
    SPEC_DOCS.map((d) => {
      const file = join(dir, d);
      return [d, existsSync(file) ? docSections(readFileSync(file, 'utf8')) : new Map<string, DocSection>()] as const;
    }),
  );
  cached = { dir, sections };
  return sections;
}

/**
 * The heading a citation points to: the subsection its topic names (`§2.2 (Join)` → `2.2.9 Join`),
 * else the cited section itself; undefined when the document has no such section.
 */
export function citedSection(c: Citation, sections: SpecSections): DocSection | undefined {
  if (c.section === null) return undefined;
  const doc = sections.get(c.doc);
  const own = doc?.get(c.section);
  if (!own || !doc || c.topic === undefined) return own;
  const words = new Set(c.topic.split(/[\s,/]+/).filter((w) => w.length > 0));
  for (const s of doc.values()) {
    if (!s.id.startsWith(`${c.section}.`)) continue;
    const titleWords = s.title.slice(s.id.length).split(/[\s,/]+/);
    if (titleWords.some((w) => words.has(w))) return s;
  }
  return own;
}

/** Citations whose section has no heading in its document. */
export function unresolvedCitations(citations: readonly Citation[], sections: SpecSections): Citation[] {
  return citations.filter((c) => c.section !== null && !sections.get(c.doc)?.has(c.section));
}

/** A citation rendered for a reader: its label and the link to its section. */
export interface CitationLink {
  readonly label: string;
  /** The section linked to, when the document has it. */
  readonly section?: DocSection;
  readonly doc: SpecDoc;
  /** `<base><doc>#<anchor>`, or `<base><doc>` for a whole-document citation or an unknown section. */
  readonly href: string;
  readonly resolved: boolean;
}

export function citationLabel(c: Citation): string {
  const at = c.section === null ? c.doc : c.section.startsWith('Appendix') ? `${c.doc} ${c.section}` : `${c.doc} §${c.section}`;
  return c.topic === undefined ? at : `${at} (${c.topic})`;
}

/**
 * Links for every citation in `text`. `base` is prepended to the document name: `docs/` for a
 * path inside the package, or a URL ending in `/` (a file URL, a repository's blob URL).
 */
export function citationLinks(text: string, base = 'docs/', sections: SpecSections = loadSpecSections()): CitationLink[] {
  return parseCitations(text).map((c) => {
    const s = citedSection(c, sections);
    return {
      label: citationLabel(c),
      doc: c.doc,
      ...(s ? { section: s } : {}),
      href: s ? `${base}${c.doc}#${s.anchor}` : `${base}${c.doc}`,
      resolved: c.section === null || s !== undefined,
    };
  });
}
