/** Kernel rules of the virtual backend, one by one, including the errno each violation gets. */
import { beforeEach, describe, expect, it } from 'vitest';
import { BackendError, HOST_NAMESPACE, isBackendError, linkNameProblem, type Errno } from '../../src/backend/index.js';
import { VirtualBackend, diffSnapshots } from '../../src/backend/virtual/index.js';
import { errnoOf } from '../helpers/outcome.js';

const H = HOST_NAMESPACE;
const SB = '/var/run/docker/netns/abc123';

let b: VirtualBackend;
beforeEach(() => {
  b = new VirtualBackend();
});

/** Every failing call must leave the model exactly as it was. */
async function failsCleanly(p: () => Promise<unknown>, errno: Errno): Promise<void> {
  const before = b.snapshot();
  expect(await errnoOf(p())).toBe(errno);
  expect(diffSnapshots(before, b.snapshot())).toEqual([]);
  expect(b.checkInvariants()).toEqual([]);
}

describe('initial state', () => {
  it('has the host namespace with lo up and its loopback addresses', async () => {
    expect(await b.listNamespaces()).toEqual([H]);
    const [lo] = await b.listLinks(H);
    expect(lo).toMatchObject({ name: 'lo', index: 1, kind: 'loopback', up: true, mtu: 65536, mac: '00:00:00:00:00:00' });
    expect((await b.listAddresses(H)).map((a) => a.cidr)).toEqual(['127.0.0.1/8', '::1/128']);
    expect(await b.listRoutes(H)).toEqual([]);
    expect(b.checkInvariants()).toEqual([]);
  });

  it('a new namespace holds lo, down, without addresses, until set up', async () => {
    await b.createNamespace(SB);
    expect(await b.listLinks(SB)).toMatchObject([{ name: 'lo', up: false }]);
    expect(await b.listAddresses(SB)).toEqual([]);
    await b.setLinkUp(SB, 'lo');
    expect((await b.listAddresses(SB, 'lo')).map((a) => a.cidr)).toEqual(['127.0.0.1/8', '::1/128']);
  });
});

describe('namespaces', () => {
  it('EEXIST, ENOENT, EPERM, EINVAL', async () => {
    await b.createNamespace(SB);
    await failsCleanly(() => b.createNamespace(SB), 'EEXIST');
    await failsCleanly(() => b.createNamespace(''), 'EINVAL');
    await failsCleanly(() => b.deleteNamespace('/nope'), 'ENOENT');
    await failsCleanly(() => b.deleteNamespace(H), 'EPERM');
    await failsCleanly(() => b.createBridge('/nope', 'cnm-br'), 'ENOENT');
    await failsCleanly(() => b.listLinks('/nope'), 'ENOENT');
  });

  it('deleting a namespace deletes its links and the peers of its veths elsewhere', async () => {
    await b.createNamespace(SB);
    await b.createVethPair(H, 'cnm-h1', 'cnm-c1');
    await b.moveLink(H, 'cnm-c1', SB, 'eth0');
    await b.createDummy(SB, 'dummy0');
    await b.deleteNamespace(SB);
    expect(await b.listNamespaces()).toEqual([H]);
    expect(await errnoOf(b.getLink(H, 'cnm-h1'))).toBe('ENODEV');
    expect(b.checkInvariants()).toEqual([]);
  });
});

describe('link names (dev_valid_name)', () => {
  it('accepts up to 15 bytes, counts UTF-8 bytes', () => {
    expect(linkNameProblem('a'.repeat(15))).toBeNull();
    expect(linkNameProblem('a'.repeat(16))).not.toBeNull();
    expect(linkNameProblem('é'.repeat(7))).toBeNull(); // 14 bytes
    expect(linkNameProblem('é'.repeat(8))).not.toBeNull(); // 16 bytes
    expect(linkNameProblem('a\u00a0b')).toBeNull(); // not ASCII whitespace for the kernel
  });

  it.each(['', '.', '..', 'a/b', 'a:b', 'a b', 'a\tb', 'a\nb', 'a\u000bb', 'a\fb', 'a\rb', 'a\0b', 'x'.repeat(16), 'a%b', 'a%d%d'])(
    'rejects %j with EINVAL',
    async (name) => {
      await failsCleanly(() => b.createDummy(H, name), 'EINVAL');
    },
  );

  it('names are unique per namespace, not across namespaces', async () => {
    await b.createDummy(H, 'd0');
    await failsCleanly(() => b.createDummy(H, 'd0'), 'EEXIST');
    await failsCleanly(() => b.createBridge(H, 'lo'), 'EEXIST');
    await b.createNamespace(SB);
    await b.createDummy(SB, 'd0');
    expect((await b.getLink(SB, 'd0')).namespace).toBe(SB);
  });

  it('expands a %d template to the lowest free number', async () => {
    expect((await b.createDummy(H, 'eth%d')).name).toBe('eth0');
    expect((await b.createDummy(H, 'eth%d')).name).toBe('eth1');
    await b.deleteLink(H, 'eth0');
    expect((await b.createDummy(H, 'eth%d')).name).toBe('eth0');
    await failsCleanly(() => b.createDummy(H, 'abcdefghijklmn%d'), 'EINVAL'); // the template itself is 16 bytes
  });

  it('a template whose expansion exceeds 15 bytes is EINVAL', async () => {
    for (let i = 0; i < 100; i++) await b.createDummy(H, 'abcdefghijklm%d');
    expect((await b.getLink(H, 'abcdefghijklm99')).kind).toBe('dummy');
    await failsCleanly(() => b.createDummy(H, 'abcdefghijklm%d'), 'EINVAL');
  });
});

