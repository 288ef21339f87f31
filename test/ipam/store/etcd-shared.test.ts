/**
 * The etcd-backed GlobalDefault space on a real one-member etcd: one instance
 * answers exactly as the in-memory reference; several instances act as one
 * IPAM (pool IDs and releases seen everywhere, no address twice under
 * concurrent storms, linearizable histories); an etcd restart is survived.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdSkipReason, startEtcd, type EtcdCluster } from '../../helpers/etcd.js';
import { createIpam } from '../../../src/ipam/index.js';
import { openEtcdStore, openSharedIpam, StoreError, type KvTxnStore, type SharedIpam } from '../../../src/ipam/store/index.js';
import { ctx, linearizable, newModel, newPrefix, openInstance, runModel, runShared, type Event, type Op } from './harness.js';

const skip = etcdSkipReason();
if (skip !== null) console.log(`etcd-shared tests skipped: ${skip}`);

describe.skipIf(skip !== null)('shared IPAM on one etcd member', () => {
  let etcd: EtcdCluster;
  const open: SharedIpam[] = [];
  const inst = (prefix: string, extra?: Parameters<typeof openInstance>[2]): SharedIpam => {
    const s = openInstance(etcd.url, prefix, extra);
    open.push(s);
    return s;
  };
  beforeAll(async () => {
    etcd = await startEtcd(1);
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close().catch(() => undefined)));
    await etcd?.close();
  });

  it('a pool ID from one instance works on the others; a release on one is seen by all', async () => {
    const prefix = newPrefix();
    const [a, b, c] = [inst(prefix), inst(prefix), inst(prefix)];
    const p = await a.requestPool({ AddressSpace: 'GlobalDefault', Pool: '10.50.0.0/24', SubPool: '10.50.0.128/25' }, ctx);
    expect(p.PoolID).toBe('GlobalDefault/10.50.0.0/24/10.50.0.128/25');
    expect((await b.requestAddress({ PoolID: p.PoolID, Address: '', Options: null }, ctx)).Address).toBe('10.50.0.128/24');
    expect((await c.requestAddress({ PoolID: p.PoolID, Address: '', Options: null }, ctx)).Address).toBe('10.50.0.129/24');
    await expect(a.requestAddress({ PoolID: p.PoolID, Address: '10.50.0.129', Options: null }, ctx)).rejects.toThrow('Address already in use');
    await c.releaseAddress({ PoolID: p.PoolID, Address: '10.50.0.128' }, ctx);
    expect((await a.requestAddress({ PoolID: p.PoolID, Address: '', Options: null }, ctx)).Address).toBe('10.50.0.128/24');
    // Overlap is checked against pools made elsewhere.
    await expect(c.requestPool({ AddressSpace: 'GlobalDefault', Pool: '10.50.0.0/16' }, ctx)).rejects.toThrow('Pool overlaps');
    await b.releasePool({ PoolID: p.PoolID }, ctx);
    await expect(a.requestAddress({ PoolID: p.PoolID, Address: '', Options: null }, ctx)).rejects.toThrow(`cannot find address pool for poolID:${p.PoolID}`);
    await expect(c.releasePool({ PoolID: p.PoolID }, ctx)).rejects.toThrow('Address space does not contain specified address pool');
    // The master went with its last sub-pool: free on every instance, and its allocations with it.
    const again = await c.requestPool({ AddressSpace: 'GlobalDefault', Pool: '10.50.0.0/16' }, ctx);
    expect((await a.requestAddress({ PoolID: again.PoolID, Address: '10.50.0.129', Options: null }, ctx)).Address).toBe('10.50.0.129/16');
    // Automatic pools rotate through the shared round-robin index.
    const autos = [];
    for (const t of [a, b, c, a]) autos.push((await t.requestPool({ AddressSpace: 'GlobalDefault', Pool: '' }, ctx)).Pool);
    expect(autos).toEqual(['10.9.0.0/29', '10.9.0.8/29', '10.9.0.16/29', '10.9.0.24/29']);
    await expect(b.requestPool({ AddressSpace: 'GlobalDefault', Pool: '' }, ctx)).rejects.toThrow('could not find an available');
  });

  it('LocalDefault stays local unless --store-local; with it, shared too', async () => {
    const prefix = newPrefix();
    const [a, b] = [inst(prefix), inst(prefix)];
    const pa = await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '' }, ctx);
    const pb = await b.requestPool({ AddressSpace: 'LocalDefault', Pool: '' }, ctx);
    expect(pa.Pool).toBe(pb.Pool); // two separate local spaces
    const p2 = newPrefix();
    const [c, d] = [inst(p2, { localDefaultInStore: true }), inst(p2, { localDefaultInStore: true })];
    const pc = await c.requestPool({ AddressSpace: 'LocalDefault', Pool: '' }, ctx);
    const pd = await d.requestPool({ AddressSpace: 'LocalDefault', Pool: '' }, ctx);
    expect(pc.Pool).not.toBe(pd.Pool);
    expect((await d.requestAddress({ PoolID: pc.PoolID, Address: '', Options: null }, ctx)).Address).toMatch(/^172\.17\.0\.1\//);
  });

  // Op universe: explicit pools and sub-pools that overlap each other, the small
  // automatic list, addresses inside/outside/reserved, bad IDs and texts.
  const POOL_IDS = [
    'GlobalDefault/10.1.0.0/29',
    'GlobalDefault/10.1.0.0/28',
    'GlobalDefault/10.1.0.0/28/10.1.0.8/29',
    'GlobalDefault/10.9.0.0/29',
    'GlobalDefault/10.9.0.8/29',
    'GlobalDefault/fd00::/125',
    'GlobalDefault/fd00:1::/64',
    'GlobalDefault/fd00:1::/64/fd00:1::ffff:ffff:ffff:0/112',
    'GlobalDefault/10.1.0.0/31',
    'GlobalDefault/bogus',
    'GlobalDefault/10.1.0.0/29/x',
  ];
  const ADDRS = ['10.1.0.0', '10.1.0.1', '10.1.0.2', '10.1.0.7', '10.1.0.9', '10.1.0.15', '10.9.0.3', 'fd00::3', '::ffff:10.1.0.2', 'fd00:1::', 'fd00:1::1', 'fd00:1::ffff:ffff:ffff:ffff', 'fd00:1::ffff:ffff:ffff:0', 'x', ''];
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      k: fc.constant('pool' as const),
      pool: fc.constantFrom('', '10.1.0.0/29', '10.1.0.0/28', 'fd00::/125', '10.1.0.0/31', 'fd00:1::/64', 'nope'),
      sub: fc.constantFrom('', '', '10.1.0.8/29', '10.1.0.0/30', 'fd00:1::ffff:ffff:ffff:0/112'),
      v6: fc.boolean(),
    }),
    fc.record({ k: fc.constant('relPool' as const), id: fc.constantFrom(...POOL_IDS) }),
    fc.record({ k: fc.constant('addr' as const), id: fc.constantFrom(...POOL_IDS), pref: fc.constantFrom('', '', '', ...ADDRS), serial: fc.boolean(), gw: fc.boolean() }),
    fc.record({ k: fc.constant('relAddr' as const), id: fc.constantFrom(...POOL_IDS), addr: fc.constantFrom(...ADDRS) }),
  );

  it('one instance answers exactly as the in-memory reference (generated sequences)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const shared = inst(newPrefix());
        const model = newModel();
        for (const op of ops) expect(await runShared(shared, op), JSON.stringify(op)).toEqual(runModel(model, op));
      }),
      { numRuns: 100 },
    );
  });

  it('concurrent histories across 3 instances are linearizable against the reference (generated)', async () => {
    const conc: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ k: fc.constant('addr' as const), id: fc.constant('GlobalDefault/10.1.0.0/29'), pref: fc.constantFrom('', '', '10.1.0.2', '10.1.0.5'), serial: fc.boolean(), gw: fc.constant(false) }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant('relAddr' as const), id: fc.constant('GlobalDefault/10.1.0.0/29'), addr: fc.constantFrom('10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.5') }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('relPool' as const), id: fc.constantFrom('GlobalDefault/10.1.0.0/29', 'GlobalDefault/10.9.0.0/29') }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('pool' as const), pool: fc.constantFrom('', '10.1.0.0/29'), sub: fc.constant(''), v6: fc.constant(false) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(conc, { minLength: 1, maxLength: 4 }), { minLength: 3, maxLength: 3 }), async (clients) => {
        const prefix = newPrefix();
        const insts = [inst(prefix), inst(prefix), inst(prefix)];
        const model = newModel();
        const setup: Op = { k: 'pool', pool: '10.1.0.0/29', sub: '', v6: false };
        expect(await runShared(insts[0]!, setup)).toEqual(runModel(model, setup));
        const initial = model.exportState();
        const events: Event[] = [];
        await Promise.all(
          clients.map(async (ops, i) => {
            for (const op of ops) {
              const inv = performance.now();
              const out = await runShared(insts[i]!, op);
              events.push({ op, inv, res: performance.now(), out });
            }
          }),
        );
        expect(linearizable(events, initial), JSON.stringify(events, null, 1)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('allocation storms on 2 and 4 instances: no address twice, nothing lost', async () => {
    for (const n of [2, 4]) {
      const prefix = newPrefix();
      const insts = Array.from({ length: n }, () => inst(prefix));
      const { PoolID } = await insts[0]!.requestPool({ AddressSpace: 'GlobalDefault', Pool: '10.60.0.0/22' }, ctx);
      const held = new Map<string, number>(); // address -> client holding it
      const CLIENTS = 8 * n;
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, c) => {
          const mine: string[] = [];
          const t = insts[c % n]!;
          for (let k = 0; k < 40; k++) {
            if (mine.length > 0 && k % 3 === 2) {
              const a = mine.splice(k % mine.length, 1)[0]!;
              // Forget it before the release is called: another client may get it once the release commits.
              held.delete(a);
              await t.releaseAddress({ PoolID, Address: a }, ctx);
              continue;
            }
            const { Address } = await t.requestAddress({ PoolID, Address: '', Options: k % 5 === 0 ? { 'com.docker.network.ipam.serial': 'true' } : null }, ctx);
            const a = Address.split('/')[0]!;
            expect(held.get(a), `${a} handed to client ${c} while client ${held.get(a)} holds it`).toBeUndefined();
            held.set(a, c);
            mine.push(a);
          }
        }),
      );
      // Every held address is taken on every instance; every other one can still be handed out exactly once.
      for (const [a] of held) await expect(insts[held.size % n]!.requestAddress({ PoolID, Address: a, Options: null }, ctx)).rejects.toThrow('Address already in use');
      const rest = new Set<string>();
      for (;;) {
        try {
          rest.add((await insts[rest.size % n]!.requestAddress({ PoolID, Address: '', Options: null }, ctx)).Address.split('/')[0]!);
        } catch (e) {
          expect((e as Error).message).toBe('No available addresses on this pool');
          break;
        }
      }
      for (const a of rest) expect(held.has(a)).toBe(false);
      expect(held.size + rest.size).toBe(1024 - 2);
    }
  });

  it('a transaction applied whose reply was lost is recognised: nothing leaks, nothing is handed out twice', async () => {
    const prefix = newPrefix();
    const real = openEtcdStore(etcd.url, { prefix });
    let n = 0;
    let dropped = 0;
    // Every second write transaction is applied by etcd, but its reply is "lost".
    const lossy: KvTxnStore = {
      get: (keys, deadline) => real.get(keys, deadline),
      async txn(t, deadline) {
        const r = await real.txn(t, deadline);
        if (t.puts.length > 0 && r.ok && ++n % 2 === 0) {
          dropped++;
          throw new StoreError('E_STORE_UNAVAILABLE', 'etcd: reply lost (test)');
        }
        return r;
      },
      close: () => real.close(),
    };
    const a = openSharedIpam({ store: lossy, local: createIpam() });
    open.push(a);
    const b = inst(prefix);
    const { PoolID } = await a.requestPool({ AddressSpace: 'GlobalDefault', Pool: '10.90.0.0/24' }, ctx);
    const got = [];
    for (let wave = 0; wave < 10; wave++) {
      got.push(...(await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).requestAddress({ PoolID, Address: '', Options: null }, ctx)))));
    }
    expect(dropped).toBeGreaterThan(3);
    const addrs = got.map((r) => r.Address);
    expect(new Set(addrs).size).toBe(60);
    // Exactly the 60 acknowledged addresses are taken: the lowest free one is the 61st.
    expect([...addrs].sort((x, y) => Number(x.split('.')[3]!.split('/')[0]) - Number(y.split('.')[3]!.split('/')[0])).at(-1)).toBe('10.90.0.60/24');
    expect((await b.requestAddress({ PoolID, Address: '', Options: null }, ctx)).Address).toBe('10.90.0.61/24');
  });

  it('survives an etcd restart on the same data directory', async () => {
    const prefix = newPrefix();
    const a = inst(prefix, { timeoutMs: 15_000 });
    const b = inst(prefix, { timeoutMs: 15_000 });
    const { PoolID } = await a.requestPool({ AddressSpace: 'GlobalDefault', Pool: '10.70.0.0/24' }, ctx);
    const first = await b.requestAddress({ PoolID, Address: '', Options: null }, ctx);
    await etcd.stop(0);
    const during = b.requestAddress({ PoolID, Address: '', Options: null }, ctx);
    await new Promise((r) => setTimeout(r, 500));
    await etcd.start(0);
    // A call made while etcd was down completes once it is back (within its deadline).
    expect((await during).Address).toBe('10.70.0.2/24');
    expect((await a.requestAddress({ PoolID, Address: '', Options: null }, ctx)).Address).toBe('10.70.0.3/24');
    await expect(a.requestAddress({ PoolID, Address: first.Address.split('/')[0]!, Options: null }, ctx)).rejects.toThrow('Address already in use');
  });
});
