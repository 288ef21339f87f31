/**
 * No false alarms in the multi suite: every IPAM design fixture served as
 * several instances over one state (one handler table behind two or three
 * sockets, as instances over one linearizable store) passes on several seeds,
 * whatever its pool ids, address order, gateway handling, required options or
 * per-address allocation (Calico, the one real multi-host IPAM among them, with
 * its configured pools). The same designs started as independent instances fail.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInstances } from '../../conformance/multi/index.js';
import type { ConformanceConfig } from '../../conformance/config.js';
import type { ListeningPlugin } from './plugins/listen.js';
import { configuredPoolsIpamMethods } from './designs/configured-pools-ipam.js';
import { dockerFaithfulIpamMethods } from './designs/docker-faithful-ipam.js';
import { type FixtureMethods, serveFixture } from './designs/serve.js';
import { seededRandom, statefulIpamMethods } from './designs/stateful-ipam.js';
import { failedIds, quickConfig, result, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await dir.remove();
});

interface Design {
  readonly name: string;
  readonly methods: (seed: number) => FixtureMethods;
  readonly config?: Partial<ConformanceConfig>;
}

const CALICO_POOLS = ['10.233.0.0/26', '10.233.0.64/26'];

const designs: Design[] = [
  { name: 'plain stateful', methods: () => statefulIpamMethods() },
  { name: 'random order, opaque pool ids', methods: (seed) => { const random = seededRandom(seed); return statefulIpamMethods({ random, poolId: () => `pool-${Math.floor(random() * 2 ** 48).toString(16)}` }); } },
  { name: 'per-address (overlapping pools granted)', methods: () => statefulIpamMethods({ scope: 'per-address', poolId: (_s, net, _sub, n) => `pa-${n}-${net.prefix}` }) },
  { name: 'fixed gateway', methods: () => statefulIpamMethods({ fixedGateway: true }) },
  { name: 'required option', methods: () => statefulIpamMethods({ requiredOption: 'parent' }), config: { ipamOpts: { parent: 'eth0' } } },
  { name: "Docker's default IPAM", methods: () => dockerFaithfulIpamMethods() },
  { name: 'Calico configured pools (routed /32, gateway in Data)', methods: () => configuredPoolsIpamMethods(CALICO_POOLS), config: { subnets: CALICO_POOLS } },
];

async function serveInstances(methods: readonly FixtureMethods[], n: number): Promise<{ sockets: string[]; servers: ListeningPlugin[]; restart: (i: number) => Promise<void> }> {
  const sockets = Array.from({ length: n }, (_, i) => dir.socket(`d${i}-${Math.random().toString(16).slice(2, 8)}`));
  const table = (i: number): FixtureMethods => methods[i % methods.length]!;
  const servers = await Promise.all(sockets.map((s, i) => serveFixture(s, table(i), { implements: ['IpamDriver'] })));
  return {
    sockets,
    servers,
    // The instance's process dies and comes back; the (shared) state is the store's.
    async restart(i) {
      await servers[i]!.close();
      servers[i] = await serveFixture(sockets[i]!, table(i), { implements: ['IpamDriver'] });
    },
  };
}

describe('multi suite: no false alarm on shared-state designs, a failure on independent instances', () => {
  for (const d of designs) {
    it(`${d.name}: shared instances pass on seeds 1-3; independent ones fail`, async () => {
      for (const seed of [1, 2, 3]) {
        const shared = d.methods(seed);
        const n = seed === 3 ? 3 : 2;
        const inst = await serveInstances([shared], n);
        try {
          const report = await runInstances(
            inst.sockets.map((socket) => ({ socket })),
            quickConfig(dir, { seed, suites: ['multi'], stormSize: 100, ...d.config }),
            { restarts: inst.sockets.map((_, i) => () => inst.restart(i)) },
          );
          expect(failedIds(report), `${d.name}, seed ${seed}: ${report.checks.filter((c) => c.status === 'failed').map((c) => c.message).join(' | ')}`).toEqual([]);
          const skipped = report.checks.filter((c) => c.status !== 'passed');
          expect(skipped.map((c) => `${c.id}: ${c.message}`), `${d.name}, seed ${seed}`).toEqual([]);
        } finally {
          await Promise.all(inst.servers.map((s) => s.close()));
        }
      }
      const apart = await serveInstances([d.methods(9), d.methods(9)], 2);
      try {
        const report = await runInstances(apart.sockets.map((socket) => ({ socket })), quickConfig(dir, { seed: 9, checks: ['multi.pool-used-everywhere'], ...d.config }));
        const r = result(report, 'multi.pool-used-everywhere');
        expect(r.status, d.name).toBe('failed');
        expect(r.message, d.name).toMatch(/do not share state|two containers on different hosts get one address/);
      } finally {
        await Promise.all(apart.servers.map((s) => s.close()));
      }
    }, 120_000);
  }
});