describe('veth pairs', () => {
  it('creates both ends down in one namespace, peers pointing at each other', async () => {
    const [a, p] = await b.createVethPair(H, 'cnm-h1', 'cnm-c1', { mtu: 1450, peerMac: '02:00:00:00:00:01' });
    expect(a).toMatchObject({ kind: 'veth', up: false, mtu: 1450, peer: { namespace: H, name: 'cnm-c1' } });
    expect(p).toMatchObject({ kind: 'veth', up: false, mtu: 1450, mac: '02:00:00:00:00:01', peer: { namespace: H, name: 'cnm-h1' } });
    expect(p.index).toBeLessThan(a.index); // the kernel registers the peer first
  });

  it('a pair failing on its own name still spends the peer ifindex (Linux 6.18)', async () => {
    await failsCleanly(() => b.createVethPair(H, 'v0', 'v0'), 'EEXIST');
    const [, p] = await b.createVethPair(H, 'v1', 'v2');
    expect(p.index).toBe(3); // lo is 1, the failed peer took 2
  });

  it('same name twice or a taken peer name is EEXIST', async () => {
    await failsCleanly(() => b.createVethPair(H, 'v0', 'v0'), 'EEXIST');
    await b.createDummy(H, 'taken');
    await failsCleanly(() => b.createVethPair(H, 'v0', 'taken'), 'EEXIST');
    await failsCleanly(() => b.createVethPair(H, 'taken', 'v1'), 'EEXIST');
  });

  it('deleting either end deletes the pair, wherever the peer is', async () => {
    await b.createVethPair(H, 'a0', 'b0');
    await b.deleteLink(H, 'b0');
    expect(await errnoOf(b.getLink(H, 'a0'))).toBe('ENODEV');
    await b.createNamespace(SB);
    await b.createVethPair(H, 'a1', 'b1');
    await b.moveLink(H, 'b1', SB);
    await b.deleteLink(H, 'a1');
    expect(await b.listLinks(SB)).toHaveLength(1);
    expect(b.checkInvariants()).toEqual([]);
  });

  it('lo cannot be deleted (EOPNOTSUPP); missing links are ENODEV', async () => {
    await failsCleanly(() => b.deleteLink(H, 'lo'), 'EOPNOTSUPP');
    await failsCleanly(() => b.deleteLink(H, 'nope'), 'ENODEV');
    await failsCleanly(() => b.setLinkUp(H, 'nope'), 'ENODEV');
    await failsCleanly(() => b.getLink(H, 'nope'), 'ENODEV');
  });
});

describe('MTU and MAC', () => {
  it('veth checks the link MAC and MTU before the peer MAC (veth_validate)', async () => {
    await failsCleanly(() => b.createVethPair(H, 'a', 'b', { mtu: 67, peerMac: '01:00:00:00:00:01' }), 'EINVAL');
    await failsCleanly(() => b.createVethPair(H, 'a', 'b', { mac: '01:00:00:00:00:01', mtu: 67 }), 'EADDRNOTAVAIL');
  });

  it('MTU bounds 68..65535 (EINVAL)', async () => {
    await failsCleanly(() => b.createBridge(H, 'br', { mtu: 67 }), 'EINVAL');
    await failsCleanly(() => b.createVethPair(H, 'a', 'b', { mtu: 65536 }), 'EINVAL');
    await failsCleanly(() => b.createVethPair(H, 'a', 'b', { peerMtu: 10 }), 'EINVAL');
    await b.createDummy(H, 'd', { mtu: 68 });
    await failsCleanly(() => b.setMtu(H, 'd', 1.5), 'EINVAL');
    await b.setMtu(H, 'd', 65535);
    expect((await b.getLink(H, 'd')).mtu).toBe(65535);
  });

  it('MAC: malformed EINVAL, multicast or zero EADDRNOTAVAIL, stored lower case', async () => {
    await failsCleanly(() => b.createDummy(H, 'd', { mac: '02:00:00:00:00' }), 'EINVAL');
    await failsCleanly(() => b.createDummy(H, 'd', { mac: 'zz:00:00:00:00:00' }), 'EINVAL');
    await failsCleanly(() => b.createDummy(H, 'd', { mac: '01:00:5e:00:00:01' }), 'EADDRNOTAVAIL');
    await failsCleanly(() => b.createDummy(H, 'd', { mac: '00:00:00:00:00:00' }), 'EADDRNOTAVAIL');
    await b.createDummy(H, 'd', { mac: '02:AB:00:00:00:01' });
    expect((await b.getLink(H, 'd')).mac).toBe('02:ab:00:00:00:01');
    await failsCleanly(() => b.setMac(H, 'd', 'ff:ff:ff:ff:ff:ff'), 'EADDRNOTAVAIL');
    await b.setMac(H, 'lo', '02:00:00:00:00:01'); // the kernel lets lo change its MAC
  });

  it('generated MACs are unicast, locally administered and deterministic per seed', async () => {
    const other = new VirtualBackend({ seed: 1 });
    const x = await b.createDummy(H, 'd');
    const y = await other.createDummy(H, 'd');
    expect(x.mac).toBe(y.mac);
    const first = parseInt(x.mac.slice(0, 2), 16);
    expect(first & 1).toBe(0);
    expect(first & 2).toBe(2);
    const z = await new VirtualBackend({ seed: 2 }).createDummy(H, 'd');
    expect(z.mac).not.toBe(x.mac);
  });
});

