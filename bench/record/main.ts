/**
 * bench/record: what `cnmkit record` adds to a call. One run measures the same
 * dockerd-like traffic (RequestAddress then ReleaseAddress of what it got, on
 * one keep-alive connection, dockerd's exact request bytes) against a plugin
 * process served by the SDK (the in-memory IPAM of bench/server) directly — the
 * anchor — and through a recorder process (bench/record/child.ts) in three set-ups: the proxy alone, the proxy with
 * the live checker, and the full recorder (checker + trace line written per
 * call). Rounds alternate between the set-ups so drift hits all alike.
 *
 * Env: BENCH_CALLS (default 4000) calls per set-up and round; BENCH_ROUNDS (default 5).
 * The table gives p50/p99/max per set-up, the p50/p99 overhead against the direct
 * anchor (target: < 0.2 ms at p50) and the ratio.
 */
import { createConnection, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile } from '../../src/record/summary.js';

const here = dirname(fileURLToPath(import.meta.url));

const CALLS = Number(process.env['BENCH_CALLS'] ?? 4000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const POOL_ID = 'LocalDefault/10.0.0.0/16';

/** dockerd's request bytes (protocol.md §1.3: empty Host, no Content-Type, Go's JSON). */
function request(path: string, body: string): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: ${b.length}\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n\r\n`), b]);
}

/** A keep-alive connection that sends one request at a time and waits for the whole reply (Content-Length). */
class RawConn {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: ((body: string) => void) | null = null;
  private constructor(private readonly sock: Socket) {
    sock.on('data', (c: Buffer) => {
      this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c]);
      this.tryComplete();
    });
  }
  static open(path: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }
  private tryComplete(): void {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0 || this.waiting === null) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const m = /content-length: *(\d+)/i.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (this.buf.length < end + 4 + len) return;
    const body = this.buf.subarray(end + 4, end + 4 + len).toString();
    this.buf = this.buf.subarray(end + 4 + len);
    const w = this.waiting;
    this.waiting = null;
    w(body);
  }
  send(bytes: Buffer): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.sock.write(bytes);
    });
  }
  close(): void {
    this.sock.destroy();
  }
}

/** `calls` calls (half RequestAddress, half ReleaseAddress); per-call latency in ms. */
async function drive(socket: string, calls: number): Promise<number[]> {
  const conn = await RawConn.open(socket);
  const out: number[] = [];
  const reqAddr = request('/IpamDriver.RequestAddress', `{"PoolID":"${POOL_ID}","Address":"","Options":null}\n`);
  for (let i = 0; i < calls / 2; i++) {
    let t = performance.now();
    const got = await conn.send(reqAddr);
    out.push(performance.now() - t);
    const addr = (JSON.parse(got) as { Address: string }).Address.split('/')[0]!;
    const rel = request('/IpamDriver.ReleaseAddress', `{"PoolID":"${POOL_ID}","Address":"${addr}"}\n`);
    t = performance.now();
    await conn.send(rel);
    out.push(performance.now() - t);
  }
  conn.close();
  return out;
}

interface Setup {
  readonly name: string;
  readonly socket: string;
  samples: number[];
}

/** A bench/record/child.ts process; resolves once it listens. */
function child(args: readonly string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', join(here, 'child.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve(c);
    });
    c.once('exit', (code) => reject(new Error(`bench child ${args[0]} exited with ${code}`)));
  });
}

function stopChild(c: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.once('exit', () => resolve(out));
    c.kill('SIGTERM');
  });
}

export async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cnmkit-bench-record-'));
  const pluginSocket = join(dir, 'plugin.sock');
  const children: ChildProcess[] = [];
  // A pool the checker knows, as dockerd would have created it through the recorder.
  const seedPool = async (socket: string): Promise<void> => {
    const c = await RawConn.open(socket);
    await c.send(request('/IpamDriver.RequestPool', '{"AddressSpace":"LocalDefault","Pool":"10.0.0.0/16","SubPool":"","Options":{},"V6":false}\n'));
    c.close();
  };
  const setups: Setup[] = [
    { name: 'direct (anchor)', socket: pluginSocket, samples: [] },
    { name: 'proxy only', socket: join(dir, 'proxy.sock'), samples: [] },
    { name: 'proxy + live checks', socket: join(dir, 'check.sock'), samples: [] },
    { name: 'cnmkit record (checks + trace)', socket: join(dir, 'record.sock'), samples: [] },
  ];
  let recordSummary = '';
  try {
    children.push(await child(['plugin', pluginSocket]));
    children.push(await child(['proxy', join(dir, 'proxy.sock'), pluginSocket]));
    children.push(await child(['check', join(dir, 'check.sock'), pluginSocket]));
    children.push(await child(['record', join(dir, 'record.sock'), pluginSocket, join(dir, 'trace.jsonl')]));
    for (const s of setups) await seedPool(s.socket);
    for (const s of setups) await drive(s.socket, Math.min(1000, CALLS)); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of r % 2 === 0 ? setups : [...setups].reverse()) s.samples.push(...(await drive(s.socket, CALLS)));
    }
  } finally {
    for (const c of children.reverse()) {
      const out = await stopChild(c);
      if (out.includes('summary')) recordSummary = out.trim();
    }
    await rm(dir, { recursive: true, force: true });
  }
  if (recordSummary !== '' && !/"must":0,"should":0/.test(recordSummary)) console.log(`note: the recorder reported violations: ${recordSummary}`);
  const stats = setups.map((s) => {
    const sorted = [...s.samples].sort((a, b) => a - b);
    return { name: s.name, n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1]! };
  });
  const anchor = stats[0]!;
  const header = ['set-up', 'calls', 'p50 ms', 'p99 ms', 'max ms', '+p50 ms', '+p99 ms', 'p50 x direct', 'p99 x direct'];
  const rows = stats.map((s, i) => [
    s.name,
    String(s.n),
    s.p50.toFixed(3),
    s.p99.toFixed(3),
    s.max.toFixed(3),
    i === 0 ? '-' : (s.p50 - anchor.p50).toFixed(3),
    i === 0 ? '-' : (s.p99 - anchor.p99).toFixed(3),
    i === 0 ? '1.00' : (s.p50 / anchor.p50).toFixed(2),
    i === 0 ? '1.00' : (s.p99 / anchor.p99).toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`${CALLS} calls x ${ROUNDS} rounds per set-up, one keep-alive connection, RequestAddress/ReleaseAddress pairs against an SDK-served in-memory IPAM`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  const full = stats[3]!;
  const over = full.p50 - anchor.p50;
  console.log(`\ncnmkit record overhead per call: p50 +${over.toFixed(3)} ms (target < 0.200 ms: ${over < 0.2 ? 'met' : 'NOT met'}), p99 +${(full.p99 - anchor.p99).toFixed(3)} ms; trace write share at p50: ${(full.p50 - stats[2]!.p50).toFixed(3)} ms`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
