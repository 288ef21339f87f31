/**
 * bench/store: acknowledged allocations per second of `cnmkit serve --store
 * etcd://...` with 1, 2 and 4 instances on one etcd member (Debian etcd 3.4,
 * real fsync, temporary data directory), against the local in-memory
 * GlobalDefault of a plain `cnmkit serve` measured in the same run.
 *
 * Every instance is a real serve process on a unix socket; the load is
 * RequestAddress calls over those sockets from this process (C clients per
 * instance, keep-alive), acknowledged = the 200 reply arrived. Two layouts:
 * all instances allocating in ONE shared pool (they contend on the same
 * bitmap chunk), and one pool per instance. Also: etcd write transactions
 * per second (revision delta), allocations per transaction (batching), and
 * CPU time per allocation of the serving processes and of etcd (/proc).
 * Instances are separate `cnmkit serve` processes, and (rows "one host
 * process") in-process servers in one process (bench/store/host.ts), each
 * with its own socket and etcd client.
 *
 * Env: BENCH_SECONDS (default 5) per measurement, BENCH_STORE_CLIENTS
 * (default 32) clients per instance.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { etcdSkipReason, startEtcd, type EtcdCluster } from '../../test/helpers/etcd.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const HOST = fileURLToPath(new URL('./host.ts', import.meta.url));

interface Instance {
  socket: string;
  child: ChildProcess;
  agent: Agent;
}

async function startServe(socket: string, extra: string[]): Promise<Instance> {
  return startChild(socket, ['--import', 'tsx', MAIN, 'serve', '--socket', socket, ...extra]);
}

/** Instances served by ONE host process (bench/store/host.ts); they share the child, so only the first is killed. */
async function startHosted(sockets: string[], url: string, prefix: string): Promise<Instance[]> {
  const first = await startChild(sockets[0]!, ['--import', 'tsx', HOST, url, prefix, ...sockets]);
  return sockets.map((socket, i) => (i === 0 ? first : { socket, child: first.child, agent: new Agent({ keepAlive: true, maxSockets: Infinity }) }));
}

async function startChild(socket: string, args: string[]): Promise<Instance> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before listening: ${out}`)));
  });
  return { socket, child, agent: new Agent({ keepAlive: true, maxSockets: Infinity }) };
}

async function stopAll(insts: Instance[]): Promise<void> {
  await Promise.all(
    insts.map(
      (i) =>
        new Promise<void>((resolve) => {
          i.agent.destroy();
          if (i.child.exitCode !== null || i.child.signalCode !== null) return resolve();
          i.child.once('exit', () => resolve());
          i.child.kill('SIGTERM');
        }),
    ),
  );
}

function post(inst: Instance, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = request({ socketPath: inst.socket, agent: inst.agent, path, method: 'POST', headers: { 'content-length': data.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

interface Result {
  allocs: number;
  errors: number;
  seconds: number;
  lat: number[];
}

/** `clients` loops per instance of RequestAddress in that instance's pool; counts replies inside the measured window. */
async function load(insts: Instance[], pools: string[], clients: number, seconds: number): Promise<Result> {
  const warm = 1000;
  const t0 = performance.now();
  const from = t0 + warm;
  const until = from + seconds * 1000;
  const res: Result = { allocs: 0, errors: 0, seconds, lat: [] };
  await Promise.all(
    insts.flatMap((inst, i) =>
      Array.from({ length: clients }, async () => {
        for (;;) {
          const s = performance.now();
          if (s >= until) return;
          const r = await post(inst, '/IpamDriver.RequestAddress', { PoolID: pools[i]!, Address: '', Options: null });
          const e = performance.now();
          if (s < from || e > until) continue;
          if (r.status === 200) {
            res.allocs++;
            res.lat.push(e - s);
          } else res.errors++;
        }
      }),
    ),
  );
  return res;
}

/** Current etcd revision (JSON gateway of the member). */
async function revision(etcd: EtcdCluster): Promise<number> {
  const r = await fetch(`${etcd.members[0]!.clientUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/').toString('base64') }) });
  const j = (await r.json()) as { header: { revision: string } };
  return Number(j.header.revision);
}

/** CPU seconds (user + system) a process has used so far, from /proc (0 when unreadable). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the command name: state is field 3, utime 14, stime 15 (clock ticks, 100/s on Linux).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

interface Row {
  config: string;
  instances: number;
  rate: number;
  p50: number;
  p99: number;
  errors: number;
  txns: number | null;
  /** CPU µs per acknowledged allocation: serve processes, etcd. */
  cpuServe: number;
  cpuEtcd: number | null;
}