describe('bridges', () => {
  beforeEach(async () => {
    await b.createBridge(H, 'br0');
    await b.createVethPair(H, 'a', 'b', { mtu: 1400 });
  });

  it('enslaves and releases ports; same master twice is a no-op', async () => {
    await b.setMaster(H, 'a', 'br0');
    await b.setMaster(H, 'a', 'br0');
    expect((await b.getLink(H, 'a')).master).toBe('br0');
    await b.setMaster(H, 'a', null);
    await b.setMaster(H, 'a', null);
    expect((await b.getLink(H, 'a')).master).toBeNull();
  });

  it('rules: non-bridge master EOPNOTSUPP, bridge port ELOOP, lo EINVAL, missing master ENODEV', async () => {
    await b.createDummy(H, 'd');
    await failsCleanly(() => b.setMaster(H, 'a', 'd'), 'EOPNOTSUPP');
    await b.createBridge(H, 'br1');
    await failsCleanly(() => b.setMaster(H, 'br1', 'br0'), 'ELOOP');
    await failsCleanly(() => b.setMaster(H, 'br0', 'br0'), 'ELOOP');
    await failsCleanly(() => b.setMaster(H, 'lo', 'br0'), 'EINVAL');
    await failsCleanly(() => b.setMaster(H, 'a', 'nobr'), 'ENODEV');
  });

  it('a port of one bridge moves to another (ip link set master)', async () => {
    await b.createBridge(H, 'br1');
    await b.setMaster(H, 'a', 'br0');
    await b.setMaster(H, 'a', 'br1');
    expect((await b.getLink(H, 'a')).master).toBe('br1');
  });

  it('auto MTU follows the smallest port until the user sets it', async () => {
    await b.setMaster(H, 'a', 'br0');
    expect((await b.getLink(H, 'br0')).mtu).toBe(1400);
    await b.setMtu(H, 'a', 1300);
    expect((await b.getLink(H, 'br0')).mtu).toBe(1300);
    await b.setMaster(H, 'a', null);
    expect((await b.getLink(H, 'br0')).mtu).toBe(1500);
    await b.setMtu(H, 'br0', 9000);
    await b.setMaster(H, 'a', 'br0');
    expect((await b.getLink(H, 'br0')).mtu).toBe(9000);
  });

  it('an MTU given at creation or set to the unchanged value does not pin it (checked on Linux 6.18)', async () => {
    await b.createBridge(H, 'br1', { mtu: 1400 });
    await b.setMtu(H, 'br1', 1400);
    await b.setMaster(H, 'a', 'br1');
    await b.setMaster(H, 'a', null);
    expect((await b.getLink(H, 'br1')).mtu).toBe(1500);
    await b.setMtu(H, 'br1', 1400);
    await b.setMaster(H, 'a', 'br1');
    await b.setMaster(H, 'a', null);
    expect((await b.getLink(H, 'br1')).mtu).toBe(1400);
  });

  it('a bridge without a set MAC takes its lowest port MAC, and zeros when the last leaves (Linux 6.18)', async () => {
    await b.setMac(H, 'a', '02:00:00:00:00:09');
    await b.setMac(H, 'b', '02:00:00:00:00:01');
    await b.setMaster(H, 'a', 'br0');
    expect((await b.getLink(H, 'br0')).mac).toBe('02:00:00:00:00:09');
    await b.setMaster(H, 'b', 'br0');
    expect((await b.getLink(H, 'br0')).mac).toBe('02:00:00:00:00:01');
    await b.setMac(H, 'b', '02:00:00:00:00:0f');
    expect((await b.getLink(H, 'br0')).mac).toBe('02:00:00:00:00:09');
    await b.setMaster(H, 'b', null);
    await b.deleteLink(H, 'a');
    expect((await b.getLink(H, 'br0')).mac).toBe('00:00:00:00:00:00');
    expect(b.checkInvariants()).toEqual([]);
  });

  it('a MAC given at creation or set later sticks', async () => {
    await b.createBridge(H, 'br1', { mac: '02:11:00:00:00:01' });
    await b.setMaster(H, 'a', 'br1');
    expect((await b.getLink(H, 'br1')).mac).toBe('02:11:00:00:00:01');
    await b.setMaster(H, 'a', 'br0');
    await b.setMac(H, 'br0', '02:22:00:00:00:01');
    await b.setMaster(H, 'a', null);
    expect((await b.getLink(H, 'br0')).mac).toBe('02:22:00:00:00:01');
  });

  it('deleting a bridge releases its ports; bridges cannot change namespace', async () => {
    await b.setMaster(H, 'a', 'br0');
    await b.createNamespace(SB);
    await failsCleanly(() => b.moveLink(H, 'br0', SB), 'EINVAL');
    await failsCleanly(() => b.moveLink(H, 'lo', SB), 'EINVAL');
    await b.deleteLink(H, 'br0');
    expect((await b.getLink(H, 'a')).master).toBeNull();
    expect(b.checkInvariants()).toEqual([]);
  });
});

