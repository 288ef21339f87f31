/**
 * bench/simulate: the daemon simulator at scale. 100 networks x 100
 * containers (network create, container run, stop, rm, network rm) on the
 * reference driver + reference IPAM + virtual backend, through the real
 * client over the SDK's in-process handler: every call is encoded, served,
 * validated and decoded as on the wire.
 *
 * Env: BENCH_NETWORKS (default 100), BENCH_CONTAINERS (per network, default 100).
 * Target: the whole run under 2 s.
 */
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import { createDaemon, inProcessPlugin } from '../../src/daemon/index.js';
import { createReferenceDriver } from '../../src/driver/index.js';
import { createIpam } from '../../src/ipam/index.js';

interface PhaseResult {
  readonly phase: string;
  readonly ops: number;
  readonly seconds: number;
  /** CPU time of the process (user + system): what the run costs regardless of other load on the machine. */
  readonly cpuSeconds: number;
  readonly calls: number;
}

export async function main(): Promise<void> {
  const networks = Number(process.env['BENCH_NETWORKS'] ?? 100);
  const perNetwork = Number(process.env['BENCH_CONTAINERS'] ?? 100);
  const backend = new VirtualBackend();
  let seed = 1;
  const driver = createReferenceDriver({
    backend,
    randomBytes: (n) => Uint8Array.from({ length: n }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24),
  });
  // Automatic /24 pools so that any number of networks up to 256 fits.
  const ipam = createIpam({ defaultAddressPools: [{ base: '10.128.0.0/16', size: 24 }] });
  // BENCH_TRANSPORT=standard uses the client's isolating in-process transport instead of the lean one.
  const lean = process.env['BENCH_TRANSPORT'] !== 'standard';
  const plugin = await inProcessPlugin({ driver, ipam, lean });
  let calls = 0;
  plugin.client.onCall(() => {
    calls++;
  });
  const daemon = createDaemon({ driver: plugin.client, ipam: plugin.client, backend });

  let peakHeap = process.memoryUsage().heapUsed;
  const sampleHeap = (): void => {
    const h = process.memoryUsage().heapUsed;
    if (h > peakHeap) peakHeap = h;
  };
  const results: PhaseResult[] = [];
  const phase = async (name: string, ops: number, body: (i: number) => Promise<unknown>): Promise<void> => {
    const c0 = calls;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < ops; i++) {
      await body(i);
      if ((i & 255) === 255) {
        sampleHeap();
        // The call log keeps every record; the bench only counts them.
        daemon.clearCallLog();
      }
    }
    sampleHeap();
    daemon.clearCallLog();
    const cpu = process.cpuUsage(cpu0);
    results.push({ phase: name, ops, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, calls: calls - c0 });
  };

  const total = networks * perNetwork;
  const cname = (i: number): string => `c${i}`;
  await phase('network create', networks, (i) => daemon.networkCreate({ name: `n${i}` }));
  await phase('container run', total, (i) => daemon.containerRun({ name: cname(i), networks: [{ network: `n${i % networks}` }] }));
  await phase('container stop', total, (i) => daemon.containerStop(cname(i)));
  await phase('container rm', total, (i) => daemon.containerRm(cname(i)));
  await phase('network rm', networks, (i) => daemon.networkRm(`n${i}`));

  const problems = backend.checkInvariants();
  const leftover = (await backend.listLinks('host')).length - 1;
  daemon.close();
  await plugin.close();

  const sum = results.reduce((a, r) => ({ ops: a.ops + r.ops, seconds: a.seconds + r.seconds, cpuSeconds: a.cpuSeconds + r.cpuSeconds, calls: a.calls + r.calls }), { ops: 0, seconds: 0, cpuSeconds: 0, calls: 0 });
  const rows = [
    ['phase', 'ops', 'seconds', 'cpu s', 'plugin calls', 'calls/s', 'ops/s'],
    ...[...results, { phase: 'total', ...sum }].map((r) => [r.phase, String(r.ops), r.seconds.toFixed(3), r.cpuSeconds.toFixed(3), String(r.calls), (r.calls / r.seconds).toFixed(0), (r.ops / r.seconds).toFixed(0)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  const containerOps = results.filter((r) => r.phase.startsWith('container'));
  const cOps = containerOps.reduce((a, r) => a + r.ops, 0);
  const cSec = containerOps.reduce((a, r) => a + r.seconds, 0);
  console.log(`${networks} networks x ${perNetwork} containers: ${sum.seconds.toFixed(3)} s total, ${sum.cpuSeconds.toFixed(3)} s CPU (target < 2 s: ${sum.seconds < 2 ? 'met' : 'MISSED'}; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}), container ops/s ${(cOps / cSec).toFixed(0)}, peak heap ${(peakHeap / 1048576).toFixed(1)} MiB`);
  console.log(`transport: ${lean ? 'lean (client -> SDK handler dispatch)' : 'standard in-process transport'}`);
  console.log(`after teardown: ${leftover} host links besides lo, ${problems.length} invariant problems`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
