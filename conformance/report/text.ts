/** Plain-text rendering of a counterexample, shared by console, JUnit and TAP. */
import { citationLinks } from '../citations.js';
import { clip } from '../counterexample.js';
import type { CheckResult } from '../types.js';

/** `docs/protocol.md#229-join  docs/...`: where the rules a reason cites are written down ('' when it cites none). */
export function specLinksText(reason: string, docsBase = 'docs/'): string {
  return citationLinks(reason, docsBase)
    .map((l) => l.href)
    .join('  ');
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