describe('moving and renaming', () => {
  beforeEach(async () => {
    await b.createNamespace(SB);
    await b.createBridge(H, 'br0');
    await b.createVethPair(H, 'cnm-h1', 'cnm-c1');
    await b.setMaster(H, 'cnm-c1', 'br0');
    await b.addAddress(H, 'cnm-c1', '10.0.0.2/24');
    await b.setLinkUp(H, 'cnm-c1');
  });

  it('arrives down, without master, addresses or routes, renamed (DstPrefix+index)', async () => {
    expect(await b.listRoutes(H)).toHaveLength(1);
    await b.moveLink(H, 'cnm-c1', SB, 'eth0');
    const l = await b.getLink(SB, 'eth0');
    expect(l).toMatchObject({ namespace: SB, up: false, master: null, peer: { namespace: H, name: 'cnm-h1' } });
    expect(await b.listAddresses(SB, 'eth0')).toEqual([]);
    expect(await b.listRoutes(H)).toEqual([]);
    expect((await b.getLink(H, 'cnm-h1')).peer).toEqual({ namespace: SB, name: 'eth0' });
    expect(b.checkInvariants()).toEqual([]);
  });

  it('keeps the ifindex when free in the target, else allocates', async () => {
    const idx = (await b.getLink(H, 'cnm-c1')).index;
    await b.moveLink(H, 'cnm-c1', SB, 'eth0');
    expect((await b.getLink(SB, 'eth0')).index).toBe(idx);
    await b.createVethPair(H, 'x0', 'x1');
    await b.createDummy(SB, 'd%d'); // takes index 2 in SB
    const x1 = await b.getLink(H, 'x1');
    const sbIdx = (await b.listLinks(SB)).map((l) => l.index);
    await b.moveLink(H, 'x1', SB);
    const moved = await b.getLink(SB, 'x1');
    if (sbIdx.includes(x1.index)) expect(moved.index).not.toBe(x1.index);
    expect(new Set((await b.listLinks(SB)).map((l) => l.index)).size).toBe(4);
  });

  it('name taken in the target is EEXIST; unknown target ENOENT; a template picks a free name', async () => {
    await b.createDummy(SB, 'eth0');
    await failsCleanly(() => b.moveLink(H, 'cnm-c1', SB, 'eth0'), 'EEXIST');
    await failsCleanly(() => b.moveLink(H, 'cnm-c1', '/nope'), 'ENOENT');
    await b.createDummy(SB, 'cnm-c1');
    await failsCleanly(() => b.moveLink(H, 'cnm-c1', SB), 'EEXIST');
    await b.moveLink(H, 'cnm-c1', SB, 'eth%d');
    expect((await b.getLink(SB, 'eth1')).kind).toBe('veth');
  });

  it('moves back to the host with the original name', async () => {
    await b.moveLink(H, 'cnm-c1', SB, 'eth0');
    await b.moveLink(SB, 'eth0', H, 'cnm-c1');
    expect((await b.getLink(H, 'cnm-c1')).namespace).toBe(H);
  });

  it('rename: EBUSY while up only on old kernels (liveRename: false)', async () => {
    const old = new VirtualBackend({ liveRename: false });
    await old.createDummy(H, 'd0');
    await old.setLinkUp(H, 'd0');
    expect(await errnoOf(old.renameLink(H, 'd0', 'd1'))).toBe('EBUSY');
    await b.renameLink(H, 'cnm-c1', 'live');
    expect((await b.getLink(H, 'live')).up).toBe(true);
    await b.renameLink(H, 'live', 'cnm-c1');
  });

  it('a bad new name is EINVAL before a missing link is ENODEV (iproute2 parses first)', async () => {
    await failsCleanly(() => b.renameLink(H, 'nope', 'x y'), 'EINVAL');
    await failsCleanly(() => b.moveLink(H, 'nope', SB, 'x y'), 'EINVAL');
    await failsCleanly(() => b.moveLink(H, 'nope', SB, 'fine'), 'ENODEV');
  });

  it('rename: EEXIST when taken, EINVAL for bad names, no-op to the same name', async () => {
    await b.setLinkDown(H, 'cnm-c1');
    await failsCleanly(() => b.renameLink(H, 'cnm-c1', 'cnm-h1'), 'EEXIST');
    await failsCleanly(() => b.renameLink(H, 'cnm-c1', 'bad name'), 'EINVAL');
    await b.renameLink(H, 'cnm-c1', 'cnm-c1');
    await b.renameLink(H, 'cnm-c1', 'renamed');
    expect((await b.getLink(H, 'renamed')).master).toBe('br0');
    expect((await b.getLink(H, 'cnm-h1')).peer?.name).toBe('renamed');
  });

  it('moving within the same namespace only renames', async () => {
    await b.setLinkDown(H, 'cnm-c1');
    await b.moveLink(H, 'cnm-c1', H, 'other');
    expect((await b.getLink(H, 'other')).master).toBe('br0');
  });
});

