/**
 * Faults on a real three-member etcd cluster with real `cnmkit serve --store`
 * processes on unix sockets: kill -9 of a serve instance loses nothing
 * acknowledged; the etcd leader killed under load is survived; without quorum
 * calls fail with a clear {"Err"} within the configured time, never a wrong
 * answer, and work again once quorum is back.
 */
import { describe, expect, it } from 'vitest';
import { etcdSkipReason } from '../../helpers/etcd.js';
import { newPrefix, post, serveFleet } from './harness.js';

const skip = etcdSkipReason();
if (skip !== null) console.log(`etcd fault tests skipped: ${skip}`);

interface Ledger {
  /** Address -> who got it (acknowledged = a 200 reply arrived). */
  acked: Map<string, string>;
  errors: string[];
  duplicates: string[];
}

/** `clients` loops of RequestAddress on each socket until `stop` resolves; records every acknowledged address. */
async function storm(sockets: string[], poolId: string, clients: number, stop: Promise<void>, ledger: Ledger): Promise<void> {
  let done = false;
  void stop.then(() => (done = true));
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const socket = sockets[c % sockets.length]!;
      while (!done) {
        let r;
        try {
          r = await post(socket, '/IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: null });
        } catch (e) {
          // The instance is gone (kill -9): its client stops.
          ledger.errors.push(`${socket}: ${(e as Error).message}`);
          return;
        }
        if (r.status !== 200) {
          ledger.errors.push(String(r.body.Err));
          continue;
        }
        const a = String(r.body.Address).split('/')[0]!;
        if (ledger.acked.has(a)) ledger.duplicates.push(a);
        ledger.acked.set(a, `${socket}#${c}`);
      }
    }),
  );
}

