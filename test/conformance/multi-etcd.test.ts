/**
 * The multi suite against real `cnmkit serve --store etcd://` processes on a
 * one-member etcd: two instances on one key prefix act as one IPAM and pass
 * (instance B killed with -9 and started again by multi.restart-one-instance); two
 * instances on different prefixes share nothing and fail with the shared-store
 * message. Skipped with the reason when etcd is not installed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInstances } from '../../conformance/multi/index.js';
import { etcdSkipReason, startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { newPrefix, startServe, type ServeProcess } from '../ipam/store/harness.js';
import { result } from './support.js';

const skip = etcdSkipReason();
if (skip !== null) console.log(`multi suite on etcd-backed instances skipped: ${skip}`);

describe.skipIf(skip !== null)('multi suite on etcd-backed reference instances', () => {
  let etcd: EtcdCluster;
  let dir: string;
  const live: ServeProcess[] = [];
  beforeAll(async () => {
    etcd = await startEtcd(1);
    dir = mkdtempSync(join(tmpdir(), 'cnmkit-multi-etcd-'));
  }, 60_000);
  afterAll(async () => {
    for (const s of live) s.child.kill('SIGKILL');
    await Promise.all(live.map((s) => s.exited()));
    await etcd?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Instances on `prefixes` (one socket each); restart(i) is kill -9 and a new process on the same socket and prefix. */
  async function instances(name: string, prefixes: readonly string[]): Promise<{ sockets: string[]; restart: (i: number) => Promise<void> }> {
    const sockets = prefixes.map((_, i) => join(dir, `${name}-${i}.sock`));
    const procs = await Promise.all(prefixes.map((p, i) => startServe(etcd.url, p, sockets[i]!)));
    live.push(...procs);
    return {
      sockets,
      async restart(i) {
        procs[i]!.child.kill('SIGKILL');
        await procs[i]!.exited();
        procs[i] = await startServe(etcd.url, prefixes[i]!, sockets[i]!);
        live.push(procs[i]!);
      },
    };
  }

  const config = (seed: number) => ({ seed, runs: 20, timeoutMs: 10_000, replayDir: join(dir, 'replays') });

  it('two instances on one prefix pass every check of the multi suite and the ipam suite on the first', async () => {
    const prefix = newPrefix();
    const { sockets, restart } = await instances('shared', [prefix, prefix]);
    const report = await runInstances(
      sockets.map((socket) => ({ socket })),
      { ...config(3), suites: ['ipam', 'multi'] },
      // Only B is restarted: without --state, A's LocalDefault pools (used by the ipam suite) live in its memory.
      { restarts: [null, () => restart(1)] },
    );
    const failed = report.checks.filter((c) => c.status === 'failed' && c.level !== 'compat');
    expect(failed.map((c) => `${c.id}: ${c.message}`)).toEqual([]);
    const multi = report.checks.filter((c) => c.suite === 'multi');
    expect(multi.map((c) => `${c.id}:${c.status}`)).toEqual([
      'multi.global-space:passed',
      'multi.pool-used-everywhere:passed',
      'multi.release-seen-everywhere:passed',
      'multi.model:passed',
      'multi.storm-no-duplicate:passed',
      'multi.storm-linearizable:passed',
      'multi.restart-one-instance:passed',
    ]);
    expect(report.checks.filter((c) => c.suite === 'ipam' && c.status === 'passed').length).toBeGreaterThan(20);
  }, 300_000);

  it('two instances on different prefixes share nothing and fail with the shared-store message', async () => {
    const { sockets } = await instances('apart', [newPrefix(), newPrefix()]);
    const report = await runInstances(sockets.map((socket) => ({ socket })), { ...config(4), suites: ['multi'] });
    const r = result(report, 'multi.pool-used-everywhere');
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/^instance B does not know pool \S+ \(10\.199\.\d+\.\d+\/28\) from instance A: .*the instances do not share state; is the plugin configured with a shared store\?$/);
  }, 120_000);
});
