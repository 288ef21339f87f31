/**
 * Property tests of the virtual backend: any sequence of operations, valid or
 * not, on a small pool of names (so they collide) keeps the model consistent;
 * a failing operation changes nothing and throws only BackendError; deleting
 * everything that was created returns to the initial snapshot.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BackendError, HOST_NAMESPACE } from '../../src/backend/index.js';
import { VirtualBackend, diffSnapshots } from '../../src/backend/virtual/index.js';

const NS = [HOST_NAMESPACE, '/run/netns/s0', '/run/netns/s1', '/nope'];
const NAMES = ['a', 'b', 'c', 'br0', 'br1', 'eth%d', 'eth0', 'lo', 'bad name'];
/** Names most calls use, so that they find what earlier calls made. */
const COMMON = ['a', 'b', 'br0'];
const ADDRS = ['10.0.0.1/24', '10.0.0.2/24', '10.0.0.1/16', '10.1.0.1/24', 'fd00::1/64', 'fd00::2/64', '10.0.0.9/32', 'bogus'];
const DESTS = ['0.0.0.0/0', '::/0', '10.5.0.0/16', '10.0.0.0/24', 'fd05::/64', '10.5.0.1/16'];
const GWS = [undefined, '10.0.0.1', '10.0.0.254', '10.1.0.7', 'fd00::1', 'fd00::ff', 'fe80::1'];
const MTUS = [67, 68, 1200, 1280, 1400, 1500, 9000, 65536];
const MACS = ['02:00:00:00:00:01', '02:00:00:00:00:02', '01:00:00:00:00:01', 'xx'];

const ns = fc.oneof({ arbitrary: fc.constant(HOST_NAMESPACE), weight: 6 }, fc.constantFrom(...NS));
const name = fc.oneof({ arbitrary: fc.constantFrom(...COMMON), weight: 3 }, fc.constantFrom(...NAMES));

interface Op {
  label: string;
  run: (b: VirtualBackend) => Promise<unknown>;
}

const o = (label: string, run: (b: VirtualBackend) => Promise<unknown>): Op => ({ label, run });

const op: fc.Arbitrary<Op> = fc.oneof(
  ns.map((k) => o(`createNamespace ${k}`, (b) => b.createNamespace(k))),
  ns.map((k) => o(`deleteNamespace ${k}`, (b) => b.deleteNamespace(k))),
  fc.tuple(ns, name, fc.option(fc.constantFrom(...MTUS))).map(([k, n, mtu]) => o(`createBridge ${k} ${n} ${mtu}`, (b) => b.createBridge(k, n, mtu === null ? {} : { mtu }))),
  fc.tuple(ns, name, name, fc.option(fc.constantFrom(...MACS))).map(([k, n, p, mac]) =>
    o(`createVethPair ${k} ${n} ${p} ${mac}`, (b) => b.createVethPair(k, n, p, mac === null ? {} : { peerMac: mac })),
  ),
  fc.tuple(ns, name).map(([k, n]) => o(`createDummy ${k} ${n}`, (b) => b.createDummy(k, n))),
  fc.tuple(ns, name).map(([k, n]) => o(`deleteLink ${k} ${n}`, (b) => b.deleteLink(k, n))),
  fc.tuple(ns, name, fc.boolean()).map(([k, n, up]) => o(`set ${up ? 'up' : 'down'} ${k} ${n}`, (b) => (up ? b.setLinkUp(k, n) : b.setLinkDown(k, n)))),
  fc.tuple(ns, name, fc.constantFrom(...MTUS)).map(([k, n, mtu]) => o(`setMtu ${k} ${n} ${mtu}`, (b) => b.setMtu(k, n, mtu))),
  fc.tuple(ns, name, fc.constantFrom(...MACS)).map(([k, n, mac]) => o(`setMac ${k} ${n} ${mac}`, (b) => b.setMac(k, n, mac))),
  fc.tuple(ns, name, fc.option(name)).map(([k, n, m]) => o(`setMaster ${k} ${n} ${m}`, (b) => b.setMaster(k, n, m))),
  fc.tuple(ns, name, ns, fc.option(name)).map(([k, n, t, nn]) => o(`moveLink ${k} ${n} -> ${t} ${nn}`, (b) => b.moveLink(k, n, t, nn ?? undefined))),
  fc.tuple(ns, name, name).map(([k, n, nn]) => o(`renameLink ${k} ${n} ${nn}`, (b) => b.renameLink(k, n, nn))),
  fc.tuple(ns, name, fc.constantFrom(...ADDRS), fc.boolean()).map(([k, n, a, add]) =>
    o(`${add ? 'add' : 'del'}Address ${k} ${n} ${a}`, (b) => (add ? b.addAddress(k, n, a) : b.deleteAddress(k, n, a))),
  ),
  fc.tuple(ns, fc.constantFrom(...DESTS), fc.constantFrom(...GWS), fc.option(name), fc.boolean(), fc.boolean()).map(([k, dest, gw, dev, onlink, add]) => {
    const spec = { destination: dest, ...(gw === undefined ? {} : { gateway: gw }), ...(dev === null ? {} : { dev }), ...(onlink ? { onlink } : {}) };
    return o(`${add ? 'add' : 'del'}Route ${k} ${JSON.stringify(spec)}`, (b) => (add ? b.addRoute(k, spec) : b.deleteRoute(k, spec)));
  }),
);

