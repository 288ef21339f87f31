/** What a recorder session adds up to: calls, violations per level, per-method latency. */
import type { LatencyStats, TraceSummary, ViolationLevel } from './trace.js';

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

export class SessionStats {
  calls = 0;
  readonly violations: Record<ViolationLevel, number> = { must: 0, should: 0, compat: 0 };
  private readonly durations = new Map<string, number[]>();

  add(methodKey: string, durMs: number, levels: readonly ViolationLevel[]): void {
    this.calls++;
    for (const l of levels) this.violations[l]++;
    let list = this.durations.get(methodKey);
    if (list === undefined) {
      list = [];
      this.durations.set(methodKey, list);
    }
    list.push(durMs);
  }

  latency(): Record<string, LatencyStats> {
    const out: Record<string, LatencyStats> = {};
    for (const key of [...this.durations.keys()].sort()) {
      const sorted = [...this.durations.get(key)!].sort((a, b) => a - b);
      out[key] = { n: sorted.length, p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), maxMs: round(sorted[sorted.length - 1]!) };
    }
    return out;
  }

  summary(endedAt: Date): TraceSummary {
    return { type: 'summary', endedAt: endedAt.toISOString(), calls: this.calls, violations: { ...this.violations }, latency: this.latency() };
  }
}

/** The summary as the console shows it. */
export function formatSummary(s: TraceSummary): string {
  const lines = [`${s.calls} calls, violations: ${s.violations.must} must, ${s.violations.should} should, ${s.violations.compat} compat`];
  const keys = Object.keys(s.latency);
  if (keys.length > 0) {
    const width = Math.max(...keys.map((k) => k.length));
    lines.push(`${'method'.padEnd(width)}  ${'n'.padStart(6)}  ${'p50 ms'.padStart(9)}  ${'p99 ms'.padStart(9)}  ${'max ms'.padStart(9)}`);
    for (const k of keys) {
      const l = s.latency[k]!;
      lines.push(`${k.padEnd(width)}  ${String(l.n).padStart(6)}  ${l.p50Ms.toFixed(3).padStart(9)}  ${l.p99Ms.toFixed(3).padStart(9)}  ${l.maxMs.toFixed(3).padStart(9)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
