/**
 * bench/server: throughput and latency of a plugin served by the SDK, side by
 * side with the Go standard-library plugin (the anchor) and the raw ceiling (a
 * canned reply), all driven by the same load generators in one run.
 *
 * The served plugin is a trivial in-memory IPAM (lowest free address of a /16
 * bitmap, like the Go anchor), so the figures measure the serving path.
 *
 * Three sections per round:
 * - closed loop: /work/shared/bench-anchor/run.sh at 1 and 16 clients (each
 *   client sends its next call when the last one returns): req/s, p50, p99, max.
 * - closed loop, the generator yields: the anchor's own load generator again at
 *   16 clients, run at nice 19, against the Go anchor, the candidate and the
 *   ceiling (both servers at the same, normal priority). A server thread that
 *   wants the CPU then gets it; what is left in the p99 is the server's own.
 *   BENCH_YIELD=off skips it.
 * - like rate: bench/server/openload (ours, Go std lib) drives the three servers
 *   at the SAME fixed rates, fractions of the Go anchor's closed-loop req/s at 16
 *   clients in this round, over 16 keep-alive connections: p50/p90/p99/p99.9/max.
 *   Open loop: calls are scheduled at the rate whatever the server does, and a
 *   call is charged from its scheduled time when its connection was still
 *   waiting on the server then (no coordinated omission). The `node-floor` row
 *   is a canned-reply node:net server: what the Node runtime alone costs.
 *
 * Env: BENCH_SECONDS (default 5) per measurement; BENCH_ROUNDS (default 3)
 * rounds, summarised by the median ratio; BENCH_ANCHOR overrides the run.sh path
 * (its folder also gives the Go anchor and ceiling sources); BENCH_RATES
 * (default 0.5,0.8) the like-rate fractions, `off` to skip the section;
 * BENCH_HTTP=node serves the same handler through node:http instead of the SDK's
 * HTTP layer (for comparison); BENCH_LATENCY_GC=off serves without the SDK's GC
 * setting (parallel scavenging stays on, src/sdk/gc.ts). The summary gives the
 * ratios to the Go anchor in the same round: req/s and p99 at 16 clients (closed
 * loop), and p99 and p50 at each like rate.
 *
 * Why like rates: the closed-loop generator shares the 2 cores with the server,
 * so a server that needs less CPU per call leaves the generator saturated and
 * its own threads queue (stalls of a scheduler tick, > 4 ms) which then set the
 * p99; the ceiling missed Go's closed-loop p99 by 1.17-1.48x on an idle machine
 * although it does no work. At the same offered rate the servers get the same
 * work and the same generator. Measured 2026-12-05 on a shared 2-core machine
 * (other jobs running in runs 1-2; Go's closed-loop max at 16 clients 15k-55k
 * req/s between rounds), 5 runs, 13 rounds. SDK p99 / Go p99 at 50% of Go's max:
 * [0.52 1.14 0.62] [0.70 0.83 0.91] [1.36 1.55 1.68] [0.56 0.85] [1.22 1.31];
 * at 80%: [0.40 0.70 0.53] [0.72 0.65 0.32] [1.44 0.88 0.72] [0.36 0.43]
 * [0.64 0.78]. The ceiling's ratios spread widely too (0.21-1.18x). So: at 80%
 * the SDK's p99 is below Go's (Go's is 2-7 ms there); at 50% on a quiet machine
 * (runs 3-5) it is mostly 1.2-1.7x Go's, with the whole distribution shifted, not
 * a tail: p50 1.2-1.4x Go's (~0.115 ms against ~0.09 ms) and p90 ~1.2x. One Node
 * thread serves calls that arrive together one after the other where Go uses
 * both cores. GC does not set the p99: --trace-gc at 26k req/s shows one
 * scavenge per ~2,000 calls, 0.16 ms p50, 1.2 ms max, under the 1.5-3 ms p99.
 *
 * Why the yielding generator (2026-12-05): at 16 clients the generator and the
 * server share 2 cores and the generator is always runnable, so the scheduler
 * preempts the one event-loop thread for a slice (3-4 ms) and every call in
 * flight waits: the SDK's p99 was 1.31-1.34x Go's there, and the ceiling, which
 * does no work at all, 1.20-1.56x. The same generator at nice 19 over 3
 * alternations: SDK p99 1.38-1.70 ms against Go's 2.22-2.75 ms (0.55-0.70x) at
 * 1.25-1.52x Go's req/s; at nice 0 in between, 3.63-3.87 ms against 2.37-2.78 ms.
 * Go's server keeps serving when one of its threads is preempted; Node's one
 * thread cannot. Closing that would take a second thread running the plugin's
 * handlers over shared state, which the SDK's API (any JavaScript object) does
 * not allow.
 *
 * Where the 50% gap comes from (2026-12-05, issue 15 §6): not the SDK's path.
 * A CPU profile at 25k req/s gives ~1 µs of SDK JavaScript per call (parseHead,
 * parseBody, JSON.stringify, reply); strace shows one read and one write per
 * call and ~0.5 epoll_wait; the server uses ~9 µs of CPU per call where the Go
 * anchor uses ~27 µs (its idle threads spin on both cores). The `node-floor`
 * row (a node:net server writing a canned reply, parsing nothing) carries most
 * of the gap: in separate processes at 25k req/s over 6 alternations its p50
 * was 103-122 µs, the SDK's 113-126 µs, Go's 87-95 µs; in this bench (2 quiet
 * rounds of 3) the floor 103-112 µs, the SDK 107-111 µs, Go 80-87 µs, with p99
 * x go 0.97-1.27 for the floor and 1.09-1.14 for the SDK. The p50 is worse at 50%
 * than at 80% (SDK 70-82 µs at 40k req/s, below Go's 93-103 µs): the one event
 * loop thread sleeps between calls, and on this VM (cpuidle haltpoll with
 * guest_halt_poll_ns 0) every wake-up from an idle vCPU costs tens of µs.
 * Keeping the loop polling (setImmediate for 50-200 µs after a call) did not
 * help: the spin takes the CPU the generator needs. The GC setting is neutral at
 * quiet 50%: p50 109-118 µs and p99 1.7-2.6 ms without it, 113-124 µs and
 * 2.1-2.5 ms with it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IpamApi } from '../../src/protocol/api.js';
import { CONTENT_TYPE } from '../../src/protocol/constants.js';
import { createPluginHandler, PluginError, servePlugin } from '../../src/sdk/index.js';

const POOL_ID = 'LocalDefault/10.0.0.0/16';
const ANCHOR = process.env['BENCH_ANCHOR'] ?? '/work/shared/bench-anchor/run.sh';
const OPENLOAD_DIR = join(dirname(fileURLToPath(import.meta.url)), 'openload');
/** Connections of the like-rate section, as the closed-loop section's 16 clients. */
const LIKE_CONNS = 16;

