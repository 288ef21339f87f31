/**
 * The design sweep behind the "no false alarms" numbers: every correct-but-different
 * design fixture through the full default run (all suites, level should) on many
 * seeds, counting must/should failures per design.
 *
 *   npx tsx test/conformance/design-sweep.ts                 # seeds 1-20, runs 100
 *   SEEDS=1-5 RUNS=30 ONLY=routed-l3,managed npx tsx test/conformance/design-sweep.ts
 *   TREE=/path/to/other/checkout npx tsx test/conformance/design-sweep.ts   # another checker, same fixtures
 */
import type { ListeningPlugin } from './plugins/listen.js';
import { startConfiguredPoolsIpam } from './designs/configured-pools-ipam.js';
import { startDhcpDriver } from './designs/dhcp-driver.js';
import { startDockerFaithfulIpam } from './designs/docker-faithful-ipam.js';
import { startFixedGatewayIpam } from './designs/fixed-gateway-ipam.js';
import { startLinkLocalDriver } from './designs/linklocal-driver.js';
import { startLocalOnlyIpam } from './designs/local-only-ipam.js';
import { startManagedPlugin } from './designs/managed-plugin.js';
import { startOptRequiredIpam } from './designs/opt-required-ipam.js';
import { startPerAddressIpam } from './designs/per-address-ipam.js';
import { startRandomIpam } from './designs/random-ipam.js';
import { startRoutedL3Plugin } from './designs/routed-l3-plugin.js';
import { startSlowPlugin } from './designs/slow-plugin.js';
import { startStatelessIpam } from './designs/stateless-ipam.js';

const tree = process.env.TREE ?? new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const { runSuites } = (await import(`${tree}/conformance/runner.ts`)) as typeof import('../../conformance/runner.js');
const CALICO = ['10.199.0.0/28', '10.199.0.16/28', '10.199.0.32/28', '10.199.0.48/28', 'fd00:c0::/124', 'fd00:c0::10/124'];
/** `onlyWhenNamed`: ten minutes a seed at the default run budget; run it with ONLY=slow. */
type Design = { name: string; start: (s: string, seed: number) => Promise<ListeningPlugin>; config?: Record<string, unknown>; onlyWhenNamed?: boolean };
const designs: Design[] = [
  { name: 'docker-faithful', start: (s) => startDockerFaithfulIpam(s) },
  { name: 'stateless', start: (s) => startStatelessIpam(s) },
  { name: 'fixed-gateway', start: (s) => startFixedGatewayIpam(s) },
  { name: 'random', start: (s, seed) => startRandomIpam(s, seed) },
  { name: 'opt-required', start: (s) => startOptRequiredIpam(s), config: { ipamOpts: { parent: 'eth0' } } },
  { name: 'per-address', start: (s) => startPerAddressIpam(s) },
  { name: 'configured-pools', start: (s) => startConfiguredPoolsIpam(s, CALICO), config: { subnets: CALICO } },
  { name: 'local-only', start: (s) => startLocalOnlyIpam(s) },
  { name: 'routed-l3', start: (s) => startRoutedL3Plugin(s) },
  // Short leases: slowness is the `slow` design's subject (a 300 ms lease makes a seed take minutes).
  { name: 'dhcp-null-ipam', start: (s) => startDhcpDriver(s, { leaseMs: 20 }), config: { driverOpts: { bridge: 'br-dhcp' } } },
  { name: 'linklocal', start: (s) => startLinkLocalDriver(s) },
  { name: 'managed', start: (s) => startManagedPlugin(s) },
  { name: 'slow', start: (s) => startSlowPlugin(s), onlyWhenNamed: true },
];
const only = process.env.ONLY?.split(',');
const seeds = (process.env.SEEDS ?? '1-20').split('-').map(Number);
const runs = Number(process.env.RUNS ?? 100);
let n = 0;
for (const d of designs) {
  if (only ? !only.includes(d.name) : d.onlyWhenNamed === true) continue;
  const failing = new Map<string, number>();
  let bad = 0;
  const t0 = Date.now();
  for (let seed = seeds[0]!; seed <= seeds[1]!; seed++) {
    const sock = `/tmp/sweep-${process.pid}-${n++}.sock`;
    const p = await d.start(sock, seed);
    try {
      const r = await runSuites({ socket: sock }, { seed, runs, replayDir: null, netns: 'none', ...(d.config ?? {}) } as never);
      const f = r.checks.filter((c) => c.status === 'failed' && c.level !== 'compat');
      if (f.length > 0) bad++;
      for (const c of f) failing.set(c.id, (failing.get(c.id) ?? 0) + 1);
    } catch (e) {
      bad++;
      failing.set(`error: ${(e as Error).message.slice(0, 80)}`, 1 + (failing.get(`error: ${(e as Error).message.slice(0, 80)}`) ?? 0));
    } finally {
      await p.close();
    }
  }
  console.log(`${d.name}\t${bad}/${seeds[1]! - seeds[0]! + 1} seeds with a must/should failure\t${((Date.now() - t0) / 1000).toFixed(0)} s\t${[...failing].map(([k, v]) => `${k} x${v}`).join(', ')}`);
}
process.exit(0);