describe('virtual backend properties', () => {
  it('random operations keep the invariants; failures are atomic and typed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 80, size: 'large' }), async (ops) => {
        const b = new VirtualBackend();
        for (const o of ops) {
          const before = b.snapshot();
          try {
            await o.run(b);
          } catch (e) {
            if (!(e instanceof BackendError)) throw new Error(`${o.label}: unexpected ${String(e)}`);
            expect(diffSnapshots(before, b.snapshot()), o.label).toEqual([]);
          }
          expect(b.checkInvariants(), o.label).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('deleting every namespace and every non-lo host link returns to the initial snapshot', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60, size: 'large' }), async (ops) => {
        const b = new VirtualBackend();
        const initial = b.snapshot();
        for (const o of ops) await o.run(b).catch((e: unknown) => {
          if (!(e instanceof BackendError)) throw e;
        });
        for (const k of await b.listNamespaces()) if (k !== HOST_NAMESPACE) await b.deleteNamespace(k);
        for (const l of await b.listLinks(HOST_NAMESPACE)) {
          if (l.kind === 'loopback') continue;
          await b.deleteLink(HOST_NAMESPACE, l.name).catch((e: unknown) => {
            if (!(e instanceof BackendError && e.errno === 'ENODEV')) throw e; // already gone with its veth peer
          });
        }
        // The loopback may have been renamed, set down, given addresses and routes, or
        // lost ::1 to a small MTU (the kernel does not bring it back): restore it.
        const lo = initial.namespaces[0].links[0];
        const loName = (await b.listLinks(HOST_NAMESPACE))[0].name;
        await b.setLinkDown(HOST_NAMESPACE, loName);
        await b.renameLink(HOST_NAMESPACE, loName, 'lo');
        await b.setMtu(HOST_NAMESPACE, 'lo', lo.mtu);
        await b.setLinkUp(HOST_NAMESPACE, 'lo');
        const have = (await b.listAddresses(HOST_NAMESPACE, 'lo')).map((a) => a.cidr);
        for (const c of have) {
          // Deleting a primary address also deletes its secondaries, as the kernel does.
          const still = (await b.listAddresses(HOST_NAMESPACE, 'lo')).some((a) => a.cidr === c);
          if (still && !lo.addresses.includes(c)) await b.deleteAddress(HOST_NAMESPACE, 'lo', c);
        }
        for (const c of lo.addresses) if (!have.includes(c)) await b.addAddress(HOST_NAMESPACE, 'lo', c);
        for (const r of await b.listRoutes(HOST_NAMESPACE)) await b.deleteRoute(HOST_NAMESPACE, { destination: r.destination, dev: r.dev, metric: r.metric });
        // A MAC set on lo cannot be undone (00:00:00:00:00:00 is not a settable address).
        expect(diffSnapshots(initial, b.snapshot()).filter((l) => !/^~ link host\/lo: mac [0-9a-f:]+ -> [0-9a-f:]+$/.test(l))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