/** Lowest free host of 10.0.0.0/16 (network and .1 reserved), as the Go anchor does. */
export function memoryIpam(): IpamApi {
  const words = new Uint32Array(2048);
  words[0] = 3;
  let hint = 0;
  const alloc = (): number => {
    for (let w = 0; w < words.length; w++) {
      const i = (hint + w) % words.length;
      const word = words[i]!;
      if (word !== 0xffffffff) {
        const bit = 31 - Math.clz32(~word & (word + 1));
        words[i] = word | (1 << bit);
        hint = i;
        return i * 32 + bit;
      }
    }
    return -1;
  };
  return {
    getDefaultAddressSpaces: () => ({ LocalDefaultAddressSpace: 'LocalDefault', GlobalDefaultAddressSpace: 'GlobalDefault' }),
    requestPool: () => ({ PoolID: POOL_ID, Pool: '10.0.0.0/16', Data: {} }),
    releasePool: () => undefined,
    requestAddress: (req) => {
      if (req.PoolID !== POOL_ID) throw new PluginError(`unknown pool ${req.PoolID}`);
      const o = alloc();
      if (o < 0) throw new PluginError('No available addresses on this pool');
      return { Address: `10.0.${o >> 8}.${o & 255}/16`, Data: {} };
    },
    releaseAddress: (req) => {
      const slash = req.Address.indexOf('/');
      const parts = (slash < 0 ? req.Address : req.Address.slice(0, slash)).split('.');
      if (parts.length !== 4) throw new PluginError(`invalid address ${req.Address}`);
      const o = (Number(parts[2]) << 8) | Number(parts[3]);
      if (!(o >= 0 && o < 65536)) throw new PluginError(`invalid address ${req.Address}`);
      const i = o >>> 5;
      words[i] = words[i]! & ~(1 << (o & 31));
      if (i < hint) hint = i;
    },
  };
}

interface Served {
  close(): Promise<void>;
}