describe('addresses', () => {
  beforeEach(async () => {
    await b.createDummy(H, 'd0');
  });

  it('EINVAL for malformed, EEXIST for duplicates, EADDRNOTAVAIL for missing', async () => {
    for (const bad of ['10.0.0.1/33', '10.0.0/24', 'fd00::1/129', 'x', '10.0.0.1/', '010.0.0.1/8', 'fe80::1%eth0/64']) {
      await failsCleanly(() => b.addAddress(H, 'd0', bad), 'EINVAL');
    }
    await b.addAddress(H, 'd0', '10.0.0.1/24');
    await failsCleanly(() => b.addAddress(H, 'd0', '10.0.0.1/24'), 'EEXIST');
    await b.addAddress(H, 'd0', '10.0.0.1/16'); // IPv4: same IP, other prefix is another address
    await b.addAddress(H, 'd0', 'fd00::1/64');
    await failsCleanly(() => b.addAddress(H, 'd0', 'fd00::1/80'), 'EEXIST'); // IPv6: same IP is a duplicate
    await failsCleanly(() => b.deleteAddress(H, 'd0', '10.0.0.9/24'), 'EADDRNOTAVAIL');
    await failsCleanly(() => b.deleteAddress(H, 'd0', '10.0.0.1/25'), 'EADDRNOTAVAIL');
    await failsCleanly(() => b.addAddress(H, 'nope', '10.0.0.1/24'), 'ENODEV');
  });

  it('lists in the kernel order: IPv4 primaries by scope, secondaries last; IPv6 global first, newest first (Linux 6.18)', async () => {
    for (const c of ['10.0.0.1/24', '10.0.0.2/24', '10.1.0.1/24', '127.0.0.5/8', 'fd00::1/64', 'fd00::2/64', 'fe80::5/64', 'fd01::1/64']) await b.addAddress(H, 'd0', c);
    expect((await b.listAddresses(H, 'd0')).map((a) => a.cidr)).toEqual([
      '127.0.0.5/8',
      '10.0.0.1/24',
      '10.1.0.1/24',
      '10.0.0.2/24',
      'fd01::1/64',
      'fd00::2/64',
      'fd00::1/64',
      'fe80::5/64',
    ]);
  });

  it('MTU below 68 turns IPv4 off (addresses gone, ENOBUFS to add); lo takes any MTU up to 2^31-1', async () => {
    await b.setMtu(H, 'lo', 60);
    expect(await b.listAddresses(H, 'lo')).toEqual([]);
    await failsCleanly(() => b.addAddress(H, 'lo', '10.3.0.1/24'), 'ENOBUFS');
    await b.setMtu(H, 'lo', 0x7fffffff);
    await failsCleanly(() => b.setMtu(H, 'lo', 0x80000000), 'EINVAL');
    await b.setLinkDown(H, 'lo');
    await b.setLinkUp(H, 'lo');
    expect((await b.listAddresses(H, 'lo')).map((a) => a.cidr)).toEqual(['127.0.0.1/8', '::1/128']);
  });

  it('a bare IP is /32 or /128 (iproute2)', async () => {
    await b.addAddress(H, 'd0', '10.1.1.1');
    await b.addAddress(H, 'd0', 'fd00::0001');
    expect((await b.listAddresses(H, 'd0')).map((a) => a.cidr)).toEqual(['10.1.1.1/32', 'fd00::1/128']);
  });

  it('the same address on two links is allowed', async () => {
    await b.createDummy(H, 'd1');
    await b.addAddress(H, 'd0', '10.0.0.1/24');
    await b.addAddress(H, 'd1', '10.0.0.1/24');
    expect(await b.listAddresses(H)).toHaveLength(4);
  });

  it('connected routes exist only while up; /32 has none', async () => {
    await b.addAddress(H, 'd0', '10.0.0.1/24');
    await b.addAddress(H, 'd0', '10.9.9.9/32');
    expect(await b.listRoutes(H)).toEqual([]);
    await b.setLinkUp(H, 'd0');
    expect(await b.listRoutes(H)).toEqual([
      { family: 4, destination: '10.0.0.0/24', gateway: null, dev: 'd0', metric: 0, protocol: 'kernel', scope: 'link', source: '10.0.0.1', onlink: false },
    ]);
    await b.setLinkDown(H, 'd0');
    expect(await b.listRoutes(H)).toEqual([]);
  });

  it('deleting an IPv4 primary deletes its secondaries (promote_secondaries=0)', async () => {
    await b.setLinkUp(H, 'd0');
    await b.addAddress(H, 'd0', '10.0.0.1/24');
    await b.addAddress(H, 'd0', '10.0.0.2/24');
    await b.addAddress(H, 'd0', '10.1.0.1/24');
    await b.deleteAddress(H, 'd0', '10.0.0.2/24');
    expect((await b.listAddresses(H, 'd0')).map((a) => a.cidr)).toEqual(['10.0.0.1/24', '10.1.0.1/24']);
    await b.addAddress(H, 'd0', '10.0.0.2/24');
    await b.deleteAddress(H, 'd0', '10.0.0.1/24');
    expect((await b.listAddresses(H, 'd0')).map((a) => a.cidr)).toEqual(['10.1.0.1/24']);
    expect((await b.listRoutes(H)).map((r) => r.destination)).toEqual(['10.1.0.0/24']);
  });

  it('IPv6: flushed on down, refused below MTU 1280, dropped when MTU goes below it', async () => {
    await b.addAddress(H, 'd0', 'fd00::1/64');
    await b.setLinkUp(H, 'd0');
    expect(await b.listRoutes(H, 6)).toMatchObject([{ destination: 'fd00::/64', metric: 256, scope: 'global', source: null }]);
    await b.setLinkDown(H, 'd0');
    expect(await b.listAddresses(H, 'd0')).toEqual([]);
    await b.addAddress(H, 'd0', '10.0.0.1/24');
    await b.setLinkDown(H, 'd0');
    expect(await b.listAddresses(H, 'd0')).toHaveLength(1); // IPv4 survives down
    await b.setMtu(H, 'd0', 1279);
    await failsCleanly(() => b.addAddress(H, 'd0', 'fd00::1/64'), 'EINVAL');
    await b.setMtu(H, 'd0', 1500);
    await b.addAddress(H, 'd0', 'fd00::1/64');
    await b.setMtu(H, 'd0', 1200);
    expect((await b.listAddresses(H, 'd0')).map((a) => a.family)).toEqual([4]);
  });
});

