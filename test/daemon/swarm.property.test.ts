/**
 * Random swarm histories (network create / rm on the manager, tasks started and
 * stopped on two workers) against the reference plugin on every host: the
 * manager's IPAM holds exactly the live networks' pools, each worker holds a
 * network exactly while it runs a task on it, two live networks never share a
 * segment, and after everything is stopped and removed nothing is left on any host.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import { createSwarm, DaemonError, inProcessPlugin, type InProcessPlugin } from '../../src/daemon/index.js';
import { createReferenceDriver, type ReferenceDriver } from '../../src/driver/index.js';
import { createIpam, type SyncReferenceIpam } from '../../src/ipam/index.js';

type Cmd = { op: 'create'; net: number } | { op: 'rm'; net: number } | { op: 'run'; net: number; worker: number } | { op: 'stop'; task: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), net: fc.nat(2) }),
  fc.record({ op: fc.constant('rm' as const), net: fc.nat(2) }),
  fc.record({ op: fc.constant('run' as const), net: fc.nat(2), worker: fc.nat(1) }),
  fc.record({ op: fc.constant('stop' as const), task: fc.nat(5) }),
);

interface Host {
  name: string;
  driver: ReferenceDriver;
  ipam: SyncReferenceIpam;
  plugin: InProcessPlugin;
  backend: VirtualBackend;
}

async function hosts(): Promise<Host[]> {
  const out: Host[] = [];
  for (const name of ['manager', 'worker0', 'worker1']) {
    const backend = new VirtualBackend({ seed: out.length + 1 });
    let seed = out.length + 11;
    const driver = createReferenceDriver({ backend, scope: 'global', randomBytes: (n) => Uint8Array.from({ length: n }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24) });
    const ipam = createIpam();
    out.push({ name, driver, ipam, backend, plugin: await inProcessPlugin({ driver, ipam }) });
  }
  return out;
}

describe('swarm histories (property)', () => {
  it('allocations follow the live networks and tasks; full teardown leaves every host empty', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 25 }), async (cmds) => {
        const hs = await hosts();
        const [m, w0, w1] = hs as [Host, Host, Host];
        const swarm = createSwarm({ manager: { name: m.name, driver: m.plugin.client, backend: m.backend }, workers: [w0, w1].map((h) => ({ name: h.name, driver: h.plugin.client, backend: h.backend })) });
        const nets = new Map<number, string>();
        const tasks = new Map<string, { net: number; worker: number }>();
        let taskNo = 0;
        try {
          await swarm.init();
          for (const c of cmds) {
            if (c.op === 'create' && !nets.has(c.net)) {
              const v = await swarm.networkCreate({ name: `n${c.net}`, ipv4: [{ subnet: `10.${40 + c.net}.0.0/24` }] });
              nets.set(c.net, v.id);
            } else if (c.op === 'rm' && nets.has(c.net)) {
              const busy = [...tasks.values()].some((t) => t.net === c.net);
              const r = await swarm.networkRm(`n${c.net}`).then(() => 'ok', (e: unknown) => e);
              if (busy) expect(r).toBeInstanceOf(DaemonError);
              else {
                expect(r).toBe('ok');
                nets.delete(c.net);
              }
            } else if (c.op === 'run' && nets.has(c.net)) {
              const name = `t${taskNo++}`;
              await swarm.containerRun({ name, node: `worker${c.worker}`, network: `n${c.net}` });
              tasks.set(name, { net: c.net, worker: c.worker });
            } else if (c.op === 'stop') {
              const name = [...tasks.keys()][c.task % Math.max(1, tasks.size)];
              if (name !== undefined) {
                await swarm.containerStop(name);
                tasks.delete(name);
              }
            }
            // The manager: one pool per live network; one segment each, all distinct.
            expect(m.ipam.pools().filter((p) => p.space === 'GlobalDefault').length).toBe(nets.size);
            const segs = (m.driver.exportState().allocations ?? []).map((a) => a.segment);
            expect(new Set(segs).size).toBe(nets.size);
            // Each worker: the network exists exactly while one of its tasks uses it.
            for (const [i, w] of [w0, w1].entries()) {
              const want = new Set([...tasks.values()].filter((t) => t.worker === i).map((t) => nets.get(t.net)!));
              expect(new Set(w.driver.networkIds())).toEqual(want);
            }
          }
          for (const name of [...tasks.keys()]) await swarm.containerStop(name);
          for (const n of [...nets.keys()]) await swarm.networkRm(`n${n}`);
          expect(swarm.leaks()).toEqual([]);
          for (const h of hs) {
            expect(h.driver.networkIds()).toEqual([]);
            expect(h.driver.exportState().allocations).toBeUndefined();
            expect(h.ipam.pools()).toEqual([]);
          }
          expect(swarm.callLog().filter((e) => e.entry.outcome !== 'ok').map((e) => `${e.node} ${e.entry.call}`)).toEqual([]);
        } finally {
          swarm.close();
          for (const h of hs) await h.plugin.close();
        }
      }),
      { numRuns: 40, seed: 14 },
    );
  });
});