export async function main(): Promise<void> {
  const skip = etcdSkipReason();
  if (skip !== null) {
    console.log(`bench/store: skipped, ${skip}`);
    return;
  }
  const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
  const clients = Number(process.env['BENCH_STORE_CLIENTS'] ?? 32);
  if (!(seconds > 0) || !(Number.isInteger(clients) && clients > 0)) throw new Error('BENCH_SECONDS > 0 and BENCH_STORE_CLIENTS a positive integer');
  console.log(`RequestAddress over unix sockets, ${clients} clients per instance, ${seconds}s per measurement (after 1s warm-up)`);
  const dir = mkdtempSync(join(tmpdir(), 'cnmkit-bench-store-'));
  const etcd = await startEtcd(1);
  const rows: Row[] = [];
  const insts: Instance[] = [];
  let n = 0;
  const measure = async (config: string, group: Instance[], pools: string[], withEtcd: boolean): Promise<void> => {
    const r0 = withEtcd ? await revision(etcd) : 0;
    const etcdPid = etcd.members[0]!.proc?.pid;
    const pids = [...new Set(group.map((i) => i.child.pid))].filter((p): p is number => p !== undefined);
    const serveCpu = (): number => pids.reduce((t, pid) => t + cpuSeconds(pid), 0);
    // Sampled over the whole run (warm-up included), divided by the allocations of that span.
    const c0 = serveCpu();
    const e0 = cpuSeconds(etcdPid);
    const r = await load(group, pools, clients, seconds);
    const span = r.allocs * ((r.seconds + 1) / r.seconds);
    const cpuServe = ((serveCpu() - c0) / span) * 1e6;
    const cpuEtcd = withEtcd ? ((cpuSeconds(etcdPid) - e0) / span) * 1e6 : null;
    const r1 = withEtcd ? await revision(etcd) : 0;
    rows.push({
      config,
      instances: group.length,
      rate: r.allocs / r.seconds,
      p50: pct(r.lat, 50),
      p99: pct(r.lat, 99),
      errors: r.errors,
      // Includes the warm-up second: an estimate of write transactions per second.
      txns: withEtcd ? (r1 - r0) / (r.seconds + 1) : null,
      cpuServe,
      cpuEtcd,
    });
  };
  try {
    // Anchor: the plain reference, GlobalDefault in this process's memory.
    const local = await startServe(join(dir, `local.sock`), []);
    insts.push(local);
    const lp = await post(local, '/IpamDriver.RequestPool', { AddressSpace: 'GlobalDefault', Pool: '10.0.0.0/12' });
    await measure('local (no store)', [local], [String(lp.body.PoolID)], false);
    await stopAll(insts.splice(0));
    for (const [count, hosted] of [[1, false], [2, false], [4, false], [2, true], [4, true]] as const) {
      for (const layout of ['shared pool', 'pool per instance'] as const) {
        if (count === 1 && layout === 'pool per instance') continue;
        const prefix = `/bench-${n++}/`;
        const socks = Array.from({ length: count }, (_, i) => join(dir, `s${n}-${i}.sock`));
        const group = hosted
          ? await startHosted(socks, etcd.url, prefix)
          : await Promise.all(socks.map((sock) => startServe(sock, ['--store', etcd.url, '--store-prefix', prefix])));
        insts.push(...group);
        const pools: string[] = [];
        for (let i = 0; i < count; i++) {
          if (layout === 'shared pool' && i > 0) {
            pools.push(pools[0]!);
            continue;
          }
          const p = await post(group[i]!, '/IpamDriver.RequestPool', { AddressSpace: 'GlobalDefault', Pool: `10.${16 * (i + 1)}.0.0/12` });
          if (p.status !== 200) throw new Error(`RequestPool: ${JSON.stringify(p.body)}`);
          pools.push(String(p.body.PoolID));
        }
        await measure(`etcd, ${layout}${hosted ? ', one host process' : ''}`, group, pools, true);
        await stopAll(insts.splice(0));
      }
    }
  } finally {
    await stopAll(insts);
    await etcd.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const anchor = rows[0]!.rate;
  const header = ['config', 'instances', 'allocs/s', 'x local', 'p50 ms', 'p99 ms', 'errors', 'etcd txns/s', 'allocs/txn', 'CPU µs/alloc serve', 'etcd'];
  const table = rows.map((r) => [
    r.config,
    String(r.instances),
    r.rate.toFixed(0),
    (r.rate / anchor).toFixed(3),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    String(r.errors),
    r.txns === null ? '-' : r.txns.toFixed(0),
    r.txns === null || r.txns === 0 ? '-' : (r.rate / r.txns).toFixed(1),
    r.cpuServe.toFixed(0),
    r.cpuEtcd === null ? '-' : r.cpuEtcd.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(fmt(header));
  for (const row of table) console.log(fmt(row));
  // Target: >= 5000 acknowledged allocations/s with 2 instances.
  for (const r of rows.filter((x) => x.instances === 2)) {
    console.log(`2 instances, ${r.config.slice('etcd, '.length)}: ${r.rate.toFixed(0)} allocs/s (target >= 5000): ${r.rate >= 5000 ? 'met' : 'NOT met'}`);
  }
}
