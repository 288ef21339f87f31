/**
 * Real etcd members for tests and benchmarks: Debian's `etcd-server` (3.4)
 * started on free loopback ports with temporary data directories, one member
 * or a three-member cluster. Members can be killed (-9), stopped and started
 * again on the same data directory. `close()` kills everything and removes the
 * directories; an exit hook does the same if a run dies before its afterAll.
 * No vitest import: the benchmarks use it too.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { optedOut } from './skip.js';

export const ETCD_BIN = process.env.CNMKIT_ETCD ?? '/usr/bin/etcd';

/** Why etcd tests cannot run here (opted out with CNMKIT_SKIP, no etcd binary), or null. Only looks. */
export function etcdSkipReason(): string | null {
  const out = optedOut('etcd');
  if (out !== null) return out;
  try {
    execFileSync(ETCD_BIN, ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return `etcd not installed (${ETCD_BIN}; scripts/setup-etcd.sh installs Debian etcd-server)`;
  }
}

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  proc: ChildProcess | null;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** `127.0.0.1:PORT` of every member (the `etcd://` list). */
  readonly endpoints: string[];
  /** `etcd://h:p,h:p,...` */
  readonly url: string;
  /** kill -9 of member i (no wait for a successor leader). */
  kill(i: number): Promise<void>;
  /** SIGTERM of member i, waiting for its exit. */
  stop(i: number): Promise<void>;
  /** Starts member i again on its data directory and waits until it is healthy (alone, or with quorum). */
  start(i: number): Promise<void>;
  /** Index of the current leader (asked over HTTP of a live member), or -1. */
  leader(): Promise<number>;
  close(): Promise<void>;
}

const live = new Set<EtcdCluster>();
process.once('exit', () => {
  for (const c of live) for (const m of c.members) m.proc?.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `size` members (1 or 3) and waits until the cluster answers. */
export async function startEtcd(size: 1 | 3 = 1, opts: { logs?: boolean } = {}): Promise<EtcdCluster> {
  const root = mkdtempSync(join(tmpdir(), 'cnmkit-etcd-'));
  const token = `cnmkit-${process.pid}-${Date.now()}`;
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    const cp = await freePort();
    const pp = await freePort();
    members.push({ name: `m${i}`, clientUrl: `http://127.0.0.1:${cp}`, peerUrl: `http://127.0.0.1:${pp}`, dataDir: join(root, `m${i}`), proc: null });
  }
  const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const launch = (m: EtcdMember): void => {
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl,
      '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl,
      '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initial,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', token,
      // Short election timeouts: a leader change takes well under a second on loopback.
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      '--log-level', 'error',
      '--logger', 'zap',
    ];
    const proc = spawn(ETCD_BIN, args, { stdio: ['ignore', opts.logs ? 'inherit' : 'ignore', opts.logs ? 'inherit' : 'ignore'] });
    m.proc = proc;
    proc.once('exit', () => {
      if (m.proc === proc) m.proc = null;
    });
  };
  const healthy = async (m: EtcdMember, deadlineMs: number): Promise<void> => {
    const until = Date.now() + deadlineMs;
    for (;;) {
      try {
        const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not up yet
      }
      if (m.proc === null) throw new Error(`etcd member ${m.name} exited during start`);
      if (Date.now() > until) throw new Error(`etcd member ${m.name} not healthy after ${deadlineMs} ms`);
      await sleep(50);
    }
  };
  const waitExit = async (m: EtcdMember): Promise<void> => {
    const p = m.proc;
    if (p === null || p.exitCode !== null || p.signalCode !== null) {
      m.proc = null;
      return;
    }
    await new Promise<void>((resolve) => p.once('exit', () => resolve()));
  };
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl.slice('http://'.length)),
    url: `etcd://${members.map((m) => m.clientUrl.slice('http://'.length)).join(',')}`,
    async kill(i) {
      const m = members[i]!;
      m.proc?.kill('SIGKILL');
      await waitExit(m);
    },
    async stop(i) {
      const m = members[i]!;
      m.proc?.kill('SIGTERM');
      await waitExit(m);
    },
    async start(i) {
      const m = members[i]!;
      if (m.proc !== null) return;
      launch(m);
      await healthy(m, 20_000);
    },
    async leader() {
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!;
        if (m.proc === null) continue;
        try {
          const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
          const st = (await res.json()) as { leader?: string; header?: { member_id?: string } };
          if (st.leader === undefined) continue;
          // The status names the leader by id; ask each live member for its own id.
          for (let j = 0; j < members.length; j++) {
            const o = members[j]!;
            if (o.proc === null) continue;
            const r2 = await fetch(`${o.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
            const s2 = (await r2.json()) as { header?: { member_id?: string } };
            if (s2.header?.member_id === st.leader) return j;
          }
        } catch {
          // try the next member
        }
      }
      return -1;
    },
    async close() {
      live.delete(cluster);
      for (const m of members) m.proc?.kill('SIGKILL');
      await Promise.all(members.map(waitExit));
      rmSync(root, { recursive: true, force: true });
    },
  };
  live.add(cluster);
  try {
    for (const m of members) launch(m);
    await Promise.all(members.map((m) => healthy(m, 20_000)));
  } catch (e) {
    await cluster.close();
    throw e;
  }
  return cluster;
}