describe('routes', () => {
  beforeEach(async () => {
    await b.createDummy(H, 'd0');
    await b.addAddress(H, 'd0', '10.0.0.2/24');
    await b.addAddress(H, 'd0', 'fd00::2/64');
    await b.setLinkUp(H, 'd0');
    await b.createDummy(H, 'down0');
  });

  it('via a reachable gateway (dev deduced), default route', async () => {
    await b.addRoute(H, { destination: '0.0.0.0/0', gateway: '10.0.0.1' });
    await b.addRoute(H, { destination: '::/0', gateway: 'fd00::1' });
    const routes = await b.listRoutes(H);
    expect(routes.find((r) => r.destination === '0.0.0.0/0')).toMatchObject({ gateway: '10.0.0.1', dev: 'd0', scope: 'global', protocol: 'static', metric: 0 });
    expect(routes.find((r) => r.destination === '::/0')).toMatchObject({ gateway: 'fd00::1', dev: 'd0', metric: 1024 });
  });

  it('unreachable gateway: ENETUNREACH (IPv4), EHOSTUNREACH (IPv6), also through the wrong dev', async () => {
    await failsCleanly(() => b.addRoute(H, { destination: '0.0.0.0/0', gateway: '10.1.0.1' }), 'ENETUNREACH');
    await failsCleanly(() => b.addRoute(H, { destination: '::/0', gateway: 'fd01::1' }), 'EHOSTUNREACH');
    await b.createDummy(H, 'd1');
    await b.setLinkUp(H, 'd1');
    await failsCleanly(() => b.addRoute(H, { destination: '0.0.0.0/0', gateway: '10.0.0.1', dev: 'd1' }), 'ENETUNREACH');
    const e = await b.addRoute(H, { destination: '0.0.0.0/0', gateway: '10.1.0.1' }).catch((x: unknown) => x);
    expect(isBackendError(e, 'ENETUNREACH') && e.message).toContain('Nexthop has invalid gateway');
  });

  it('onlink and connected routes, and gateways reached through an on-link route', async () => {
    await b.addRoute(H, { destination: '10.98.0.0/16', dev: 'd0' });
    await b.addRoute(H, { destination: '10.99.0.0/16', gateway: '10.98.0.1' });
    await b.addRoute(H, { destination: '10.97.0.0/16', gateway: '192.0.2.1', dev: 'd0', onlink: true });
    await failsCleanly(() => b.addRoute(H, { destination: '10.96.0.0/16', gateway: '192.0.2.1', onlink: true }), 'EINVAL');
    expect((await b.listRoutes(H, 4)).map((r) => `${r.destination} ${r.scope}`)).toEqual([
      '10.0.0.0/24 link',
      '10.97.0.0/16 global',
      '10.98.0.0/16 link',
      '10.99.0.0/16 global',
    ]);
  });

  it('EEXIST for same destination and metric (connected included), other metric ok', async () => {
    await failsCleanly(() => b.addRoute(H, { destination: '10.0.0.0/24', dev: 'd0' }), 'EEXIST');
    await b.addRoute(H, { destination: '10.0.0.0/24', dev: 'd0', metric: 100 });
    await b.addRoute(H, { destination: '10.5.0.0/16', gateway: '10.0.0.1' });
    await failsCleanly(() => b.addRoute(H, { destination: '10.5.0.0/16', gateway: '10.0.0.3' }), 'EEXIST');
  });

  it('EINVAL for host bits, mixed families, bad metric; ENODEV and ENETDOWN for devs', async () => {
    await failsCleanly(() => b.addRoute(H, { destination: '10.5.0.1/16', gateway: '10.0.0.1' }), 'EINVAL');
    await failsCleanly(() => b.addRoute(H, { destination: '10.5.0.0/16', gateway: 'fd00::1' }), 'EINVAL');
    await failsCleanly(() => b.addRoute(H, { destination: '10.5.0.0/16', gateway: '10.0.0.1', metric: -1 }), 'EINVAL');
    await failsCleanly(() => b.addRoute(H, { destination: 'nonsense', dev: 'd0' }), 'EINVAL');
    await failsCleanly(() => b.addRoute(H, { destination: '10.5.0.0/16' }), 'ENODEV');
    await failsCleanly(() => b.addRoute(H, { destination: '10.5.0.0/16', dev: 'nope' }), 'ENODEV');
    await failsCleanly(() => b.addRoute(H, { destination: '10.5.0.0/16', dev: 'down0' }), 'ENETDOWN');
    await failsCleanly(() => b.addRoute(H, { destination: 'fd05::/64', dev: 'down0' }), 'ENETDOWN');
    // A next hop through a down link is unreachable (the lookup comes first); onlink skips the lookup.
    await failsCleanly(() => b.addRoute(H, { destination: '10.5.0.0/16', gateway: '10.0.0.1', dev: 'down0' }), 'ENETUNREACH');
    await failsCleanly(() => b.addRoute(H, { destination: '10.5.0.0/16', gateway: '10.0.0.1', dev: 'down0', onlink: true }), 'ENETDOWN');
    // IPv4 refuses onlink without a gateway, IPv6 takes it.
    await failsCleanly(() => b.addRoute(H, { destination: '10.5.0.0/16', dev: 'd0', onlink: true }), 'EINVAL');
    await b.addRoute(H, { destination: 'fd07::/64', dev: 'd0', onlink: true });
  });

  it('an IPv6 gateway cannot be a local address (IPv4 may be)', async () => {
    await failsCleanly(() => b.addRoute(H, { destination: 'fd50::/64', gateway: 'fd00::2' }), 'EINVAL');
    await b.addRoute(H, { destination: '10.50.0.0/16', gateway: '10.0.0.2' });
  });

  it('lo: IPv6 prefixes (not ::1) make main-table routes, IPv4 ones do not; down drops IPv6, up brings ::1 back', async () => {
    await b.addAddress(H, 'lo', 'fd00::5/64');
    await b.addAddress(H, 'lo', '10.9.0.1/24');
    expect((await b.listRoutes(H)).filter((r) => r.dev === 'lo').map((r) => r.destination)).toEqual(['fd00::/64']);
    await b.setLinkDown(H, 'lo');
    expect((await b.listAddresses(H, 'lo')).map((a) => a.cidr)).toEqual(['127.0.0.1/8', '10.9.0.1/24']);
    await b.setLinkUp(H, 'lo');
    expect((await b.listAddresses(H, 'lo')).map((a) => a.cidr)).toEqual(['127.0.0.1/8', '10.9.0.1/24', '::1/128']);
  });

  it('lo coming up gets 127.0.0.1/8 first even with other addresses; listing is IPv4 then IPv6', async () => {
    await b.createNamespace(SB);
    await b.addAddress(SB, 'lo', 'fd00::9/64');
    await b.addAddress(SB, 'lo', '10.31.0.5/24');
    await b.setLinkUp(SB, 'lo');
    expect((await b.listAddresses(SB, 'lo')).map((a) => a.cidr)).toEqual(['127.0.0.1/8', '10.31.0.5/24', 'fd00::9/64', '::1/128']);
  });

  it('loopback next hops: IPv4 via a prefix of lo is fine; IPv6 never (Linux 6.18)', async () => {
    await b.addAddress(H, 'lo', '10.77.0.5/24');
    await b.addRoute(H, { destination: '10.78.0.0/16', gateway: '10.77.0.7' });
    expect((await b.listRoutes(H)).find((r) => r.destination === '10.78.0.0/16')!.dev).toBe('lo');
    await b.addRoute(H, { destination: '10.79.0.0/16', gateway: '127.0.0.2', dev: 'lo' });
    await failsCleanly(() => b.addRoute(H, { destination: 'fd05::/64', gateway: 'fe80::1', dev: 'lo' }), 'EINVAL');
    await b.addAddress(H, 'lo', 'fd77::5/64');
    await failsCleanly(() => b.addRoute(H, { destination: 'fd06::/64', gateway: 'fd77::7' }), 'EHOSTUNREACH');
  });

  it('IPv6 link-local gateway needs a dev', async () => {
    await failsCleanly(() => b.addRoute(H, { destination: '::/0', gateway: 'fe80::1' }), 'EINVAL');
    await b.addRoute(H, { destination: '::/0', gateway: 'fe80::1', dev: 'd0' });
  });

  it('delete: fields must match, ESRCH otherwise; connected routes can go too', async () => {
    await b.addRoute(H, { destination: '10.5.0.0/16', gateway: '10.0.0.1' });
    await failsCleanly(() => b.deleteRoute(H, { destination: '10.5.0.0/16', gateway: '10.0.0.9' }), 'ESRCH');
    await failsCleanly(() => b.deleteRoute(H, { destination: '10.5.0.0/16', metric: 7 }), 'ESRCH');
    await failsCleanly(() => b.deleteRoute(H, { destination: '10.6.0.0/16' }), 'ESRCH');
    await failsCleanly(() => b.deleteRoute(H, { destination: '::/0' }), 'ENOENT'); // the IPv6 root's null entry
    await failsCleanly(() => b.deleteRoute(H, { destination: '::/0', dev: 'd0' }), 'ESRCH'); // a filter skips it
    await failsCleanly(() => b.deleteRoute(H, { destination: 'fd05::/64' }), 'ESRCH');
    await failsCleanly(() => b.deleteRoute(H, { destination: '10.5.0.0/16', gateway: 'fd00::1' }), 'EINVAL');
    await b.deleteRoute(H, { destination: '10.5.0.0/16' });
    await b.deleteRoute(H, { destination: '10.0.0.0/24', dev: 'd0' });
    expect(await b.listRoutes(H, 4)).toEqual([]);
  });

  it('routes through a link go when it goes down, moves, is deleted or loses its last address', async () => {
    await b.addRoute(H, { destination: '10.5.0.0/16', gateway: '10.0.0.1' });
    await b.deleteAddress(H, 'd0', '10.0.0.2/24');
    expect(await b.listRoutes(H, 4)).toEqual([]);
    await b.addAddress(H, 'd0', '10.0.0.2/24');
    await b.addRoute(H, { destination: '10.5.0.0/16', gateway: '10.0.0.1' });
    await b.setLinkDown(H, 'd0');
    expect(await b.listRoutes(H)).toEqual([]);
    expect(b.checkInvariants()).toEqual([]);
  });
});

