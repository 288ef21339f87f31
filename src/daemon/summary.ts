/** Compact forms of a call log, for pinned sequences and reports. */
import type { CallLogEntry } from './types.js';

/**
 * `NetworkDriver.Join` for a successful call, `NetworkDriver.Join!` for a
 * failed one; `Plugin.Activate` etc. unchanged. What the sequence fixtures pin.
 */
export function summarizeCalls(log: readonly CallLogEntry[]): string[] {
  return log.map((e) => (e.outcome === 'ok' ? e.call : `${e.call}!`));
}
