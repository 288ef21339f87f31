/**
 * The multi suite: instances of one plugin on several hosts. A shared-state IPAM
 * passes (any pool ids, any address order, with a restart of one instance); two
 * independent instances, a per-instance address cache and a local-only IPAM fail
 * with their own clear message.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInstances } from '../../conformance/multi/index.js';
import type { RunReport } from '../../conformance/types.js';
import { type MultiIpamMode, type MultiIpamOptions, startMultiIpam } from './designs/multi-ipam.js';
import { seededRandom } from './designs/stateful-ipam.js';
import { failedIds, MULTI_CHECK_IDS, quickConfig, result, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await dir.remove();
});

async function runMulti(mode: MultiIpamMode, n = 2, seed = 7, o: MultiIpamOptions = {}, suites = ['multi']): Promise<RunReport> {
  const sockets = Array.from({ length: n }, (_, i) => dir.socket(`m${seed}-${i}`));
  const plugin = await startMultiIpam(sockets, mode, o);
  try {
    return await runInstances(
      sockets.map((socket) => ({ socket })),
      quickConfig(dir, { seed, suites, subnets: [], stormSize: 120 }),
      { restarts: sockets.map((_, i) => () => plugin.restart(i)) },
    );
  } finally {
    await plugin.close();
  }
}

describe('multi suite', () => {
  it('two instances over one shared state pass every multi check', async () => {
    const report = await runMulti('shared');
    expect(report.checks.map((c) => `${c.id}:${c.status}`)).toEqual(MULTI_CHECK_IDS.map((id) => `${id}:passed`));
    expect(report.target).toMatch(/^A=unix:\/\/.* \+ B=unix:\/\//);
    expect(report.leaks).toEqual([]);
  }, 60_000);

  it('no false alarm: three instances, random addresses, opaque pool ids, on several seeds', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const report = await runMulti('shared', 3, seed, { random: seededRandom(seed), opaqueIds: true });
      expect(failedIds(report), `seed ${seed}`).toEqual([]);
      expect(report.checks.filter((c) => c.status === 'passed').length, `seed ${seed}`).toBe(MULTI_CHECK_IDS.length);
    }
  }, 120_000);

  it('no false alarm on a small --subnet: the storm runs the pool dry and some instance gets only refusals', async () => {
    const sockets = [0, 1, 2].map((i) => dir.socket(`small-${i}`));
    const plugin = await startMultiIpam(sockets, 'shared');
    try {
      const report = await runInstances(sockets.map((socket) => ({ socket })), quickConfig(dir, { seed: 5, suites: ['multi'], subnets: ['10.197.0.0/28'] }), { restarts: sockets.map((_, i) => () => plugin.restart(i)) });
      expect(report.checks.filter((c) => c.status !== 'passed').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
    } finally {
      await plugin.close();
    }
  }, 60_000);

  // Seed 7 shrinks multi.model to a network rm, seed 1 to a container start: both wordings are checked.
  it.each([7, 1])('two independent single-host instances fail: B does not know A\'s pool (seed %i)', async (seed) => {
    const report = await runMulti('independent', 2, seed);
    const r = result(report, 'multi.pool-used-everywhere');
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/^instance B does not know pool MultiGlobal\/10\.199\.\d+\.\d+\/28 \(10\.199\.\d+\.\d+\/28\) from instance A: .*the instances do not share state; is the plugin configured with a shared store\?$/);
    expect(r.counterexample?.steps.join('\n')).toMatch(/A: RequestPool .*\nA: RequestAddress .*gateway.*\nB: RequestAddress \(automatic\) on A's PoolID .* -> refused: .*unknown pool/);
    expect(r.counterexample?.reproducer).toMatch(/# instance A\ncurl .*\n# instance A\ncurl .*\n# instance B\ncurl /);
    expect(r.replayPath).toBeDefined();
    const model = result(report, 'multi.model');
    // Either a container start or a network rm on the instance that never saw the pool, shrunk to a few steps.
    expect(model.message).toMatch(/^instance [AB] refused (RequestAddress on pool .* from instance [AB] \(".*unknown pool.*", for 500 ms\) while instance [AB] still hands out its addresses: containers on that host cannot start|ReleasePool of pool .* from instance [AB] \(".*unknown pool.*"\): docker network rm on that host cannot give the subnet back); .*shared store\?$/);
    expect(model.counterexample?.steps.length).toBeLessThanOrEqual(4);
    expect(model.counterexample?.seed).toBeDefined();
    expect(model.counterexample?.path).toBeDefined();
    for (const id of ['multi.release-seen-everywhere', 'multi.model', 'multi.storm-no-duplicate', 'multi.storm-linearizable', 'multi.restart-one-instance']) {
      expect(result(report, id).status, id).toBe('failed');
      expect(result(report, id).message, id).toMatch(/do not share state/);
    }
    expect(result(report, 'multi.global-space').status).toBe('passed');
  }, 60_000);

  it('a per-instance address cache over shared pools hands out addresses twice across hosts', async () => {
    const report = await runMulti('shared-pools');
    expect(result(report, 'multi.pool-used-everywhere').message).toMatch(/instance B handed out 10\.199\.\d+\.\d+ of pool .*already held as the gateway, from instance A/);
    expect(result(report, 'multi.storm-no-duplicate').message).toMatch(/handed out (by instance [AB] and by instance [AB]|.*held as the gateway)/);
    expect(result(report, 'multi.storm-linearizable').status).toBe('failed');
    expect(result(report, 'multi.model').message).toMatch(/^instance [AB] handed out 10\.199\.\d+\.\d+ \(.*\) on pool .*, held through instance [AB]: two containers on different hosts get one address/);
    expect(result(report, 'multi.global-space').status).toBe('passed');
  }, 60_000);

  it('lagging replicas (an eventually consistent store): a pool shows late (tolerated), an address held on one host is granted on another (caught), storms hand one address to two instances', async () => {
    const report = await runMulti('lagging');
    expect(result(report, 'multi.global-space').status).toBe('passed');
    const pools = result(report, 'multi.pool-used-everywhere');
    expect(pools.notes.join('\n')).toMatch(/instance B knew pool .* from instance A after \d+ ms/);
    expect(pools.message).toMatch(/^instance A granted 10\.199\.\d+\.\d+ \(preferred\) of pool .* although it is held as a container address from instance B: two containers on different hosts get one address/);
    const storm = result(report, 'multi.storm-no-duplicate');
    expect(storm.status).toBe('failed');
    // Two storm calls on different instances, or a storm call and the address another instance handed out just before.
    expect(storm.message).toMatch(/^(10\.199\.\d+\.\d+ of 10\.199\.\d+\.\d+\/26 \[PoolID .*\] was handed out by instance [AB] and by instance [AB]|instance [AB] handed out 10\.199\.\d+\.\d+ of 10\.199\.\d+\.\d+\/26 \[PoolID .*\] during a storm on every instance, held as a container address from instance [AB]:) .*two containers get one address$/);
    expect(storm.counterexample?.reproducer).toMatch(/# instance [AB]\ncurl /);
    expect(result(report, 'multi.storm-linearizable').status).toBe('failed');
  }, 60_000);

  it('an instance that frees what it handed out when it starts again fails only the restart check', async () => {
    const report = await runMulti('startup-gc');
    const r = result(report, 'multi.restart-one-instance');
    expect(r.status).toBe('failed');
    // Found while the restart runs (A hands out a freed address) or after it (a held address granted again).
    expect(r.message).toMatch(
      /^(after instance B restarted, instance [AB] granted 10\.199\.\d+\.\d+ \(preferred\) of .* although it is held \(a container before the restart on instance B\): acknowledged allocations were lost|instance A handed out 10\.199\.\d+\.\d+ of .* \(a container while the restart runs\), held as a container before the restart on instance B: two containers get one address; the restart of instance B lost acknowledged allocations)$/,
    );
    expect(r.counterexample?.steps.join('\n')).toMatch(/restart instance B while A serve/);
    expect(failedIds(report)).toEqual(['multi.restart-one-instance']);
  }, 60_000);

  it('a local-scope-only IPAM fails multi.global-space and the cross-instance checks skip', async () => {
    const report = await runMulti('local-only');
    const r = result(report, 'multi.global-space');
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/instance A .* empty GlobalDefaultAddressSpace: it is a local-scope-only IPAM/);
    for (const id of MULTI_CHECK_IDS.slice(1)) expect(result(report, id).status, id).toBe('skipped');
  }, 60_000);

  it('without a way to restart the last instance the restart check skips with the flag to give', async () => {
    const sockets = [dir.socket('r0'), dir.socket('r1')];
    const plugin = await startMultiIpam(sockets, 'shared');
    try {
      const report = await runInstances(sockets.map((socket) => ({ socket })), quickConfig(dir, { checks: ['multi.restart-one-instance'] }));
      expect(result(report, 'multi.restart-one-instance').message).toMatch(/--restart-cmd once per target, or once with \{i\}/);
      expect(result(report, 'multi.restart-one-instance').status).toBe('skipped');
    } finally {
      await plugin.close();
    }
  }, 30_000);
});
