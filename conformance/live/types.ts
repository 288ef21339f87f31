import { levelFails } from '../types.js';

/** What the live checker reports per call (the `violations` of a trace line, docs/trace.md). */
export type LiveLevel = 'must' | 'should' | 'compat';

export interface LiveViolation {
  /** Stable id: `reply.*` (protocol.md §1.4), `ipam.*` / `driver.*` / `protocol.*` as in `cnmkit check`. */
  readonly rule: string;
  readonly level: LiveLevel;
  readonly message: string;
  /** Sequence numbers of the earlier calls that matter (the call that first handed out the same address, ...). */
  readonly context?: readonly number[];
}

/** True when `v` is at or above `threshold` (must > should > compat). */
export function atOrAbove(v: LiveLevel, threshold: LiveLevel): boolean {
  return levelFails(v, threshold);
}
