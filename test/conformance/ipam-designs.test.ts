/**
 * IPAM designs dockerd accepts, each written independently from protocol.md,
 * ipam-semantics.md and real plugins' public behaviour (test/conformance/designs/),
 * pass the ipam suite at the default level on many seeds: no false alarms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceConfig } from '../../conformance/config.js';
import type { RunReport } from '../../conformance/types.js';
import { startConfiguredPoolsIpam } from './designs/configured-pools-ipam.js';
import { startDockerFaithfulIpam } from './designs/docker-faithful-ipam.js';
import { startFixedGatewayIpam } from './designs/fixed-gateway-ipam.js';
import { startLocalOnlyIpam } from './designs/local-only-ipam.js';
import { startOptRequiredIpam } from './designs/opt-required-ipam.js';
import { startPerAddressIpam } from './designs/per-address-ipam.js';
import { startRandomIpam } from './designs/random-ipam.js';
import { startStatelessIpam } from './designs/stateless-ipam.js';
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

/** Seeds the other designs run on: the full default run (protocol + ipam, level should). */
const SOME_SEEDS = [1, 2, 3, 4, 5, 6];
const FULL: Partial<ConformanceConfig> = { suites: ['protocol', 'ipam'], runs: 30 };
/** Calico's pools, given to the run as --subnet (the only subnets it serves). */
const CALICO_POOLS = ['10.199.0.0/28', '10.199.0.16/28', '10.199.0.32/28', '10.199.0.48/28', 'fd00:c0::/124', 'fd00:c0::10/124'];

function check(report: RunReport, id: string): RunReport['checks'][number] {
  const c = report.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
}

describe('other IPAM designs pass the full default run on several seeds', () => {
  const designs: { name: string; start: (socket: string) => Promise<ListeningPlugin>; config?: Partial<ConformanceConfig>; verify?: (r: RunReport) => void }[] = [
    {
      name: 'stateless (pool rebuilt from its PoolID, ReleasePool a no-op)',
      start: startStatelessIpam,
      verify: (r) => expect(check(r, 'ipam.unknown-pool-refused').notes.join(' ')).toMatch(/rebuilt from its PoolID/),
    },
    {
      name: 'fixed gateway (the pool\'s .1, once per pool)',
      start: startFixedGatewayIpam,
      verify: (r) => expect(check(r, 'ipam.gateway-request').status).toBe('passed'),
    },
    { name: 'random addresses and random automatic pools', start: (s) => startRandomIpam(s, 7) },
    { name: 'opt-required, given --ipam-opt parent=eth0', start: startOptRequiredIpam, config: { ipamOpts: { parent: 'eth0' } } },
    {
      name: 'per-address allocator (overlapping pools granted, no address twice)',
      start: startPerAddressIpam,
      verify: (r) => expect(check(r, 'ipam.overlapping-pool-refused').notes.join(' ')).toMatch(/probed/),
    },
    {
      name: 'configured pools (Calico: /32 answers, Data gateway 0.0.0.0/0, PoolID = CIDR)',
      start: (s) => startConfiguredPoolsIpam(s, CALICO_POOLS),
      config: { subnets: CALICO_POOLS },
      verify: (r) => {
        expect(check(r, 'ipam.no-network-broadcast').status).toBe('passed');
        expect(check(r, 'ipam.gateway-request').status).toBe('skipped');
        expect(check(r, 'ipam.request-options-tolerated').status).toBe('passed');
      },
    },
    { name: 'local-only (empty GlobalDefaultAddressSpace)', start: startLocalOnlyIpam },
  ];
  for (const d of designs) {
    it(d.name, async () => {
      const { bySeed, reports, ms } = await onSeeds(d.name.split(' ')[0]!, d.start, { ...FULL, ...d.config }, SOME_SEEDS);
      console.log(`${d.name}: protocol + ipam on ${SOME_SEEDS.length} seeds in ${ms} ms`);
      expect(bySeed).toEqual({});
      for (const r of reports) d.verify?.(r);
      // The model checks really checked something (a skipped model check would be a blind spot).
      expect(check(reports[0]!, 'ipam.no-duplicate-address').status).toBe('passed');
    }, 300_000);
  }

  it('opt-required without --ipam-opt: every check needing a pool skips, pointing to --ipam-opt', async () => {
    const { bySeed, reports } = await onSeeds('optless', startOptRequiredIpam, FULL, [1]);
    expect(bySeed).toEqual({});
    const r = reports[0]!;
    for (const id of ['ipam.no-duplicate-address', 'ipam.request-pool-explicit', 'ipam.request-options-tolerated', 'ipam.identical-pool-request', 'ipam.concurrent-no-duplicate']) {
      expect(check(r, id).status, id).toBe('skipped');
      expect(check(r, id).message, id).toMatch(/--ipam-opt/);
    }
  }, 60_000);

  it('configured pools (Calico) without --subnet: automatic-pool mode, explicit-pool checks skip pointing to --subnet', async () => {
    const { bySeed, reports } = await onSeeds('calico-nosubnet', (s) => startConfiguredPoolsIpam(s, CALICO_POOLS), FULL, [1, 2]);
    expect(bySeed).toEqual({});
    const r = reports[0]!;
    // The model works with the automatic pool it gets (0.0.0.0/0, PoolID CalicoPoolIPv4).
    expect(check(r, 'ipam.no-duplicate-address').status).toBe('passed');
    expect(check(r, 'ipam.no-duplicate-address').notes.join(' ')).toMatch(/automatic-pool mode/);
    expect(check(r, 'ipam.preferred-address-honoured').status).toBe('skipped');
    for (const id of ['ipam.request-options-tolerated', 'ipam.identical-pool-request']) {
      expect(check(r, id).status, id).toBe('skipped');
      expect(check(r, id).message, id).toMatch(/--subnet/);
    }
  }, 60_000);
});