/** Every acknowledged address is held: a preferred request for it is refused on `socket`. */
async function expectAllHeld(socket: string, poolId: string, acked: Map<string, string>): Promise<void> {
  for (const a of acked.keys()) {
    const r = await post(socket, '/IpamDriver.RequestAddress', { PoolID: poolId, Address: a, Options: null });
    expect(r, `${a} (acknowledged to ${acked.get(a)})`).toEqual({ status: 500, body: { Err: 'Address already in use' } });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A GlobalDefault pool `cidr` requested on `via`, then a storm of 16 clients over `sockets` on it until `stop` resolves. */
async function poolUnderStorm(via: string, cidr: string, sockets: string[]): Promise<{ poolId: string; ledger: Ledger; stop: () => Promise<void> }> {
  const pool = await post(via, '/IpamDriver.RequestPool', { AddressSpace: 'GlobalDefault', Pool: cidr });
  const poolId = String(pool.body.PoolID);
  const ledger: Ledger = { acked: new Map(), errors: [], duplicates: [] };
  let end!: () => void;
  const load = storm(sockets, poolId, 16, new Promise<void>((r) => (end = r)), ledger);
  return {
    poolId,
    ledger,
    stop: async () => {
      end();
      await load;
    },
  };
}

describe.skipIf(skip !== null)('shared IPAM faults on a three-member etcd cluster', () => {
  const fleet = serveFleet(3, 'cnmkit-etcd-serve-');
  const serve = fleet.serve;

  it('kill -9 of a serve instance under load loses nothing acknowledged', async () => {
    const prefix = newPrefix();
    const [a, b] = await Promise.all([serve('k-a', prefix), serve('k-b', prefix)]);
    const { poolId, ledger, stop } = await poolUnderStorm(a.socket, '10.80.0.0/16', [a.socket, b.socket]);
    // Kill in the middle of the storm (bounded wait: a loaded machine is slow).
    const t0 = Date.now();
    while (ledger.acked.size < 300 && Date.now() - t0 < 20_000) await sleep(50);
    a.child.kill('SIGKILL');
    await a.exited();
    await sleep(500);
    await stop();
    expect(ledger.duplicates).toEqual([]);
    expect(ledger.acked.size).toBeGreaterThanOrEqual(300);
    await expectAllHeld(b.socket, poolId, ledger.acked);
    // A new instance in its place continues on the shared state.
    const a2 = await serve('k-a2', prefix);
    const r = await post(a2.socket, '/IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: null });
    expect(r.status).toBe(200);
    expect(ledger.acked.has(String(r.body.Address).split('/')[0])).toBe(false);
  });

  it('the etcd leader killed under load: calls go on, nothing acknowledged lost or duplicated', async () => {
    const prefix = newPrefix();
    const [a, b] = await Promise.all([serve('l-a', prefix), serve('l-b', prefix)]);
    const { poolId, ledger, stop } = await poolUnderStorm(b.socket, '10.81.0.0/16', [a.socket, b.socket]);
    await sleep(1000);
    const leader = await fleet.etcd.leader();
    expect(leader).toBeGreaterThanOrEqual(0);
    const before = ledger.acked.size;
    await fleet.etcd.kill(leader);
    // The storm goes on once the other two members have elected a leader (bounded wait: a loaded machine is slow).
    const t0 = Date.now();
    while (ledger.acked.size < before + 200 && Date.now() - t0 < 20_000) await sleep(100);
    const during = ledger.acked.size;
    await stop();
    const now = await fleet.etcd.leader();
    expect(now).toBeGreaterThanOrEqual(0);
    expect(now).not.toBe(leader);
    expect(during).toBeGreaterThanOrEqual(before + 200);
    expect(ledger.duplicates).toEqual([]);
    // A call may fail while the cluster elects, but only with the store's clear error.
    for (const e of ledger.errors) expect(e).toMatch(/^IPAM store \(etcd\) unavailable/);
    await expectAllHeld(a.socket, poolId, ledger.acked);
    await fleet.etcd.start(leader);
  });

  it('without quorum calls fail with a clear {"Err"} in bounded time, and work again once quorum is back', async () => {
    const prefix = newPrefix();
    const a = await serve('q-a', prefix, 3000);
    const pool = await post(a.socket, '/IpamDriver.RequestPool', { AddressSpace: 'GlobalDefault', Pool: '10.82.0.0/24' });
    const poolId = String(pool.body.PoolID);
    const first = await post(a.socket, '/IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: null });
    expect(first.body.Address).toBe('10.82.0.1/24');
    await fleet.etcd.kill(1);
    await fleet.etcd.kill(2);
    for (const [path, body] of [
      ['/IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: null }],
      ['/IpamDriver.ReleaseAddress', { PoolID: poolId, Address: '10.82.0.1' }],
      ['/IpamDriver.RequestPool', { AddressSpace: 'GlobalDefault', Pool: '' }],
      ['/IpamDriver.ReleasePool', { PoolID: poolId }],
    ] as const) {
      const t0 = Date.now();
      const r = await post(a.socket, path, body);
      const took = Date.now() - t0;
      expect(r.status, path).toBe(500);
      expect(String(r.body.Err), path).toMatch(/^IPAM store \(etcd\) unavailable: no confirmed answer within 3000 ms/);
      // Bounded: the configured time plus slack, far below dockerd's 30 s plugin timeout.
      expect(took, path).toBeLessThan(6000);
    }
    // LocalDefault does not depend on etcd.
    expect((await post(a.socket, '/IpamDriver.RequestPool', { AddressSpace: 'LocalDefault', Pool: '' })).status).toBe(200);
    await Promise.all([fleet.etcd.start(1), fleet.etcd.start(2)]);
    // Back with quorum: the pool is still there, its address still held, allocation goes on.
    const next = await post(a.socket, '/IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: null });
    expect(next.status).toBe(200);
    expect(next.body.Address).not.toBe('10.82.0.1/24');
    expect(await post(a.socket, '/IpamDriver.RequestAddress', { PoolID: poolId, Address: '10.82.0.1', Options: null })).toEqual({
      status: 500,
      body: { Err: 'Address already in use' },
    });
  });
});