describe('snapshots, diff, render', () => {
  it('diff lists every change and is empty after undoing them', async () => {
    const s0 = b.snapshot();
    await b.createNamespace(SB);
    await b.createBridge(H, 'br0', { mtu: 1450 });
    await b.addAddress(H, 'br0', '10.0.0.1/24');
    await b.setLinkUp(H, 'br0');
    const d = diffSnapshots(s0, b.snapshot());
    expect(d).toContain(`+ ns ${SB}`);
    expect(d.some((l) => l.startsWith('+ link host/') && l.includes('br0 bridge UP mtu 1450'))).toBe(true);
    expect(d).toContain('+ addr host/br0 10.0.0.1/24');
    expect(d.some((l) => l.startsWith('+ route host 10.0.0.0/24 dev br0'))).toBe(true);
    const s1 = b.snapshot();
    await b.setMtu(H, 'br0', 1400);
    expect(diffSnapshots(s1, b.snapshot())).toEqual(['~ link host/br0: mtu 1450 -> 1400']);
    await b.deleteLink(H, 'br0');
    await b.deleteNamespace(SB);
    expect(diffSnapshots(s0, b.snapshot())).toEqual([]);
    expect(b.snapshot()).toEqual(s0);
  });

  it('snapshots are frozen copies', async () => {
    const s = b.snapshot();
    expect(Object.isFrozen(s.namespaces[0].links[0])).toBe(true);
    await b.createDummy(H, 'd');
    expect(s.namespaces[0].links).toHaveLength(1);
  });

  it('render shows namespaces, links with state, addresses and routes', async () => {
    await b.createBridge(H, 'br0', { mac: '02:00:00:00:00:01' });
    await b.addAddress(H, 'br0', '10.0.0.1/24');
    await b.setLinkUp(H, 'br0');
    expect(b.render()).toBe(
      [
        'host',
        '├─ 1: lo loopback UP mtu 65536 00:00:00:00:00:00',
        '│  ├─ 127.0.0.1/8',
        '│  └─ ::1/128',
        '├─ 2: br0 bridge UP mtu 1500 02:00:00:00:00:01',
        '│  └─ 10.0.0.1/24',
        '└─ routes',
        '   └─ 10.0.0.0/24 dev br0 proto kernel scope link src 10.0.0.1 metric 0',
        '',
      ].join('\n'),
    );
  });
});

