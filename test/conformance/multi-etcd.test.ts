/**
 * The multi suite against real `cnmkit serve --store etcd://` processes on a
 * one-member etcd: two instances on one key prefix act as one IPAM and pass
 * (instance B killed with -9 and started again by multi.restart-one-instance); two
 * instances on different prefixes share nothing and fail with the shared-store
 * message. Skipped with the reason when etcd is not installed.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInstances } from '../../conformance/multi/index.js';
import { etcdSkipReason } from '../helpers/etcd.js';
import { newPrefix, serveFleet } from '../ipam/store/harness.js';
import { MULTI_CHECK_IDS, result } from './support.js';

const skip = etcdSkipReason();
if (skip !== null) console.log(`multi suite on etcd-backed instances skipped: ${skip}`);

describe.skipIf(skip !== null)('multi suite on etcd-backed reference instances', () => {
  const fleet = serveFleet(1, 'cnmkit-multi-etcd-');

  /** Instances on `prefixes` (one socket each); restart(i) is kill -9 and a new process on the same socket and prefix. */
  async function instances(name: string, prefixes: readonly string[]): Promise<{ sockets: string[]; restart: (i: number) => Promise<void> }> {
    const procs = await Promise.all(prefixes.map((p, i) => fleet.serve(`${name}-${i}`, p)));
    return {
      sockets: procs.map((p) => p.socket),
      async restart(i) {
        procs[i]!.child.kill('SIGKILL');
        await procs[i]!.exited();
        procs[i] = await fleet.serve(`${name}-${i}`, prefixes[i]!);
      },
    };
  }

  const config = (seed: number) => ({ seed, runs: 20, timeoutMs: 10_000, replayDir: join(fleet.dir, 'replays') });

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
    expect(multi.map((c) => `${c.id}:${c.status}`)).toEqual(MULTI_CHECK_IDS.map((id) => `${id}:passed`));
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
