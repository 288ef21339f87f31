/** What a recorder session adds up to: calls, violations per level, per-method latency. */
import type { LatencyStats, TraceSummary, ViolationLevel } from './trace.js';

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

/** Durations kept per method: every one up to this many, then a uniform sample of this size (a week-long session stays small). */
const SAMPLE = 100_000;

interface Durations {
  n: number;
  max: number;
  readonly sample: number[];
}

export class SessionStats {
  calls = 0;
  readonly violations: Record<ViolationLevel, number> = { must: 0, should: 0, compat: 0 };
  private readonly durations = new Map<string, Durations>();

  add(methodKey: string, durMs: number, levels: readonly ViolationLevel[]): void {
    this.calls++;
    for (const l of levels) this.violations[l]++;
    let d = this.durations.get(methodKey);
    if (d === undefined) {
      d = { n: 0, max: 0, sample: [] };
      this.durations.set(methodKey, d);
    }
    d.n++;
    if (durMs > d.max) d.max = durMs;
    if (d.sample.length < SAMPLE) d.sample.push(durMs);
    else {
      // Reservoir sampling (Algorithm R): every duration so far is in the sample with equal chance.
      const j = Math.floor(Math.random() * d.n);
      if (j < SAMPLE) d.sample[j] = durMs;
    }
  }

  latency(): Record<string, LatencyStats> {
    const out: Record<string, LatencyStats> = {};
    for (const key of [...this.durations.keys()].sort()) {
      const d = this.durations.get(key)!;
      const sorted = [...d.sample].sort((a, b) => a - b);
      out[key] = { n: d.n, p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), maxMs: round(d.max) };
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
