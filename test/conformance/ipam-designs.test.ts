/**
 * IPAM designs dockerd accepts, each written independently from protocol.md,
 * ipam-semantics.md and real plugins' public behaviour (test/conformance/designs/),
 * pass the ipam suite at the default level on many seeds: no false alarms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceConfig } from '../../conformance/config.js';
import type { RunReport } from '../../conformance/types.js';
import { startDockerFaithfulIpam } from './designs/docker-faithful-ipam.js';
import type { ListeningPlugin } from './plugins/listen.js';
import { quickConfig, runOn, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

/** `id: message` of every failing must/should check of a report. */
function alarms(report: RunReport): string[] {
  return report.checks.filter((c) => c.status === 'failed' && c.level !== 'compat').map((c) => `${c.id}: ${c.message}`);
}

/** Run `config` on each seed against a fresh plugin; returns the alarms per seed (only seeds with alarms). */
async function onSeeds(
  name: string,
  start: (socket: string) => Promise<ListeningPlugin>,
  config: Partial<ConformanceConfig>,
  seeds: readonly number[] = SEEDS,
): Promise<{ bySeed: Record<number, string[]>; reports: RunReport[]; ms: number }> {
  const bySeed: Record<number, string[]> = {};
  const reports: RunReport[] = [];
  const t0 = performance.now();
  for (const seed of seeds) {
    const plugin = await start(dir.socket(`${name}-${seed}`));
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { seed, ...config }));
      reports.push(report);
      const a = alarms(report);
      if (a.length > 0) bySeed[seed] = a;
    } finally {
      await plugin.close();
    }
  }
  return { bySeed, reports, ms: Math.round(performance.now() - t0) };
}

describe('IPAM designs dockerd accepts pass on every seed', () => {
  it('Docker 20.10 default IPAM served as a plugin: no alarm on seeds 1..20', async () => {
    const { bySeed, reports, ms } = await onSeeds('faithful', startDockerFaithfulIpam, { suites: ['ipam'], runs: 30 });
    console.log(`docker-faithful: ipam suite on ${SEEDS.length} seeds in ${ms} ms`);
    expect(bySeed).toEqual({});
    // Its Docker-ness shows at compat: none of the compat checks differ either.
    const compat = reports.flatMap((r) => r.checks.filter((c) => c.status === 'failed' && c.level === 'compat').map((c) => `${c.id}: ${c.message}`));
    expect(compat).toEqual([]);
  }, 300_000);
});
