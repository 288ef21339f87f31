/** Turning recorded calls into what a report shows: call summaries and a curl reproducer. */
import type { CallRecord } from '../src/client/types.js';
import { ACCEPT_HEADER } from '../src/protocol/constants.js';
import type { CallSummary } from './types.js';

export function summarizeRecord(r: CallRecord): CallSummary {
  return {
    path: r.path,
    request: r.request,
    ...(r.status !== undefined ? { status: r.status } : {}),
    ...(r.response !== undefined ? { response: r.response } : {}),
    outcome: r.outcome,
    durationMs: Math.round(r.durationMs * 100) / 100,
  };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Shell lines that resend the calls with curl (the way dockerd frames them). */
export function curlReproducer(calls: readonly CallSummary[], curlPrefix: readonly string[] | null): string | undefined {
  if (!curlPrefix || calls.length === 0) return undefined;
  const [pre, base] = curlPrefix.length > 1 ? [curlPrefix.slice(0, -1), curlPrefix[curlPrefix.length - 1]!] : [[], curlPrefix[0]!];
  return calls
    .map((c) => {
      const args = ['curl', '-sS', '-w', shellQuote('\\n%{http_code}\\n'), ...pre.map(shellQuote), '-X', 'POST', '-H', shellQuote(`Accept: ${ACCEPT_HEADER}`), '-H', shellQuote('Content-Type:')];
      args.push('--data-binary', shellQuote(c.request.replace(/\n$/, '')));
      args.push(shellQuote(`${base}${c.path}`));
      return args.join(' ');
    })
    .join('\n');
}

/** Keep reports readable: long bodies are cut in the middle. */
export function clip(text: string, max = 600): string {
  return text.length <= max ? text : `${text.slice(0, max / 2)}…(${text.length - max} bytes cut)…${text.slice(-max / 2)}`;
}
