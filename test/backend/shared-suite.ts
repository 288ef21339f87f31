/**
 * One behaviour suite for every Backend: the virtual model must predict what
 * the Linux kernel does (results and errno kinds). The expectations below are
 * the kernel's (Linux 6.x, iproute2 6.1); a backend that differs is wrong.
 *
 * `defineBackendSuite(name, makeEnv)` registers the tests; each test gets a
 * fresh environment and disposes it in afterEach, even when it failed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { HOST_NAMESPACE, type Backend, type LinkInfo } from '../../src/backend/backend.js';
import { errnoOf } from '../helpers/outcome.js';

export interface BackendEnv {
  readonly backend: Backend;
  /** A fresh, unused namespace key (`cnmt-<random>`); the env removes it at dispose. */
  nsKey(): string;
  /** Undoes everything (namespaces, links, the backend); must not throw. */
  dispose(): Promise<void>;
  /** The backend has no `dummy` links (the kernel lacks the module): expect EOPNOTSUPP. */
  readonly noDummy?: boolean;
}

export function uniqueNsKey(): string {
  return `cnmt-${randomBytes(5).toString('hex')}`;
}

const H = HOST_NAMESPACE;

export function defineBackendSuite(name: string, makeEnv: () => Promise<BackendEnv>): void {
  describe(`Backend behaviour: ${name}`, () => {
    let env: BackendEnv;
    let b: Backend;
    beforeEach(async () => {
      env = await makeEnv();
      b = env.backend;
    });
    afterEach(async () => {
      await env.dispose();
    });

    const names = (links: LinkInfo[]): string[] => links.map((l) => l.name);

    /** Everything a failing call must leave as it was. */
    async function snapshot(keys: string[]): Promise<unknown> {
      const out: unknown[] = [];
      for (const k of keys) out.push(await b.listLinks(k), await b.listAddresses(k), await b.listRoutes(k));
      return out;
    }

    describe('namespaces', () => {
      it('creates, lists and deletes; a new namespace holds lo, down', async () => {
        const k = env.nsKey();
        await b.createNamespace(k);
        const list = await b.listNamespaces();
        expect(list[0]).toBe(H);
        expect(list).toContain(k);
        const links = await b.listLinks(k);
        expect(links).toHaveLength(1);
        expect(links[0]).toMatchObject({ name: 'lo', kind: 'loopback', index: 1, up: false, mtu: 65536, master: null, peer: null });
        expect(await b.listAddresses(k)).toEqual([]);
        await b.deleteNamespace(k);
        expect(await b.listNamespaces()).not.toContain(k);
      });

      it('EEXIST twice, ENOENT when unknown, EPERM for the host, EINVAL for an empty key', async () => {
        const k = env.nsKey();
        await b.createNamespace(k);
        expect(await errnoOf(b.createNamespace(k))).toBe('EEXIST');
        expect(await errnoOf(b.deleteNamespace(env.nsKey()))).toBe('ENOENT');
        expect(await errnoOf(b.listLinks(env.nsKey()))).toBe('ENOENT');
        expect(await errnoOf(b.deleteNamespace(H))).toBe('EPERM');
        expect(await errnoOf(b.createNamespace(''))).toBe('EINVAL');
      });

      it('deleting a namespace takes the peers of its veths along', async () => {
        const k = env.nsKey();
        await b.createNamespace(k);
        await b.createVethPair(H, 'cnm-h0', 'cnm-c0');
        await b.moveLink(H, 'cnm-c0', k);
        expect((await b.getLink(H, 'cnm-h0')).peer).toEqual({ namespace: k, name: 'cnm-c0' });
        await b.deleteNamespace(k);
        expect(await errnoOf(b.getLink(H, 'cnm-h0'))).toBe('ENODEV');
      });
    });

    describe('links', () => {
      it('a veth pair: both ends down, peers of each other, MTU and MAC as asked', async () => {
        const [a, p] = await b.createVethPair(H, 'cnm-va', 'cnm-vb', { mtu: 1400, peerMtu: 1300, mac: '02:00:00:00:00:0a' });
        expect(a).toMatchObject({ namespace: H, name: 'cnm-va', kind: 'veth', mtu: 1400, mac: '02:00:00:00:00:0a', up: false, master: null, peer: { namespace: H, name: 'cnm-vb' } });
        expect(p).toMatchObject({ name: 'cnm-vb', kind: 'veth', mtu: 1300, up: false, peer: { namespace: H, name: 'cnm-va' } });
        expect(p.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        // Generated MACs are unicast and locally administered.
        expect(parseInt(p.mac.slice(0, 2), 16) & 3).toBe(2);
        expect(await b.getLink(H, 'cnm-vb')).toEqual(p);
      });

      it('the peer MTU defaults to the MTU; the default MTU is 1500', async () => {
        const [a, p] = await b.createVethPair(H, 'cnm-va', 'cnm-vb', { mtu: 1450 });
        expect([a.mtu, p.mtu]).toEqual([1450, 1450]);
        const [c] = await b.createVethPair(H, 'cnm-vc', 'cnm-vd');
        expect(c.mtu).toBe(1500);
      });

      it('links are listed by ifindex, lo first, indexes increasing', async () => {
        const k = env.nsKey();
        await b.createNamespace(k);
        await b.createBridge(k, 'br0');
        await b.createVethPair(k, 'v0', 'v1');
        const l = await b.listLinks(k);
        expect(names(l)).toEqual(['lo', 'br0', 'v1', 'v0']);
        expect(l.map((x) => x.index)).toEqual([1, 2, 3, 4]);
      });

      it('EEXIST for a taken name (and nothing is created)', async () => {
        await b.createVethPair(H, 'cnm-va', 'cnm-vb');
        const before = await snapshot([H]);
        expect(await errnoOf(b.createVethPair(H, 'cnm-va', 'cnm-vx'))).toBe('EEXIST');
        expect(await errnoOf(b.createVethPair(H, 'cnm-vx', 'cnm-vb'))).toBe('EEXIST');
        expect(await errnoOf(b.createBridge(H, 'cnm-va'))).toBe('EEXIST');
        expect(await snapshot([H])).toEqual(before);
      });

      it('EINVAL for invalid names, MTUs; EADDRNOTAVAIL for a multicast MAC', async () => {
        const k = env.nsKey();
        await b.createNamespace(k);
        const before = await snapshot([k]);
        expect(await errnoOf(b.createBridge(k, 'a-name-longer-than-15'))).toBe('EINVAL');
        expect(await errnoOf(b.createBridge(k, 'a/b'))).toBe('EINVAL');
        expect(await errnoOf(b.createBridge(k, 'a b'))).toBe('EINVAL');
        expect(await errnoOf(b.createBridge(k, ''))).toBe('EINVAL');
        expect(await errnoOf(b.createVethPair(k, 'v0', 'v1', { mtu: 67 }))).toBe('EINVAL');
        expect(await errnoOf(b.createVethPair(k, 'v0', 'v1', { mtu: 65536 }))).toBe('EINVAL');
        expect(await errnoOf(b.createBridge(k, 'br0', { mac: 'zz:00:00:00:00:00' }))).toBe('EINVAL');
        expect(await errnoOf(b.createBridge(k, 'br0', { mac: '01:00:5e:00:00:01' }))).toBe('EADDRNOTAVAIL');
        expect(await snapshot([k])).toEqual(before);
      });

      it('dummy links, or EOPNOTSUPP where the kernel has no dummy module', async () => {
        const r = await errnoOf(b.createDummy(H, 'cnm-d0', { mtu: 1400 }));
        if (env.noDummy === true) {
          expect(r).toBe('EOPNOTSUPP');
          expect(await errnoOf(b.getLink(H, 'cnm-d0'))).toBe('ENODEV');
        } else {
          expect(r).toBe('ok');
          expect(await b.getLink(H, 'cnm-d0')).toMatchObject({ kind: 'dummy', mtu: 1400, up: false, peer: null });
        }
      });

      it('deleting a veth end takes the peer; lo cannot go; a missing link is ENODEV', async () => {
        await b.createVethPair(H, 'cnm-va', 'cnm-vb');
        await b.deleteLink(H, 'cnm-vb');
        expect(await errnoOf(b.getLink(H, 'cnm-va'))).toBe('ENODEV');
        expect(await errnoOf(b.deleteLink(H, 'cnm-va'))).toBe('ENODEV');
        const k = env.nsKey();
        await b.createNamespace(k);
        expect(await errnoOf(b.deleteLink(k, 'lo'))).toBe('EOPNOTSUPP');
      });

      it('up/down are idempotent; MTU and MAC changes show; bad ones change nothing', async () => {
        await b.createVethPair(H, 'cnm-va', 'cnm-vb');
        await b.setLinkUp(H, 'cnm-va');
        await b.setLinkUp(H, 'cnm-va');
        expect((await b.getLink(H, 'cnm-va')).up).toBe(true);
        await b.setMtu(H, 'cnm-va', 9000);
        await b.setMac(H, 'cnm-va', '02:11:22:33:44:55');
        expect(await b.getLink(H, 'cnm-va')).toMatchObject({ mtu: 9000, mac: '02:11:22:33:44:55' });
        const before = await snapshot([H]);
        expect(await errnoOf(b.setMtu(H, 'cnm-va', 67))).toBe('EINVAL');
        expect(await errnoOf(b.setMtu(H, 'cnm-va', 65536))).toBe('EINVAL');
        expect(await errnoOf(b.setMac(H, 'cnm-va', '02:11:22:33:44'))).toBe('EINVAL');
        expect(await errnoOf(b.setMac(H, 'cnm-va', '00:00:00:00:00:00'))).toBe('EADDRNOTAVAIL');
        expect(await errnoOf(b.setMac(H, 'cnm-va', '03:00:00:00:00:01'))).toBe('EADDRNOTAVAIL');
        expect(await errnoOf(b.setMtu(H, 'cnm-nope', 1400))).toBe('ENODEV');
        expect(await snapshot([H])).toEqual(before);
        await b.setLinkDown(H, 'cnm-va');
        await b.setLinkDown(H, 'cnm-va');
        expect((await b.getLink(H, 'cnm-va')).up).toBe(false);
      });

      it('renames: EEXIST when taken; allowed while up (Linux >= 6.2)', async () => {
        await b.createVethPair(H, 'cnm-va', 'cnm-vb');
        await b.renameLink(H, 'cnm-va', 'cnm-vc');
        expect((await b.getLink(H, 'cnm-vb')).peer).toEqual({ namespace: H, name: 'cnm-vc' });
        expect(await errnoOf(b.renameLink(H, 'cnm-vc', 'cnm-vb'))).toBe('EEXIST');
        await b.setLinkUp(H, 'cnm-vc');
        // Linux 6.2 (bd039b5ea2a9) lifted the EBUSY for renaming an up link.
        await b.renameLink(H, 'cnm-vc', 'cnm-vd');
        expect(names(await b.listLinks(H)).filter((n) => n.startsWith('cnm-')).sort()).toEqual(['cnm-vb', 'cnm-vd']);
      });
    });

    describe('bridges and ports', () => {
      it('enslaves, releases; same master again is a no-op', async () => {
        await b.createBridge(H, 'cnm-br0');
        await b.createVethPair(H, 'cnm-va', 'cnm-vb');
        await b.setMaster(H, 'cnm-va', 'cnm-br0');
        await b.setMaster(H, 'cnm-va', 'cnm-br0');
        expect((await b.getLink(H, 'cnm-va')).master).toBe('cnm-br0');
        await b.setMaster(H, 'cnm-va', null);
        expect((await b.getLink(H, 'cnm-va')).master).toBeNull();
      });

      it('ELOOP bridge into bridge, EOPNOTSUPP when the master is no bridge, EINVAL for lo', async () => {
        const k = env.nsKey();
        await b.createNamespace(k);
        await b.createBridge(k, 'br0');
        await b.createBridge(k, 'br1');
        await b.createVethPair(k, 'v0', 'v1');
        const before = await snapshot([k]);
        expect(await errnoOf(b.setMaster(k, 'br1', 'br0'))).toBe('ELOOP');
        expect(await errnoOf(b.setMaster(k, 'v0', 'v1'))).toBe('EOPNOTSUPP');
        expect(await errnoOf(b.setMaster(k, 'lo', 'br0'))).toBe('EINVAL');
        expect(await errnoOf(b.setMaster(k, 'v0', 'br9'))).toBe('ENODEV');
        expect(await snapshot([k])).toEqual(before);
      });

      it('a port of another bridge moves over', async () => {
        await b.createBridge(H, 'cnm-br0');
        await b.createBridge(H, 'cnm-br1');
        await b.createVethPair(H, 'cnm-va', 'cnm-vb');
        await b.setMaster(H, 'cnm-va', 'cnm-br0');
        await b.setMaster(H, 'cnm-va', 'cnm-br1');
        expect((await b.getLink(H, 'cnm-va')).master).toBe('cnm-br1');
      });

      it('a bridge without an explicit MTU follows its smallest port', async () => {
        await b.createBridge(H, 'cnm-br0');
        await b.createVethPair(H, 'cnm-va', 'cnm-vb', { mtu: 1400 });
        await b.createVethPair(H, 'cnm-vc', 'cnm-vd', { mtu: 1300 });
        await b.setMaster(H, 'cnm-va', 'cnm-br0');
        expect((await b.getLink(H, 'cnm-br0')).mtu).toBe(1400);
        await b.setMaster(H, 'cnm-vc', 'cnm-br0');
        expect((await b.getLink(H, 'cnm-br0')).mtu).toBe(1300);
        await b.setMaster(H, 'cnm-vc', null);
        expect((await b.getLink(H, 'cnm-br0')).mtu).toBe(1400);
      });

      it('deleting a bridge releases its ports', async () => {
        await b.createBridge(H, 'cnm-br0');
        await b.createVethPair(H, 'cnm-va', 'cnm-vb');
        await b.setMaster(H, 'cnm-va', 'cnm-br0');
        await b.deleteLink(H, 'cnm-br0');
        expect((await b.getLink(H, 'cnm-va')).master).toBeNull();
      });
    });

    describe('moving links', () => {
      it('arrives down, without master or addresses, optionally renamed; the peer is reported across', async () => {
        const k = env.nsKey();
        await b.createNamespace(k);
        await b.createBridge(H, 'cnm-br0');
        await b.createVethPair(H, 'cnm-va', 'cnm-vb');
        await b.setMaster(H, 'cnm-vb', 'cnm-br0');
        await b.addAddress(H, 'cnm-vb', '10.20.0.2/24');
        await b.setLinkUp(H, 'cnm-vb');
        await b.moveLink(H, 'cnm-vb', k, 'eth0');
        expect(await errnoOf(b.getLink(H, 'cnm-vb'))).toBe('ENODEV');
        expect(await b.getLink(k, 'eth0')).toMatchObject({ namespace: k, name: 'eth0', up: false, master: null, peer: { namespace: H, name: 'cnm-va' } });
        expect((await b.getLink(H, 'cnm-va')).peer).toEqual({ namespace: k, name: 'eth0' });
        expect(await b.listAddresses(k, 'eth0')).toEqual([]);
        expect(await b.listRoutes(H)).toEqual([]);
      });

      it('EINVAL for bridges and lo, EEXIST when the name is taken in the target, ENOENT for an unknown target', async () => {
        const k = env.nsKey();
        await b.createNamespace(k);
        await b.createVethPair(k, 'v0', 'v1');
        await b.createBridge(H, 'cnm-br0');
        await b.createVethPair(H, 'cnm-va', 'cnm-vb');
        const before = await snapshot([H, k]);
        expect(await errnoOf(b.moveLink(H, 'cnm-br0', k))).toBe('EINVAL');
        expect(await errnoOf(b.moveLink(k, 'lo', H))).toBe('EINVAL');
        expect(await errnoOf(b.moveLink(H, 'cnm-vb', k, 'v0'))).toBe('EEXIST');
        expect(await errnoOf(b.moveLink(H, 'cnm-vb', env.nsKey()))).toBe('ENOENT');
        expect(await snapshot([H, k])).toEqual(before);
      });

      it('to the same namespace: a no-op that still renames', async () => {
        await b.createVethPair(H, 'cnm-va', 'cnm-vb');
        await b.moveLink(H, 'cnm-vb', H);
        await b.moveLink(H, 'cnm-vb', H, 'cnm-vc');
        expect(names(await b.listLinks(H)).filter((n) => n.startsWith('cnm-')).sort()).toEqual(['cnm-va', 'cnm-vc']);
      });
    });

    describe('addresses', () => {
      it('lists as added; EEXIST twice; EADDRNOTAVAIL when absent; EINVAL when malformed', async () => {
        await b.createBridge(H, 'cnm-br0');
        await b.addAddress(H, 'cnm-br0', '10.30.0.1/24');
        await b.addAddress(H, 'cnm-br0', 'fd30::1/64');
        expect(await b.listAddresses(H, 'cnm-br0')).toEqual([
          { link: 'cnm-br0', cidr: '10.30.0.1/24', family: 4 },
          { link: 'cnm-br0', cidr: 'fd30::1/64', family: 6 },
        ]);
        const before = await snapshot([H]);
        expect(await errnoOf(b.addAddress(H, 'cnm-br0', '10.30.0.1/24'))).toBe('EEXIST');
        expect(await errnoOf(b.deleteAddress(H, 'cnm-br0', '10.30.0.9/24'))).toBe('EADDRNOTAVAIL');
        expect(await errnoOf(b.addAddress(H, 'cnm-br0', '10.30.0.300/24'))).toBe('EINVAL');
        expect(await errnoOf(b.addAddress(H, 'cnm-br0', '10.30.0.2/33'))).toBe('EINVAL');
        expect(await errnoOf(b.addAddress(H, 'cnm-nope', '10.30.0.2/24'))).toBe('ENODEV');
        expect(await snapshot([H])).toEqual(before);
        await b.deleteAddress(H, 'cnm-br0', '10.30.0.1/24');
        expect(await b.listAddresses(H, 'cnm-br0')).toEqual([{ link: 'cnm-br0', cidr: 'fd30::1/64', family: 6 }]);
      });

      it('an up link gets connected routes; down drops them and the IPv6 addresses', async () => {
        const k = env.nsKey();
        await b.createNamespace(k);
        await b.createVethPair(k, 'v0', 'v1');
        await b.addAddress(k, 'v0', '10.31.0.5/24');
        await b.addAddress(k, 'v0', 'fd31::5/64');
        expect(await b.listRoutes(k)).toEqual([]);
        await b.setLinkUp(k, 'v0');
        expect(await b.listRoutes(k)).toEqual([
          { family: 4, destination: '10.31.0.0/24', gateway: null, dev: 'v0', metric: 0, protocol: 'kernel', scope: 'link', source: '10.31.0.5', onlink: false },
          { family: 6, destination: 'fd31::/64', gateway: null, dev: 'v0', metric: 256, protocol: 'kernel', scope: 'global', source: null, onlink: false },
        ]);
        await b.setLinkDown(k, 'v0');
        expect(await b.listRoutes(k)).toEqual([]);
        expect(await b.listAddresses(k, 'v0')).toEqual([{ link: 'v0', cidr: '10.31.0.5/24', family: 4 }]);
      });

      it('lo up gets 127.0.0.1/8 and ::1/128', async () => {
        const k = env.nsKey();
        await b.createNamespace(k);
        await b.setLinkUp(k, 'lo');
        expect(await b.listAddresses(k)).toEqual([
          { link: 'lo', cidr: '127.0.0.1/8', family: 4 },
          { link: 'lo', cidr: '::1/128', family: 6 },
        ]);
      });
    });

    describe('routes', () => {
      async function upLink(k: string): Promise<void> {
        await b.createNamespace(k);
        await b.createVethPair(k, 'v0', 'v1');
        await b.addAddress(k, 'v0', '10.40.0.2/24');
        await b.addAddress(k, 'v0', 'fd40::2/64');
        await b.setLinkUp(k, 'v0');
      }

      it('default route through the gateway; EEXIST twice; ESRCH to delete what is not there', async () => {
        const k = env.nsKey();
        await upLink(k);
        await b.addRoute(k, { destination: '0.0.0.0/0', gateway: '10.40.0.1' });
        await b.addRoute(k, { destination: '::/0', gateway: 'fd40::1', dev: 'v0' });
        const r = await b.listRoutes(k);
        expect(r.find((x) => x.destination === '0.0.0.0/0')).toEqual({ family: 4, destination: '0.0.0.0/0', gateway: '10.40.0.1', dev: 'v0', metric: 0, protocol: 'static', scope: 'global', source: null, onlink: false });
        expect(r.find((x) => x.destination === '::/0')).toMatchObject({ family: 6, gateway: 'fd40::1', dev: 'v0', metric: 1024, protocol: 'static' });
        expect(await errnoOf(b.addRoute(k, { destination: '0.0.0.0/0', gateway: '10.40.0.1' }))).toBe('EEXIST');
        await b.deleteRoute(k, { destination: '0.0.0.0/0', gateway: '10.40.0.1' });
        expect(await errnoOf(b.deleteRoute(k, { destination: '0.0.0.0/0', gateway: '10.40.0.1' }))).toBe('ESRCH');
        expect((await b.listRoutes(k, 4)).map((x) => x.destination)).toEqual(['10.40.0.0/24']);
      });

      it('unreachable gateways: ENETUNREACH (IPv4), EHOSTUNREACH (IPv6); ENETDOWN on a down dev; EINVAL for host bits', async () => {
        const k = env.nsKey();
        await upLink(k);
        const before = await snapshot([k]);
        expect(await errnoOf(b.addRoute(k, { destination: '10.50.0.0/16', gateway: '10.99.0.1' }))).toBe('ENETUNREACH');
        expect(await errnoOf(b.addRoute(k, { destination: 'fd50::/64', gateway: 'fd99::1', dev: 'v0' }))).toBe('EHOSTUNREACH');
        expect(await errnoOf(b.addRoute(k, { destination: '10.50.0.0/16', dev: 'v1' }))).toBe('ENETDOWN');
        expect(await errnoOf(b.addRoute(k, { destination: '10.50.0.1/16', dev: 'v0' }))).toBe('EINVAL');
        expect(await errnoOf(b.addRoute(k, { destination: '10.50.0.0/16', dev: 'v9' }))).toBe('ENODEV');
        expect(await snapshot([k])).toEqual(before);
      });

      it('on-link and onlink routes; setLinkDown removes static routes through the link', async () => {
        const k = env.nsKey();
        await upLink(k);
        await b.addRoute(k, { destination: '10.60.0.0/16', dev: 'v0' });
        await b.addRoute(k, { destination: '10.61.0.0/16', gateway: '10.99.0.1', dev: 'v0', onlink: true });
        const r = await b.listRoutes(k, 4);
        expect(r.find((x) => x.destination === '10.60.0.0/16')).toMatchObject({ gateway: null, scope: 'link', protocol: 'static', onlink: false });
        expect(r.find((x) => x.destination === '10.61.0.0/16')).toMatchObject({ gateway: '10.99.0.1', onlink: true, scope: 'global' });
        await b.setLinkDown(k, 'v0');
        expect(await b.listRoutes(k)).toEqual([]);
      });
    });
  });
}
