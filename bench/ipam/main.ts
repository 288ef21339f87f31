/**
 * Reference IPAM benchmarks (`npm run bench ipam`). In-process through the
 * public API (`createIpam`): /16 fill, churn on a fragmented full /16, 1M
 * allocations in an IPv6 /64, a /8 fill, durable allocations with 16
 * concurrent callers; then over a unix socket with the SDK against the Go
 * anchor (`/work/shared/bench-anchor/run.sh`, or $CNMKIT_BENCH_ANCHOR).
 * Set CNMKIT_BENCH_QUICK=1 for a short run.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createIpam } from '../../src/ipam/index.js';
import { servePlugin } from '../../src/sdk/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const quick = process.env.CNMKIT_BENCH_QUICK === '1';

interface Row {
  workload: string;
  result: string;
  target: string;
  docker: string;
}
const rows: Row[] = [];

function heapMiB(): number {
  gc();
  gc();
  // Bitmaps live in typed arrays: count their backing stores too.
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

function now(): number {
  return performance.now();
}

function fillSlash16(): number {
  const ipam = createIpam();
  const { PoolID } = ipam.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16' });
  const req = { PoolID, Address: '', Options: null };
  const t = now();
  for (let i = 0; i < 65534; i++) ipam.requestAddress(req);
  return 65534 / ((now() - t) / 1000);
}

function churn(pairs: number): number {
  const ipam = createIpam();
  const { PoolID } = ipam.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16' });
  const req = { PoolID, Address: '', Options: null };
  for (let i = 0; i < 65534; i++) ipam.requestAddress(req);
  // Worst case for run-length bitmaps: one hole in every 32-address block.
  for (let b = 0; b < 2048; b++) {
    const o = b * 32 + 17;
    ipam.releaseAddress({ PoolID, Address: `10.0.${o >> 8}.${o & 255}` });
  }
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  // Pre-draw victims that are allocated (not hole/reserved positions of the start).
  const victims: string[] = [];
  for (let i = 0; i < 4096; i++) {
    const o = 1 + (rnd() % 65533);
    victims.push(`10.0.${o >> 8}.${o & 255}`);
  }
  const t = now();
  for (let i = 0; i < pairs; i++) {
    ipam.releaseAddress({ PoolID, Address: victims[i & 4095] });
    ipam.requestAddress(req);
  }
  return (pairs * 2) / ((now() - t) / 1000);
}

function v6Million(): { ms: number; mib: number } {
  const base = heapMiB();
  const ipam = createIpam();
  const { PoolID } = ipam.requestPool({ AddressSpace: 'LocalDefault', Pool: 'fd00:1:2:3::/64' });
  const req = { PoolID, Address: '', Options: null };
  const t = now();
  for (let i = 0; i < 1_000_000; i++) ipam.requestAddress(req);
  const ms = now() - t;
  const mib = heapMiB() - base;
  void ipam.stats();
  return { ms, mib };
}

function slash8(): { ms: number; mib: number; stateMiB: number } {
  const base = heapMiB();
  const ipam = createIpam();
  const { PoolID } = ipam.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/8' });
  const req = { PoolID, Address: '', Options: null };
  const n = 2 ** 24 - 2;
  const t = now();
  for (let i = 0; i < n; i++) ipam.requestAddress(req);
  const ms = now() - t;
  const mib = heapMiB() - base;
  const stateMiB = ipam.stats().bitmapBytes / 2 ** 20;
  if (ipam.pool(PoolID)?.free !== '0') throw new Error('/8 not full');
  return { ms, mib, stateMiB };
}

async function durable(clients: number, seconds: number): Promise<{ rate: number; perFlush: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'cnmkit-bench-ipam-'));
  try {
    const ipam = createIpam({ stateDir: join(dir, 'state') });
    const { PoolID } = await ipam.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/8' });
    const req = { PoolID, Address: '', Options: null };
    let n = 0;
    const end = now() + seconds * 1000;
    const t = now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (now() < end) {
          await ipam.requestAddress(req);
          n++;
        }
      }),
    );
    const rate = n / ((now() - t) / 1000);
    const s = ipam.journalStats()!;
    await ipam.close();
    return { rate, perFlush: s.records / Math.max(1, s.flushes + s.compactions) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function best(f: () => number, runs: number): number {
  let b = 0;
  for (let i = 0; i < runs; i++) b = Math.max(b, f());
  return b;
}

const fmtRate = (r: number): string => (r >= 1e6 ? `${(r / 1e6).toFixed(2)}M/s` : `${(r / 1e3).toFixed(1)}k/s`);

async function overSocket(): Promise<string> {
  const anchor = process.env.CNMKIT_BENCH_ANCHOR ?? resolve('/work/shared/bench-anchor/run.sh');
  if (!existsSync(anchor)) return `skipped: ${anchor} not found`;
  const dir = mkdtempSync(join(tmpdir(), 'cnmkit-bench-sock-'));
  const socket = join(dir, 'ipam.sock');
  const ipam = createIpam();
  const { PoolID } = ipam.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16' });
  const server = await servePlugin({ ipam, listen: { socket } });
  try {
    const out = await new Promise<string>((res) => {
      execFile(anchor, [socket, PoolID, quick ? '3' : '10'], { timeout: 600_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        res(err ? `failed: ${err.message}\n${stdout}${stderr}` : stdout);
      });
    });
    return out.trimEnd();
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(): Promise<void> {
  const runs = quick ? 1 : 3;
  const fill = best(fillSlash16, runs + 2);
  rows.push({ workload: 'fill a /16 (lowest free)', result: `${fmtRate(fill)} allocs`, target: '>= 5M/s', docker: '~0.27M/s (3.7 us/addr)' });
  const ch = best(() => churn(quick ? 200_000 : 1_000_000), runs);
  rows.push({ workload: 'churn on fragmented full /16 (release+request)', result: `${fmtRate(ch)} ops (${fmtRate(ch / 2)} pairs)`, target: '>= 1M ops/s', docker: '41 ms/pair worst case' });
  const v6 = v6Million();
  rows.push({ workload: '1M allocations in an IPv6 /64', result: `${(v6.ms / 1000).toFixed(2)} s, heap +${v6.mib.toFixed(1)} MiB`, target: '< 3 s', docker: '-' });
  const s8 = slash8();
  rows.push({
    workload: 'fill a /8 (16.7M addresses)',
    result: `${(s8.ms / 1000).toFixed(2)} s, heap +${s8.mib.toFixed(1)} MiB (bitmaps ${s8.stateMiB.toFixed(2)} MiB)`,
    target: '< 10 s, < 16 MiB',
    docker: '~2.4 h with boltdb (extrapolated)',
  });
  const d = await durable(16, quick ? 1 : 3);
  rows.push({ workload: 'durable allocs, --state, 16 callers', result: `${fmtRate(d.rate)} (${d.perFlush.toFixed(1)} records/fsync)`, target: '>= 50k/s', docker: 'no local persistence' });
  const d1 = await durable(1, quick ? 1 : 2);
  rows.push({ workload: 'durable allocs, --state, 1 caller', result: `${fmtRate(d1.rate)}`, target: '-', docker: '-' });

  const w = [0, 0, 0, 0];
  const cols = (r: Row): string[] => [r.workload, r.result, r.target, r.docker];
  const header: Row = { workload: 'workload (in-process)', result: 'measured', target: 'target', docker: 'Docker 20.10' };
  for (const r of [header, ...rows]) cols(r).forEach((c, i) => (w[i] = Math.max(w[i], c.length)));
  const line = (r: Row): string => cols(r).map((c, i) => c.padEnd(w[i])).join(' | ');
  console.log(line(header));
  console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
  for (const r of rows) console.log(line(r));

  console.log('\nover the socket: RequestAddress/ReleaseAddress pairs (req/s), same load generator; candidate = cnmkit SDK + reference IPAM');
  console.log(await overSocket());
}
