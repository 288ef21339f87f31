/** Rendering helpers shared by the reporters: a counterexample and spec links as plain text, colour, XML and HTML escaping. */
import { citationLinks } from '../citations.js';
import { clip } from '../counterexample.js';
import type { CheckResult } from '../types.js';

/** `docs/protocol.md#229-join  docs/...`: where the rules a reason cites are written down ('' when it cites none). */
export function specLinksText(reason: string, docsBase = 'docs/'): string {
  return citationLinks(reason, docsBase)
    .map((l) => l.href)
    .join('  ');
}

/** ANSI colour `code` around `s` when `on`. */
export const paint = (on: boolean, code: number, s: string): string => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

/** Text for an XML attribute or element (JUnit): the five entities escaped, control characters XML forbids dropped. */
export function xmlText(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

/** Text for HTML (attribute or element). */
export function htmlText(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function counterexampleText(c: CheckResult, indent = '  '): string {
  const ce = c.counterexample;
  const lines: string[] = [];
  if (!ce) return '';
  if (ce.steps.length > 0) {
    lines.push(`${indent}shrunk steps:`);
    ce.steps.forEach((s, i) => lines.push(`${indent}  ${i + 1}. ${s}`));
  }
  if (ce.calls.length > 0) {
    lines.push(`${indent}calls:`);
    for (const call of ce.calls) {
      lines.push(`${indent}  → POST ${call.path} ${clip(call.request.trimEnd(), 300)}`);
      lines.push(`${indent}  ← ${call.status ?? call.outcome} ${clip((call.response ?? '').trimEnd(), 300)}`);
    }
  }
  if (ce.seed !== undefined) lines.push(`${indent}seed: ${ce.seed}${ce.path ? `  path: ${ce.path}` : ''}`);
  if (c.replayPath) lines.push(`${indent}replay: cnmkit replay ${c.replayPath}`);
  if (ce.reproducer) {
    lines.push(`${indent}reproduce:`);
    for (const l of ce.reproducer.split('\n')) lines.push(`${indent}  ${l}`);
  }
  return lines.join('\n');
}