async function serveWithNodeHttp(socket: string): Promise<Served> {
  const handler = createPluginHandler({ ipam: memoryIpam() });
  const signals = { signal: new AbortController().signal };
  const server = createHttpServer({ keepAliveTimeout: 600_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      void Promise.resolve(handler.dispatch(req.method ?? 'GET', req.url ?? '/', body, signals)).then((r) => {
        res.writeHead(r.status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(r.body) });
        res.end(r.body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The Node floor: a node:net server that answers every chunk it reads with a
 * canned reply, as the Go ceiling (rawlimit) does. It parses nothing, so the gap
 * between it and the Go anchor is what the Node runtime (one event-loop thread)
 * costs, and the gap between the candidate and it is what the SDK's path costs.
 * Framing by chunk is enough for openload, which has one call in flight per connection.
 */
async function serveNodeFloor(socket: string): Promise<Served> {
  const reply = (body: string): string =>
    `HTTP/1.1 200 OK\r\nContent-Type: ${CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const addrReply = reply('{"Address":"10.0.0.2/16","Data":{}}');
  const okReply = reply('{}');
  const conns = new Set<Socket>();
  const server = createNetServer((conn) => {
    conns.add(conn);
    conn.on('data', (chunk: Buffer) => conn.write(chunk.includes('RequestAddress') ? addrReply : okReply));
    conn.on('error', () => conn.destroy());
    conn.on('close', () => conns.delete(conn));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of conns) c.destroy();
      }),
  };
}

interface Row {
  server: string;
  clients: number;
  rps: number;
  /** Latencies as the load generator prints them (Go durations: `93.76µs`, `2.1ms`). */
  p50: string;
  p99: string;
  max: string;
  errors: number;
}

/** Lines like `go-anchor  c=1  requests=.. errors=0 rps=9000 p50=.. p99=.. max=..`. */
export function parseAnchorOutput(out: string): Row[] {
  const rows: Row[] = [];
  const re = /^(\S+)\s+c=(\d+)\s+requests=\d+ errors=(\d+) rps=(\d+) p50=(\S+) p99=(\S+) max=(\S+)/gm;
  for (let m = re.exec(out); m !== null; m = re.exec(out)) {
    rows.push({ server: m[1]!, clients: Number(m[2]), errors: Number(m[3]), rps: Number(m[4]), p50: m[5]!, p99: m[6]!, max: m[7]! });
  }
  return rows;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, 'µs': 1e-3, 'us': 1e-3, ms: 1, s: 1000 };

/** A Go duration as the load generator prints it (`215.251µs`, `2.607437ms`, `1.2s`) in ms; NaN if unreadable. */
export function durationMs(text: string): number {
  const m = /^([0-9.]+)(ns|µs|us|ms|s)$/.exec(text);
  return m === null ? Number.NaN : Number(m[1]) * UNIT_MS[m[2]!]!;
}

function runAnchor(socket: string, secs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(ANCHOR, [socket, POOL_ID, String(secs)], { timeout: (secs * 6 + 300) * 1000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${ANCHOR} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function printTable(rows: Row[]): void {
  const goOf = (c: number): Row | undefined => rows.find((r) => r.server === 'go-anchor' && r.clients === c);
  const header = ['clients', 'server', 'req/s', 'p50', 'p99', 'max', 'errors', 'req/s x go', 'p99 x go'];
  const table = rows.map((r) => {
    const go = goOf(r.clients);
    return [
      String(r.clients),
      r.server,
      String(r.rps),
      r.p50,
      r.p99,
      r.max,
      String(r.errors),
      go ? (r.rps / go.rps).toFixed(2) : '-',
      go ? (durationMs(r.p99) / durationMs(go.p99)).toFixed(2) : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(fmt(header));
  for (const row of table) console.log(fmt(row));
}

/** server's req/s (or p99) over the Go anchor's at c clients, within one run. */
function ratio(rows: Row[], server: string, c: number, of: 'rps' | 'p99'): number | undefined {
  const go = rows.find((r) => r.server === 'go-anchor' && r.clients === c);
  const x = rows.find((r) => r.server === server && r.clients === c);
  if (go === undefined || x === undefined) return undefined;
  const v = of === 'rps' ? x.rps / go.rps : durationMs(x.p99) / durationMs(go.p99);
  return Number.isFinite(v) ? v : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** One line of bench/server/openload (latencies in µs). */
export interface OpenLoadResult {
  rate: number;
  conns: number;
  requests: number;
  errors: number;
  achieved: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  sched_p99_us: number;
  lag_p99_us: number;
  backlogged: number;
}

const OPEN_LOAD_FIELDS = [
  'rate', 'conns', 'requests', 'errors', 'achieved', 'p50_us', 'p90_us', 'p99_us', 'p999_us', 'max_us', 'sched_p99_us', 'lag_p99_us', 'backlogged',
] as const;

/** The JSON line openload prints; throws on anything else, so a broken generator cannot pass as figures. */
export function parseOpenLoadOutput(out: string): OpenLoadResult {
  const line = out.trim().split('\n').at(-1) ?? '';
  const parsed: unknown = JSON.parse(line);
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`openload printed no object: ${line}`);
  const obj = parsed as Record<string, unknown>;
  const res: Partial<Record<(typeof OPEN_LOAD_FIELDS)[number], number>> = {};
  for (const k of OPEN_LOAD_FIELDS) {
    const v = obj[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`openload output lacks ${k}: ${line}`);
    res[k] = v;
  }
  return res as OpenLoadResult;
}

function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The open-loop generator and the anchor's Go plugin and ceiling, built as run.sh builds them. */
interface Tools {
  dir: string;
  openload: string;
  goplugin: string;
  rawlimit: string;
  load: string;
}

async function buildTools(): Promise<Tools> {
  const dir = await mkdtemp(join(tmpdir(), 'cnmkit-bench-go-'));
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: join(dir, 'gopath') };
  const tools: Tools = { dir, openload: join(dir, 'openload'), goplugin: join(dir, 'goplugin'), rawlimit: join(dir, 'rawlimit'), load: join(dir, 'load') };
  const anchorDir = dirname(ANCHOR);
  await run('go', ['build', '-o', tools.openload, '.'], { cwd: OPENLOAD_DIR, env, timeoutMs: 300_000 });
  for (const p of ['goplugin', 'rawlimit', 'load'] as const) await run('go', ['build', '-o', tools[p], `./${p}`], { cwd: anchorDir, env, timeoutMs: 300_000 });
  return tools;
}

async function startBinary(bin: string, socket: string): Promise<ChildProcess> {
  const child = spawn(bin, [socket], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(socket)) {
    child.kill();
    throw new Error(`${bin} did not create ${socket}`);
  }
  return child;
}

interface LikeRow {
  fraction: number;
  server: string;
  res: OpenLoadResult;
}

const fmtUs = (us: number): string => (us >= 1000 ? `${(us / 1000).toFixed(2)}ms` : `${us.toFixed(0)}µs`);

function printLikeTable(rows: LikeRow[]): void {
  const goOf = (f: number): LikeRow | undefined => rows.find((r) => r.server === 'go-anchor' && r.fraction === f);
  const header = ['rate', 'server', 'achieved', 'p50', 'p90', 'p99', 'p99.9', 'max', 'errors', 'p99 x go', 'p50 x go'];
  const table = rows.map(({ fraction, server, res }) => {
    const go = goOf(fraction)?.res;
    return [
      `${Math.round(fraction * 100)}% ${res.rate.toFixed(0)}/s`,
      server,
      res.achieved.toFixed(0),
      fmtUs(res.p50_us),
      fmtUs(res.p90_us),
      fmtUs(res.p99_us),
      fmtUs(res.p999_us),
      fmtUs(res.max_us),
      String(res.errors),
      go ? (res.p99_us / go.p99_us).toFixed(2) : '-',
      go ? (res.p50_us / go.p50_us).toFixed(2) : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(fmt(header));
  for (const row of table) console.log(fmt(row));
}

/** Fractions of Go's closed-loop req/s at 16 clients, from BENCH_RATES (default `0.5,0.8`). */
function likeFractions(): number[] {
  const text = process.env['BENCH_RATES'] ?? '0.5,0.8';
  const xs = text.split(',').map((x) => Number(x.trim()));
  if (xs.length === 0 || xs.some((x) => !(x > 0 && x <= 2))) throw new Error(`BENCH_RATES must be fractions in (0, 2] separated by commas, got ${text}`);
  return xs;
}

export async function main(): Promise<void> {
  if (!existsSync(ANCHOR)) {
    console.log(`bench/server: skipped, ${ANCHOR} not found`);
    return;
  }
  const secs = Number(process.env['BENCH_SECONDS'] ?? 5);
  if (!(secs > 0)) throw new Error(`BENCH_SECONDS must be a positive number, got ${process.env['BENCH_SECONDS']}`);
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
  if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error(`BENCH_ROUNDS must be a positive integer, got ${process.env['BENCH_ROUNDS']}`);
  const variant = process.env['BENCH_HTTP'] === 'node' ? 'node:http' : 'sdk';
  const latencyGc = process.env['BENCH_LATENCY_GC'] !== 'off';
  console.log(
    `candidate: ${variant}${variant === 'sdk' ? `, latencyGc ${latencyGc ? 'on' : 'off'}` : ''} (in-memory RequestAddress/ReleaseAddress),` +
      ` ${secs}s per measurement, ${rounds} round(s) of run.sh`,
  );
  const fractions = process.env['BENCH_RATES'] === 'off' ? [] : likeFractions();
  const yieldingGenerator = process.env['BENCH_YIELD'] !== 'off';
  const ratios = new Map<string, number[]>();
  const push = (key: string, v: number | undefined): void => {
    if (v !== undefined && Number.isFinite(v)) ratios.set(key, [...(ratios.get(key) ?? []), v]);
  };
  let tools: Tools | undefined;
  try {
    for (let round = 1; round <= rounds; round++) {
      const dir = await mkdtemp(join(tmpdir(), 'cnmkit-bench-'));
      const socket = join(dir, 'candidate.sock');
      const served: Served =
        variant === 'sdk' ? await servePlugin({ ipam: memoryIpam(), listen: { socket }, latencyGc }) : await serveWithNodeHttp(socket);
      const children: ChildProcess[] = [];
      let floor: Served | undefined;
      try {
        const out = await runAnchor(socket, secs);
        const rows = parseAnchorOutput(out);
        if (rows.length === 0) throw new Error(`could not parse the anchor output:\n${out}`);
        console.log(`\nround ${round}/${rounds}, closed loop (run.sh; ratios are within this run)`);
        printTable(rows);
        for (const server of ['candidate', 'ceiling']) {
          for (const c of [1, 16]) for (const of of ['rps', 'p99'] as const) push(`${server}@${c}:${of}`, ratio(rows, server, c, of));
        }
        if (!yieldingGenerator && fractions.length === 0) continue;
        tools ??= await buildTools();
        const sockets: Record<string, string> = {
          'go-anchor': join(dir, 'anchor.sock'),
          candidate: socket,
          ceiling: join(dir, 'raw.sock'),
          'node-floor': join(dir, 'node-floor.sock'),
        };
        children.push(await startBinary(tools.goplugin, sockets['go-anchor']!), await startBinary(tools.rawlimit, sockets['ceiling']!));
        if (yieldingGenerator) {
          const yields: Row[] = [];
          for (const server of ['go-anchor', 'candidate', 'ceiling']) {
            const pool = server === 'ceiling' ? [] : ['-pool', POOL_ID];
            const out = await run('nice', ['-n', '19', tools.load, '-socket', sockets[server]!, ...pool, '-c', String(LIKE_CONNS), '-d', `${secs}s`], {
              timeoutMs: (secs + 30) * 1000,
            });
            yields.push(...parseAnchorOutput(`${server}  c=${LIKE_CONNS} ${out}`));
          }
          if (yields.length !== 3) throw new Error(`could not parse the yielding generator's output: ${JSON.stringify(yields)}`);
          console.log(`\nround ${round}/${rounds}, closed loop, the generator yields (anchor's load at nice 19; both servers at the same priority)`);
          printTable(yields);
          for (const server of ['candidate', 'ceiling']) for (const of of ['rps', 'p99'] as const) push(`yield:${server}:${of}`, ratio(yields, server, LIKE_CONNS, of));
        }
        const goMax = rows.find((r) => r.server === 'go-anchor' && r.clients === LIKE_CONNS)?.rps;
        if (fractions.length === 0 || goMax === undefined) continue;
        floor = await serveNodeFloor(sockets['node-floor']!);
        const like: LikeRow[] = [];
        // Rotate the order per round so no server always runs right after another's load.
        const order = ['go-anchor', 'candidate', 'ceiling', 'node-floor'];
        for (let k = 1; k < round; k++) order.push(order.shift()!);
        for (const fraction of fractions) {
          const rate = Math.round(goMax * fraction);
          for (const server of order) {
            const out = await run(
              tools.openload,
              ['-socket', sockets[server]!, '-pool', POOL_ID, '-c', String(LIKE_CONNS), '-rate', String(rate), '-d', `${secs}s`],
              { timeoutMs: (secs + 30) * 1000 },
            );
            like.push({ fraction, server, res: parseOpenLoadOutput(out) });
          }
        }
        like.sort((a, b) => a.fraction - b.fraction || order.indexOf(a.server) - order.indexOf(b.server));
        console.log(`\nround ${round}/${rounds}, open loop at like rates (fractions of go-anchor's ${goMax} req/s at c=${LIKE_CONNS}; ${LIKE_CONNS} connections)`);
        printLikeTable(like);
        for (const fraction of fractions) {
          const go = like.find((r) => r.fraction === fraction && r.server === 'go-anchor')?.res;
          for (const server of ['candidate', 'ceiling', 'node-floor']) {
            const x = like.find((r) => r.fraction === fraction && r.server === server)?.res;
            if (go === undefined || x === undefined) continue;
            push(`like${fraction}:${server}:p99`, x.p99_us / go.p99_us);
            push(`like${fraction}:${server}:p50`, x.p50_us / go.p50_us);
          }
        }
      } finally {
        for (const child of children) child.kill();
        await floor?.close();
        await served.close();
        await rm(dir, { recursive: true, force: true });
      }
    }
  } finally {
    if (tools !== undefined) await rm(tools.dir, { recursive: true, force: true });
  }
  console.log('\nsummary (median over rounds; machines are noisy, compare ratios, not req/s)');
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  for (const c of [1, 16]) {
    const cand = ratios.get(`candidate@${c}:rps`) ?? [];
    const ceil = ratios.get(`ceiling@${c}:rps`) ?? [];
    if (cand.length === 0) continue;
    const target = c === 1 ? 1.2 : 1.0;
    const m = median(cand);
    console.log(
      `c=${String(c).padEnd(2)} req/s candidate/go = ${m.toFixed(2)}x [${list(cand)}]` +
        ` target >= ${target.toFixed(1)}x: ${m >= target ? 'met' : 'NOT met'}` +
        (ceil.length > 0 ? `; ceiling/go = ${median(ceil).toFixed(2)}x` : ''),
    );
    const p99 = ratios.get(`candidate@${c}:p99`) ?? [];
    const ceilP99 = ratios.get(`ceiling@${c}:p99`) ?? [];
    if (c === 16 && p99.length > 0) {
      const mp = median(p99);
      // The ceiling's ratio shows what the generator does to p99 when a server is faster than Go's (see the header).
      console.log(
        `c=16 p99 candidate/go = ${mp.toFixed(2)}x [${list(p99)}] (generator competes; target <= 1.0x: ${mp <= 1 ? 'met' : 'NOT met'})` +
          (ceilP99.length > 0 ? `; ceiling p99/go = ${median(ceilP99).toFixed(2)}x [${list(ceilP99)}]` : ''),
      );
    }
  }
  const yieldP99 = ratios.get('yield:candidate:p99') ?? [];
  if (yieldP99.length > 0) {
    const mp = median(yieldP99);
    const rps = ratios.get('yield:candidate:rps') ?? [];
    const ceil = ratios.get('yield:ceiling:p99') ?? [];
    console.log(
      `c=16 p99 candidate/go = ${mp.toFixed(2)}x [${list(yieldP99)}] (generator yields; target <= 1.0x: ${mp <= 1 ? 'met' : 'NOT met'})` +
        `; req/s candidate/go = ${median(rps).toFixed(2)}x` +
        (ceil.length > 0 ? `; ceiling p99/go = ${median(ceil).toFixed(2)}x [${list(ceil)}]` : ''),
    );
  }
  for (const fraction of fractions) {
    const p99 = ratios.get(`like${fraction}:candidate:p99`) ?? [];
    if (p99.length === 0) continue;
    const p50 = ratios.get(`like${fraction}:candidate:p50`) ?? [];
    const ceil = ratios.get(`like${fraction}:ceiling:p99`) ?? [];
    const floorP50 = ratios.get(`like${fraction}:node-floor:p50`) ?? [];
    const floorP99 = ratios.get(`like${fraction}:node-floor:p99`) ?? [];
    const mp = median(p99);
    console.log(
      `like rate ${Math.round(fraction * 100)}% of go: p99 candidate/go = ${mp.toFixed(2)}x [${list(p99)}] target <= 1.0x: ${mp <= 1 ? 'met' : 'NOT met'}` +
        `; p50 candidate/go = ${median(p50).toFixed(2)}x` +
        (ceil.length > 0 ? `; ceiling p99/go = ${median(ceil).toFixed(2)}x [${list(ceil)}]` : '') +
        (floorP50.length > 0 ? `; node-floor p50/go = ${median(floorP50).toFixed(2)}x, p99/go = ${median(floorP99).toFixed(2)}x` : ''),
    );
  }
}
