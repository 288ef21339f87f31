/**
 * The sweep behind the "no blind spots" numbers, the counterpart of design-sweep.ts:
 * every broken fixture of flaw-cases.ts against its own check on many seeds, counting
 * the seeds on which the flaw went unseen and the longest shrunk counterexample.
 *
 *   npx tsx test/conformance/flaw-sweep.ts                          # seeds 1-20, runs 100
 *   SEEDS=1-60 RUNS=30 ONLY=pool-never-freed,duplicate-mac npx tsx test/conformance/flaw-sweep.ts
 *
 * Exits 1 when a flaw went unseen on any seed.
 */
import { runSuites } from '../../conformance/runner.js';
import type { ConformanceConfig } from '../../conformance/config.js';
import { startFlawedDriver } from './driver-plugins/flawed-driver.js';
import { startRacyDriver } from './driver-plugins/racy-driver.js';
import { driverFlawCases, ipamBlindSpotFlawCases, ipamFlawCases, racyDriverFlawCases } from './flaw-cases.js';
import { startFlawedIpam } from './plugins/ipam-flaws.js';
import { startMiniIpam } from './plugins/mini-ipam.js';

interface Case {
  flaw: string;
  check: string;
  start: (socket: string) => Promise<{ close(): Promise<void> }>;
  config: Partial<ConformanceConfig>;
  text?: RegExp;
}

const IPAM = { suites: ['ipam'] };
// These drivers create no kernel links.
const DRIVER = { suites: ['driver'], netns: 'none' as const };
const cases: Case[] = [
  ...ipamFlawCases.map((c) => ({ flaw: c.flaw, check: c.check, start: (s: string) => startMiniIpam(s, [c.flaw]), config: IPAM })),
  ...ipamBlindSpotFlawCases.map((c) => ({ flaw: c.flaw, check: c.id, text: c.mentions, start: (s: string) => startFlawedIpam(s, [c.flaw]), config: IPAM })),
  ...driverFlawCases.map(([flaw, check, text]) => ({ flaw, check, text, start: (s: string) => startFlawedDriver(s, { flaw }), config: DRIVER })),
  ...racyDriverFlawCases.map(([flaw, check, text]) => ({ flaw, check, text, start: (s: string) => startRacyDriver(s, { flaw }), config: DRIVER })),
];

const only = process.env.ONLY?.split(',');
const [from, to] = (process.env.SEEDS ?? '1-20').split('-').map(Number) as [number, number];
const runs = Number(process.env.RUNS ?? 100);
if (!(from >= 0 && to >= from && runs > 0)) throw new Error('SEEDS must be A-B with A <= B, RUNS a positive number');
let unseen = 0;
let n = 0;
for (const c of cases) {
  if (only && !only.includes(c.flaw)) continue;
  const missed: string[] = [];
  let longest = 0;
  const t0 = Date.now();
  for (let seed = from; seed <= to; seed++) {
    const socket = `/tmp/flaw-sweep-${process.pid}-${n++}.sock`;
    const plugin = await c.start(socket);
    try {
      const report = await runSuites({ socket }, { ...c.config, seed, runs, replayDir: null, timeoutMs: 2000, checks: [c.check] });
      const r = report.checks.find((x) => x.id === c.check);
      if (r?.status !== 'failed' || (c.text && !c.text.test(r.message ?? ''))) missed.push(`${seed} (${r?.status ?? 'absent'})`);
      else longest = Math.max(longest, r.counterexample?.steps.length ?? 0);
    } finally {
      await plugin.close();
    }
  }
  unseen += missed.length;
  const total = to - from + 1;
  console.log(
    `${c.flaw} -> ${c.check}\tcaught on ${total - missed.length}/${total} seeds\tlongest counterexample ${longest} steps\t${((Date.now() - t0) / 1000).toFixed(1)} s` +
      (missed.length > 0 ? `\tunseen on seeds ${missed.join(', ')}` : ''),
  );
}
process.exit(unseen > 0 ? 1 : 0);
