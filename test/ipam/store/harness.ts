/**
 * Shared pieces of the etcd-backed IPAM tests: instances on one etcd, the ops
 * the property tests generate (run against the shared IPAM or the in-memory
 * reference allocator as the sequential model), and a linearizability checker
 * (Wing & Gong search with memoised states) for concurrent histories.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startEtcd, type EtcdCluster } from '../../helpers/etcd.js';
import { request } from 'node:http';
import { Allocator, type StateSnapshot } from '../../../src/ipam/allocator.js';
import { createIpam, type AddressPoolSpec } from '../../../src/ipam/index.js';
import { openSharedIpam, type SharedIpam } from '../../../src/ipam/store/index.js';
import type { CallContext } from '../../../src/protocol/api.js';

export const ctx: CallContext = { path: '', signal: new AbortController().signal };

/** Small predefined global list: exhaustion and round-robin wrap within a few calls. */
export const GLOBAL_POOLS: AddressPoolSpec[] = [{ base: '10.9.0.0/27', size: 29 }];

export function newPrefix(): string {
  return `/t-${randomBytes(5).toString('hex')}/`;
}

export function openInstance(url: string, prefix: string, extra: { localDefaultInStore?: boolean; timeoutMs?: number } = {}): SharedIpam {
  return openSharedIpam({ store: url, prefix, local: createIpam({ globalAddressPools: GLOBAL_POOLS }), globalAddressPools: GLOBAL_POOLS, ...extra });
}

export type Op =
  | { k: 'pool'; pool: string; sub: string; v6: boolean }
  | { k: 'relPool'; id: string }
  | { k: 'addr'; id: string; pref: string; serial: boolean; gw: boolean }
  | { k: 'relAddr'; id: string; addr: string };

export type Outcome = { ok: string } | { err: string };

/** Any IPAM-shaped target: the shared instance (async) or the reference allocator (sync). */
interface Target {
  requestPool(r: { AddressSpace: string; Pool: string; SubPool: string; V6: boolean; Options: null }, c: CallContext): unknown;
  releasePool(r: { PoolID: string }, c: CallContext): unknown;
  requestAddress(r: { PoolID: string; Address: string; Options: Record<string, string> | null }, c: CallContext): unknown;
  releaseAddress(r: { PoolID: string; Address: string }, c: CallContext): unknown;
}

function call(t: Target, op: Op): unknown {
  switch (op.k) {
    case 'pool':
      return t.requestPool({ AddressSpace: 'GlobalDefault', Pool: op.pool, SubPool: op.sub, V6: op.v6, Options: null }, ctx);
    case 'relPool':
      return t.releasePool({ PoolID: op.id }, ctx);
    case 'addr': {
      const o: Record<string, string> = {};
      if (op.serial) o['com.docker.network.ipam.serial'] = 'true';
      if (op.gw) o['RequestAddressType'] = 'com.docker.network.gateway';
      return t.requestAddress({ PoolID: op.id, Address: op.pref, Options: Object.keys(o).length === 0 ? null : o }, ctx);
    }
    case 'relAddr':
      return t.releaseAddress({ PoolID: op.id, Address: op.addr }, ctx);
  }
}

function outcomeOf(v: unknown): Outcome {
  const r = v as { PoolID?: string; Pool?: string; Address?: string };
  return { ok: r.PoolID !== undefined ? `${r.PoolID} ${r.Pool}` : (r.Address ?? '{}') };
}

export async function runShared(t: SharedIpam, op: Op): Promise<Outcome> {
  try {
    return outcomeOf(await call(t as unknown as Target, op));
  } catch (e) {
    return { err: (e as Error).message };
  }
}

export function runModel(a: Allocator, op: Op): Outcome {
  try {
    return outcomeOf(call(a as unknown as Target, op));
  } catch (e) {
    return { err: (e as Error).message };
  }
}

export function newModel(): Allocator {
  return new Allocator({ globalAddressPools: GLOBAL_POOLS });
}

export interface Event {
  op: Op;
  inv: number;
  res: number;
  out: Outcome;
}

const same = (a: Outcome, b: Outcome): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Whether some order of the events, respecting real time (an event that
 * answered before another was called comes first), gives exactly the observed
 * outcomes on the sequential model started from `initial`.
 */
export function linearizable(events: readonly Event[], initial: StateSnapshot): boolean {
  const n = events.length;
  const seen = new Set<string>();
  const restore = (s: StateSnapshot): Allocator => {
    const a = newModel();
    a.importState(s);
    return a;
  };
  const search = (done: bigint, state: StateSnapshot): boolean => {
    if (done === (1n << BigInt(n)) - 1n) return true;
    const key = `${done}:${JSON.stringify(state)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    let minRes = Infinity;
    for (let i = 0; i < n; i++) if ((done & (1n << BigInt(i))) === 0n && events[i]!.res < minRes) minRes = events[i]!.res;
    for (let i = 0; i < n; i++) {
      if ((done & (1n << BigInt(i))) !== 0n) continue;
      const e = events[i]!;
      if (e.inv > minRes) continue;
      const a = restore(state);
      if (!same(runModel(a, e.op), e.out)) continue;
      if (search(done | (1n << BigInt(i)), a.exportState())) return true;
    }
    return false;
  };
  return search(0n, initial);
}

/** POST to a plugin socket; resolves with the HTTP status and parsed body. */
export function post(socket: string, path: string, body: unknown, timeoutMs = 20_000): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'POST', headers: { 'Content-Type': 'application/json' }, timeout: timeoutMs }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (data += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Record<string, unknown> });
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${socket} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

export interface ServeProcess {
  readonly socket: string;
  readonly child: import('node:child_process').ChildProcess;
  exited(): Promise<void>;
}

const MAIN = new URL('../../../src/cli/main.ts', import.meta.url).pathname;

/** A real `cnmkit serve --store` process on a unix socket; resolves once it listens. */
export async function startServe(url: string, prefix: string, socket: string, timeoutMs = 10_000): Promise<ServeProcess> {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, 'serve', '--socket', socket, '--store', url, '--store-prefix', prefix, '--store-timeout', String(timeoutMs)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = (): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before listening: ${out}${err}`)));
  });
  return { socket, child, exited };
}

/** A suite's etcd cluster, temp dir and `cnmkit serve --store` processes (see serveFleet). */
export interface ServeFleet {
  readonly etcd: EtcdCluster;
  readonly dir: string;
  /** A `cnmkit serve --store` on the fleet's etcd at `dir/name.sock`, killed after the suite. */
  serve(name: string, prefix: string, timeoutMs?: number): Promise<ServeProcess>;
}

/**
 * Inside a describe: an etcd cluster of `members` and a temp dir started before the suite;
 * after it every serve process is killed (kill -9), etcd closed and the dir removed.
 */
export function serveFleet(members: Parameters<typeof startEtcd>[0], tmpName: string): ServeFleet {
  let etcd: EtcdCluster | undefined;
  let dir: string | undefined;
  const live: ServeProcess[] = [];
  beforeAll(async () => {
    etcd = await startEtcd(members);
    dir = mkdtempSync(join(tmpdir(), tmpName));
  }, 60_000);
  afterAll(async () => {
    for (const s of live) s.child.kill('SIGKILL');
    await Promise.all(live.map((s) => s.exited()));
    await etcd?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get etcd() {
      return etcd!;
    },
    get dir() {
      return dir!;
    },
    async serve(name, prefix, timeoutMs) {
      const s = await startServe(etcd!.url, prefix, join(dir!, `${name}.sock`), timeoutMs);
      live.push(s);
      return s;
    },
  };
}