describe('fault injection', () => {
  it('fails the next matching call with the errno and changes nothing', async () => {
    b.failNext('createBridge', 'ENOSPC');
    await failsCleanly(() => b.createBridge(H, 'br0'), 'ENOSPC');
    await b.createBridge(H, 'br0');
    b.failNext('addAddress', 'EPERM', { times: 2, match: (args) => args[2] === '10.0.0.1/24' });
    await b.addAddress(H, 'br0', '10.0.0.2/24');
    await failsCleanly(() => b.addAddress(H, 'br0', '10.0.0.1/24'), 'EPERM');
    expect(b.pendingFaults()).toBe(1);
    b.clearFaults();
    await b.addAddress(H, 'br0', '10.0.0.1/24');
    expect(() => b.failNext('setMtu', 'EIO', { times: 0 })).toThrow(RangeError);
  });

  it('errors carry op, target, errno and an iproute2-like message', async () => {
    const e = await b.createDummy(H, 'lo').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BackendError);
    const be = e as BackendError;
    expect(be.code).toBe('E_BACKEND');
    expect(be.op).toBe('createDummy');
    expect(be.target).toBe('host/lo');
    expect(be.message).toBe('createDummy host/lo: RTNETLINK answers: File exists');
  });

  it('a closed backend refuses every call', async () => {
    await b.close();
    expect(await errnoOf(b.listNamespaces())).toBe('EIO');
  });
});
