/** The reference driver, endpoint by endpoint and option by option, on the virtual backend. */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_NAMESPACE } from '../../src/backend/index.js';
import { RecordingFirewall, VirtualBackend, diffSnapshots } from '../../src/backend/virtual/index.js';
import {
  DriverError,
  bridgeName,
  createFileStateStore,
  createMemoryStateStore,
  createReferenceDriver,
  openReferenceDriver,
  vethNames,
  type ReferenceDriver,
} from '../../src/driver/index.js';
import type { CallContext } from '../../src/protocol/api.js';
import type * as m from '../../src/protocol/messages.js';
import { createPluginHandler, inject } from '../../src/sdk/index.js';
import { driverCodeOf } from '../helpers/outcome.js';

const H = HOST_NAMESPACE;
const NET = '6eb0'.padEnd(64, 'a');
const NET2 = '7fc1'.padEnd(64, 'b');
const EP = '3c9d'.padEnd(64, 'c');
const EP2 = '4dae'.padEnd(64, 'd');
const SB = '/var/run/docker/netns/0123456789ab';
const ctx: CallContext = { path: '/test', signal: new AbortController().signal };

const root = mkdtempSync(join(tmpdir(), 'cnmkit-driver-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function netReq(id = NET, generic: Record<string, unknown> = {}, extra: Partial<m.CreateNetworkRequest> = {}): m.CreateNetworkRequest {
  return {
    NetworkID: id,
    Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': generic },
    IPv4Data: [{ AddressSpace: 'LocalDefault', Gateway: '10.20.0.1/24', Pool: '10.20.0.0/24' }],
    IPv6Data: [],
    ...extra,
  };
}

function epReq(ep = EP, iface: m.EndpointInterface = { Address: '10.20.0.2/24', AddressIPv6: '', MacAddress: '' }, net = NET): m.CreateEndpointRequest {
  return { NetworkID: net, EndpointID: ep, Interface: iface, Options: { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] } };
}

let b: VirtualBackend;
let d: ReferenceDriver;
beforeEach(() => {
  b = new VirtualBackend();
  d = createReferenceDriver({ backend: b });
});

/** A failing call must leave backend and driver state as they were. */
async function failsCleanly(call: () => Promise<unknown> | unknown, code: string): Promise<string> {
  const snap = b.snapshot();
  const state = JSON.stringify(d.exportState());
  let message = '';
  try {
    await call();
  } catch (e) {
    message = (e as Error).message;
    expect(e).toBeInstanceOf(DriverError);
    expect((e as DriverError).code).toBe(code);
  }
  expect(message).not.toBe('');
  expect(diffSnapshots(snap, b.snapshot())).toEqual([]);
  expect(JSON.stringify(d.exportState())).toBe(state);
  expect(b.checkInvariants()).toEqual([]);
  return message;
}

describe('names', () => {
  it('are owned (cnm-) and exactly 15 bytes, also for non-hex ids', () => {
    for (const n of [bridgeName(NET), bridgeName('k3fz8q2w9x1y7u5t4r6e0p2o1'), ...vethNames(EP), ...vethNames('x'), bridgeName(NET, 1)]) {
      expect(n.startsWith('cnm-')).toBe(true);
      expect(Buffer.byteLength(n)).toBe(15);
    }
    expect(bridgeName(NET)).toBe('cnm-6eb0aaaaaaa');
    expect(vethNames(EP)).toEqual(['cnm-h3c9dcccccc', 'cnm-c3c9dcccccc']);
    expect(bridgeName(NET, 1)).not.toBe(bridgeName(NET));
  });
});

describe('GetCapabilities and GwAllocCheck per profile', () => {
  it('20.10: local scope, no GwAllocChecker, no gwAllocCheck method', () => {
    expect(d.getCapabilities(ctx)).toEqual({ Scope: 'local', ConnectivityScope: 'local' });
    expect(d.gwAllocCheck).toBeUndefined();
  });

  it('moby: advertises GwAllocChecker and never skips gateways; validates options early', async () => {
    const moby = createReferenceDriver({ backend: b, profile: 'moby', scope: 'global', connectivityScope: 'global' });
    expect(moby.getCapabilities(ctx)).toEqual({ Scope: 'global', ConnectivityScope: 'global', GwAllocChecker: true });
    expect(await moby.gwAllocCheck!({ Options: {} }, ctx)).toEqual({ SkipIPv4: false, SkipIPv6: false });
    expect(await driverCodeOf(moby.gwAllocCheck!({ Options: { 'com.docker.network.generic': { 'cnmkit.mtu': 'big' } } }, ctx))).toBe('E_DRIVER_OPTION');
  });

  it('bad construction options are refused', () => {
    expect(() => createReferenceDriver({ backend: b, scope: 'swarm' as m.Scope })).toThrow(DriverError);
    expect(() => createReferenceDriver({ backend: b, profile: 'docker-99' as 'moby' })).toThrow(DriverError);
  });

  it('served by the SDK: GwAllocCheck is 404 in 20.10 and answered in moby', async () => {
    const h20 = createPluginHandler({ driver: d, profile: 'docker-20.10' });
    expect((await inject(h20, '/NetworkDriver.GwAllocCheck', { Options: {} })).status).toBe(404);
    const hm = createPluginHandler({ driver: createReferenceDriver({ backend: b, profile: 'moby' }), profile: 'moby' });
    const r = await inject(hm, '/NetworkDriver.GwAllocCheck', { Options: {} });
    expect(r.json).toEqual({ SkipIPv4: false, SkipIPv6: false });
  });
});

describe('CreateNetwork / DeleteNetwork', () => {
  it('makes an up bridge holding the gateways (IPv4 and IPv6)', async () => {
    await d.createNetwork(
      netReq(NET, {}, { IPv6Data: [{ AddressSpace: 'LocalDefault', Gateway: 'fd20::1/64', Pool: 'fd20::/64' }] }),
      ctx,
    );
    const br = await b.getLink(H, 'cnm-6eb0aaaaaaa');
    expect(br).toMatchObject({ kind: 'bridge', up: true, mtu: 1500 });
    expect((await b.listAddresses(H, br.name)).map((a) => a.cidr)).toEqual(['10.20.0.1/24', 'fd20::1/64']);
    expect(b.checkInvariants()).toEqual([]);
  });

  it('a pool without a gateway puts nothing on the bridge', async () => {
    await d.createNetwork(netReq(NET, {}, { IPv4Data: [{ AddressSpace: 'x', Pool: '10.20.0.0/24' }] }), ctx);
    expect(await b.listAddresses(H, bridgeName(NET))).toEqual([]);
  });

  it('options: bridge name, MTU, internal (both spellings)', async () => {
    await d.createNetwork(netReq(NET, { 'com.docker.network.bridge.name': 'cnm-mybr', 'com.docker.network.driver.mtu': '1450' }), ctx);
    expect(await b.getLink(H, 'cnm-mybr')).toMatchObject({ mtu: 1450 });
    await d.createNetwork(netReq(NET2, { 'cnmkit.bridge.name': 'cnm-other', 'cnmkit.mtu': '9000', 'cnmkit.internal': 'true' }), ctx);
    expect(d.getNetwork(NET2)).toMatchObject({ bridge: 'cnm-other', mtu: 9000, internal: true });
  });

  it.each([
    [{ 'cnmkit.mtu': '67' }, /outside 68..65535/],
    [{ 'cnmkit.mtu': '1500x' }, /not an integer/],
    [{ 'com.docker.network.driver.mtu': '65536' }, /outside/],
    [{ 'cnmkit.bridge.name': 'br0' }, /must start with "cnm-"/],
    [{ 'cnmkit.bridge.name': 'cnm-waytoolongname' }, /not a valid interface name/],
    [{ 'cnmkit.bridge.name': 'cnm-a b' }, /not a valid interface name/],
    [{ 'cnmkit.bridge.name': 'cnm-%d' }, /not a valid interface name/],
    [{ 'cnmkit.bridge.name': 'cnm-a', 'com.docker.network.bridge.name': 'cnm-b' }, /disagree/],
    [{ 'cnmkit.internal': 'maybe' }, /expected true or false/],
    [{ 'cnmkit.nonsense': '1' }, /unknown option cnmkit.nonsense/],
    [{ 'cnmkit.dst-prefix': 'a/b' }, /not a valid interface name prefix/],
    [{ 'cnmkit.dst-prefix': 'abcdefghijklmn' }, /not a valid interface name prefix/],
    [{ 'cnmkit.static-routes': '10.99.0.1/16 via 10.20.0.1' }, /host bits/],
    [{ 'cnmkit.static-routes': '10.99.0.0/16 via 10.30.0.1' }, /none of the network's subnets/],
    [{ 'cnmkit.static-routes': '10.99.0.0/16 via fd00::1' }, /not an IPv4 address/],
    [{ 'cnmkit.static-routes': 'garbage here' }, /expected "DEST\[ via NEXTHOP\]"/],
    [{ 'cnmkit.mtu': { nested: 1 } }, /expected a string/],
  ])('rejects %j with a clear error and no trace', async (generic, text) => {
    const msg = await failsCleanly(() => d.createNetwork(netReq(NET, generic), ctx), 'E_DRIVER_OPTION');
    expect(msg).toMatch(text);
  });

  it('ignores foreign unknown options', async () => {
    await d.createNetwork(netReq(NET, { dopt: 'dval', 'com.docker.network.bridge.enable_icc': 'true' }), ctx);
    expect(d.networkIds()).toEqual([NET]);
  });

  it.each([
    [{ IPv4Data: [{ AddressSpace: 'x', Pool: 'nope' }] }, /IPv4Data\[0\].Pool/],
    [{ IPv4Data: [{ AddressSpace: 'x', Pool: 'fd00::/64' }] }, /IPv4Data\[0\].Pool: expected an IPv4 CIDR/],
    [{ IPv4Data: [{ AddressSpace: 'x', Pool: '10.0.0.0/24', Gateway: '10.1.0.1/24' }] }, /outside the pool/],
    [{ IPv6Data: [{ AddressSpace: 'x', Pool: '10.0.0.0/24' }] }, /IPv6Data\[0\].Pool/],
    [{ NetworkID: '' }, /NetworkID must be a non-empty string/],
  ])('rejects bad request fields %j', async (extra, text) => {
    const msg = await failsCleanly(() => d.createNetwork({ ...netReq(), ...extra }, ctx), 'E_DRIVER_REQUEST');
    expect(msg).toMatch(text);
  });

  it('MTU below 1280 with IPv6 is refused', async () => {
    const req = netReq(NET, { 'cnmkit.mtu': '1200' }, { IPv6Data: [{ AddressSpace: 'x', Pool: 'fd00::/64', Gateway: 'fd00::1/64' }] });
    expect(await failsCleanly(() => d.createNetwork(req, ctx), 'E_DRIVER_OPTION')).toMatch(/minimum for IPv6/);
  });

  it('a retried identical CreateNetwork succeeds; a different one conflicts', async () => {
    await d.createNetwork(netReq(), ctx);
    await d.createNetwork(netReq(), ctx);
    await failsCleanly(() => d.createNetwork(netReq(NET, { 'cnmkit.mtu': '1400' }), ctx), 'E_DRIVER_CONFLICT');
  });

  it('bridge name taken by another network or by a foreign link: conflict', async () => {
    await d.createNetwork(netReq(NET, { 'cnmkit.bridge.name': 'cnm-x' }), ctx);
    expect(await failsCleanly(() => d.createNetwork(netReq(NET2, { 'cnmkit.bridge.name': 'cnm-x' }), ctx), 'E_DRIVER_CONFLICT')).toMatch(/used by network/);
    await b.createBridge(H, 'cnm-foreign');
    expect(await failsCleanly(() => d.createNetwork(netReq(NET2, { 'cnmkit.bridge.name': 'cnm-foreign' }), ctx), 'E_DRIVER_CONFLICT')).toMatch(/already exists/);
  });

  it('derived names that collide get an alternative', async () => {
    const twin = NET.slice(0, 11) + 'f'.repeat(53);
    await d.createNetwork(netReq(NET), ctx);
    await d.createNetwork(netReq(twin, {}, { IPv4Data: [{ AddressSpace: 'x', Pool: '10.21.0.0/24', Gateway: '10.21.0.1/24' }] }), ctx);
    expect(d.getNetwork(twin)!.bridge).toBe(bridgeName(twin, 1));
  });

  it('a backend failure rolls the bridge back', async () => {
    b.failNext('addAddress', 'EPERM');
    const msg = await failsCleanly(() => d.createNetwork(netReq(), ctx), 'E_DRIVER_BACKEND');
    expect(msg).toMatch(/Operation not permitted/);
    b.failNext('setLinkUp', 'EIO');
    await failsCleanly(() => d.createNetwork(netReq(), ctx), 'E_DRIVER_BACKEND');
  });

  it('DeleteNetwork: unknown succeeds; with endpoints busy; otherwise removes the bridge', async () => {
    await d.deleteNetwork({ NetworkID: NET }, ctx);
    await d.createNetwork(netReq(), ctx);
    await d.createEndpoint(epReq(), ctx);
    expect(await failsCleanly(() => d.deleteNetwork({ NetworkID: NET }, ctx), 'E_DRIVER_BUSY')).toMatch(/active endpoints/);
    await d.deleteEndpoint({ NetworkID: NET, EndpointID: EP }, ctx);
    await d.deleteNetwork({ NetworkID: NET }, ctx);
    expect(await b.listLinks(H)).toHaveLength(1);
    await d.deleteNetwork({ NetworkID: NET }, ctx);
  });

  it('DeleteNetwork tolerates a bridge already gone', async () => {
    await d.createNetwork(netReq(), ctx);
    await b.deleteLink(H, bridgeName(NET));
    await d.deleteNetwork({ NetworkID: NET }, ctx);
    expect(d.networkIds()).toEqual([]);
  });
});

describe('CreateEndpoint / DeleteEndpoint', () => {
  beforeEach(async () => {
    await d.createNetwork(netReq(), ctx);
  });

  it('makes a veth pair: host end on the bridge and up, container end down in the host namespace', async () => {
    const reply = await d.createEndpoint(epReq(), ctx);
    expect(reply).toEqual({ Interface: { MacAddress: '02:42:0a:14:00:02' } });
    const [hostEnd, srcName] = vethNames(EP);
    expect(await b.getLink(H, hostEnd)).toMatchObject({ up: true, master: bridgeName(NET), mtu: 1500, peer: { namespace: H, name: srcName } });
    expect(await b.getLink(H, srcName)).toMatchObject({ up: false, master: null, mac: '02:42:0a:14:00:02' });
    expect(b.checkInvariants()).toEqual([]);
  });

  it('never echoes supplied fields: a given MAC gives an empty reply and is applied', async () => {
    expect(await d.createEndpoint(epReq(EP, { Address: '10.20.0.2/24', AddressIPv6: '', MacAddress: '02:00:00:AA:BB:CC' }), ctx)).toEqual({});
    expect((await b.getLink(H, vethNames(EP)[1])).mac).toBe('02:00:00:aa:bb:cc');
  });

  it('MACs: without IPv4 random locally administered; never twice in the driver', async () => {
    const r1 = await d.createEndpoint(epReq(EP, { Address: '', AddressIPv6: '', MacAddress: '' }), ctx);
    const mac = r1.Interface!.MacAddress!;
    expect(parseInt(mac.slice(0, 2), 16) & 3).toBe(2);
    await d.createNetwork(netReq(NET2, {}, { IPv4Data: [{ AddressSpace: 'x', Pool: '10.20.0.0/24', Gateway: '10.20.0.1/24' }] }), ctx);
    const a = await d.createEndpoint(epReq(EP2, { Address: '10.20.0.9/24' }, NET), ctx);
    const bb = await d.createEndpoint(epReq('e'.repeat(64), { Address: '10.20.0.9/24' }, NET2), ctx);
    expect(a.Interface!.MacAddress).toBe('02:42:0a:14:00:09');
    expect(bb.Interface!.MacAddress).not.toBe('02:42:0a:14:00:09');
  });

  it('deterministic random MACs with injected randomness; a stuck source is a clear error', async () => {
    let n = 0;
    const det = createReferenceDriver({ backend: new VirtualBackend(), randomBytes: (size) => new Uint8Array(size).fill(++n) });
    await det.createNetwork(netReq(), ctx);
    expect(det.getNetwork(NET)!.bridgeMac).toBe('02:01:01:01:01:01');
    expect(await det.createEndpoint(epReq(EP, {}), ctx)).toEqual({ Interface: { MacAddress: '02:02:02:02:02:02' } });
    const stuck = createReferenceDriver({ backend: new VirtualBackend(), randomBytes: (size) => new Uint8Array(size).fill(7) });
    await stuck.createNetwork(netReq(), ctx);
    expect(await driverCodeOf(stuck.createEndpoint(epReq(EP, {}), ctx))).toBe('E_DRIVER_CONFLICT');
  });

  it('the bridge keeps its own MAC while endpoints come and go (the gateway MAC is stable)', async () => {
    const br = bridgeName(NET);
    const mac = (await b.getLink(H, br)).mac;
    expect(mac).toBe(d.getNetwork(NET)!.bridgeMac);
    await d.createEndpoint(epReq(EP, { Address: '10.20.0.2/24', MacAddress: '02:00:00:00:00:01' }), ctx);
    expect((await b.getLink(H, br)).mac).toBe(mac);
    await d.deleteEndpoint({ NetworkID: NET, EndpointID: EP }, ctx);
    expect((await b.getLink(H, br)).mac).toBe(mac);
  });

  it.each([
    [{ Address: '10.20.0.2' }, /Interface.Address: expected an IPv4 CIDR/],
    [{ Address: 'fd00::2/64' }, /Interface.Address: expected an IPv4 CIDR/],
    [{ AddressIPv6: '10.0.0.1/24' }, /Interface.AddressIPv6: expected an IPv6 CIDR/],
    [{ MacAddress: '02:00:00:00:00' }, /not a MAC address/],
    [{ MacAddress: '01:00:5e:00:00:01' }, /not a unicast address/],
  ])('rejects interface %j cleanly', async (iface, text) => {
    expect(await failsCleanly(() => d.createEndpoint(epReq(EP, iface), ctx), 'E_DRIVER_REQUEST')).toMatch(text);
  });

  it('unknown network is NOT_FOUND; empty endpoint id is a request error', async () => {
    expect(await failsCleanly(() => d.createEndpoint(epReq(EP, {}, NET2), ctx), 'E_DRIVER_NOT_FOUND')).toMatch(/network 7fc1\w+ not found/);
    await failsCleanly(() => d.createEndpoint(epReq(''), ctx), 'E_DRIVER_REQUEST');
  });

  it('retry with the same interface gives the same reply; a different one conflicts', async () => {
    const r1 = await d.createEndpoint(epReq(), ctx);
    expect(await d.createEndpoint(epReq(), ctx)).toEqual(r1);
    await failsCleanly(() => d.createEndpoint(epReq(EP, { Address: '10.20.0.3/24' }), ctx), 'E_DRIVER_CONFLICT');
  });

  it('the same endpoint id in two networks conflicts', async () => {
    await d.createNetwork(netReq(NET2, {}, { IPv4Data: [{ AddressSpace: 'x', Pool: '10.21.0.0/24', Gateway: '10.21.0.1/24' }] }), ctx);
    await d.createEndpoint(epReq(), ctx);
    await failsCleanly(() => d.createEndpoint(epReq(EP, { Address: '10.21.0.2/24' }, NET2), ctx), 'E_DRIVER_CONFLICT');
  });

  it('backend failures roll the veth back', async () => {
    b.failNext('setMaster', 'EBUSY');
    await failsCleanly(() => d.createEndpoint(epReq(), ctx), 'E_DRIVER_BACKEND');
    b.failNext('createVethPair', 'ENOSPC');
    await failsCleanly(() => d.createEndpoint(epReq(), ctx), 'E_DRIVER_BACKEND');
    await b.createDummy(H, vethNames(EP)[1]);
    expect(await failsCleanly(() => d.createEndpoint(epReq(), ctx), 'E_DRIVER_CONFLICT')).toMatch(/already exists/);
  });

  it('DeleteEndpoint removes both ends; unknown ids succeed; a veth already gone is fine', async () => {
    const before = b.snapshot();
    await d.createEndpoint(epReq(), ctx);
    await d.deleteEndpoint({ NetworkID: NET, EndpointID: EP }, ctx);
    expect(diffSnapshots(before, b.snapshot())).toEqual([]);
    await d.deleteEndpoint({ NetworkID: NET, EndpointID: EP }, ctx);
    await d.deleteEndpoint({ NetworkID: NET2, EndpointID: EP }, ctx);
    await d.createEndpoint(epReq(), ctx);
    await b.createNamespace(SB);
    await b.moveLink(H, vethNames(EP)[1], SB, 'eth0');
    await b.deleteNamespace(SB); // the sandbox goes first: both ends die
    await d.deleteEndpoint({ NetworkID: NET, EndpointID: EP }, ctx);
    expect(diffSnapshots(before, b.snapshot())).toEqual([]);
  });

  it('the MTU option reaches the veths', async () => {
    await d.createNetwork(netReq(NET2, { 'cnmkit.mtu': '1400' }, { IPv4Data: [{ AddressSpace: 'x', Pool: '10.21.0.0/24', Gateway: '10.21.0.1/24' }] }), ctx);
    await d.createEndpoint(epReq(EP2, { Address: '10.21.0.5/24' }, NET2), ctx);
    for (const n of vethNames(EP2)) expect((await b.getLink(H, n)).mtu).toBe(1400);
    expect((await b.getLink(H, bridgeName(NET2))).mtu).toBe(1400);
  });
});

describe('Join / Leave / EndpointOperInfo / external connectivity', () => {
  beforeEach(async () => {
    await d.createNetwork(
      netReq(NET, {}, {
        IPv4Data: [
          { AddressSpace: 'x', Pool: '10.20.0.0/24', Gateway: '10.20.0.1/24' },
          { AddressSpace: 'x', Pool: '10.30.0.0/16', Gateway: '10.30.0.254/16' },
        ],
        IPv6Data: [{ AddressSpace: 'x', Pool: 'fd20::/64', Gateway: 'fd20::1/64' }],
      }),
      ctx,
    );
    await d.createEndpoint(epReq(EP, { Address: '10.30.1.2/16', AddressIPv6: 'fd20::2/64', MacAddress: '' }), ctx);
  });

  it('returns SrcName, DstPrefix eth and the bare gateways of the endpoint subnets', async () => {
    const r = await d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: SB, Options: {} }, ctx);
    expect(r).toEqual({ InterfaceName: { SrcName: vethNames(EP)[1], DstPrefix: 'eth' }, Gateway: '10.30.0.254', GatewayIPv6: 'fd20::1' });
  });

  it('touches no namespace during Join (the netns file may not exist yet)', async () => {
    const before = b.snapshot();
    await d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: SB, Options: {} }, ctx);
    expect(diffSnapshots(before, b.snapshot())).toEqual([]);
  });

  it('idempotent for the same sandbox; busy for another; Leave frees it', async () => {
    const r = await d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: SB }, ctx);
    expect(await d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: SB }, ctx)).toEqual(r);
    expect(await failsCleanly(() => d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: '/other' }, ctx), 'E_DRIVER_BUSY')).toMatch(/already joined/);
    await d.leave({ NetworkID: NET, EndpointID: EP }, ctx);
    await d.leave({ NetworkID: NET, EndpointID: EP }, ctx);
    await d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: '/other' }, ctx);
  });

  it('unknown ids: Join, Leave and Program fail NOT_FOUND; Revoke succeeds; empty SandboxKey is refused', async () => {
    await failsCleanly(() => d.join({ NetworkID: NET, EndpointID: EP2, SandboxKey: SB }, ctx), 'E_DRIVER_NOT_FOUND');
    await failsCleanly(() => d.join({ NetworkID: NET2, EndpointID: EP, SandboxKey: SB }, ctx), 'E_DRIVER_NOT_FOUND');
    await failsCleanly(() => d.leave({ NetworkID: NET, EndpointID: EP2 }, ctx), 'E_DRIVER_NOT_FOUND');
    await failsCleanly(() => d.programExternalConnectivity!({ NetworkID: NET, EndpointID: EP2, Options: {} }, ctx), 'E_DRIVER_NOT_FOUND');
    await d.revokeExternalConnectivity!({ NetworkID: NET, EndpointID: EP2 }, ctx);
    await failsCleanly(() => d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: '' }, ctx), 'E_DRIVER_REQUEST');
  });

  it('EndpointOperInfo always answers, even for unknown ids', async () => {
    expect(await d.endpointOperInfo({ NetworkID: NET, EndpointID: EP }, ctx)).toEqual({ Value: {} });
    expect(await d.endpointOperInfo({ NetworkID: 'x', EndpointID: 'y' }, ctx)).toEqual({ Value: {} });
  });

  it('Program/Revoke record external connectivity; Leave clears it', async () => {
    await d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: SB }, ctx);
    await d.programExternalConnectivity!({ NetworkID: NET, EndpointID: EP, Options: {} }, ctx);
    expect(d.getNetwork(NET)!.endpoints[EP].external).toBe(true);
    await d.revokeExternalConnectivity!({ NetworkID: NET, EndpointID: EP }, ctx);
    expect(d.getNetwork(NET)!.endpoints[EP].external).toBe(false);
    await d.programExternalConnectivity!({ NetworkID: NET, EndpointID: EP, Options: {} }, ctx);
    await d.leave({ NetworkID: NET, EndpointID: EP }, ctx);
    expect(d.getNetwork(NET)!.endpoints[EP]).toMatchObject({ external: false, sandboxKey: null });
  });

  it('Join recreates a host veth lost before it', async () => {
    await b.deleteLink(H, vethNames(EP)[0]);
    await d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: SB }, ctx);
    expect((await b.getLink(H, vethNames(EP)[1])).mac).toBe('02:42:0a:1e:01:02');
  });
});

describe('Join options: internal, dst prefix, static routes, gateway service', () => {
  it('internal networks give no gateway; the rest as configured', async () => {
    await d.createNetwork(
      {
        NetworkID: NET2,
        Options: { 'com.docker.network.internal': true, 'com.docker.network.generic': {} },
        IPv4Data: [{ AddressSpace: 'x', Pool: '10.21.0.0/24', Gateway: '10.21.0.1/24' }],
        IPv6Data: [],
      },
      ctx,
    );
    await d.createNetwork(netReq(NET, { 'cnmkit.dst-prefix': 'cnm', 'cnmkit.static-routes': '10.99.0.0/16 via 10.20.0.1, 10.98.0.0/16', 'cnmkit.disable-gateway-service': 'true' }), ctx);
    await d.createEndpoint(epReq(EP), ctx);
    await d.createEndpoint(epReq(EP2, { Address: '10.21.0.2/24' }, NET2), ctx);
    expect(await d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: SB }, ctx)).toEqual({
      InterfaceName: { SrcName: vethNames(EP)[1], DstPrefix: 'cnm' },
      Gateway: '10.20.0.1',
      StaticRoutes: [
        { Destination: '10.99.0.0/16', RouteType: 0, NextHop: '10.20.0.1' },
        { Destination: '10.98.0.0/16', RouteType: 1 },
      ],
      DisableGatewayService: true,
    });
    expect(await d.join({ NetworkID: NET2, EndpointID: EP2, SandboxKey: SB }, ctx)).toEqual({ InterfaceName: { SrcName: vethNames(EP2)[1], DstPrefix: 'eth' } });
    await d.programExternalConnectivity!({ NetworkID: NET2, EndpointID: EP2, Options: {} }, ctx);
    expect(d.getNetwork(NET2)!.endpoints[EP2].external).toBe(false);
  });

  it('an endpoint outside every pool gets no gateway', async () => {
    await d.createNetwork(netReq(), ctx);
    await d.createEndpoint(epReq(EP, { Address: '192.0.2.5/24' }), ctx);
    expect(await d.join({ NetworkID: NET, EndpointID: EP, SandboxKey: SB }, ctx)).toEqual({ InterfaceName: { SrcName: vethNames(EP)[1], DstPrefix: 'eth' } });
  });
});

describe('swarm and discovery', () => {
  it('AllocateNetwork validates and returns the options; FreeNetwork succeeds', async () => {
    const req: m.AllocateNetworkRequest = { NetworkID: 'k3fz8q2w9x1y7u5t4r6e0p2o1', Options: { 'cnmkit.mtu': '1400' }, IPv4Data: [{ AddressSpace: '', Pool: '10.0.0.0/24', Gateway: '10.0.0.1/24' }], IPv6Data: null };
    expect(await d.allocateNetwork!(req, ctx)).toEqual({ Options: { 'cnmkit.mtu': '1400' } });
    await failsCleanly(() => d.allocateNetwork!({ ...req, Options: { 'cnmkit.mtu': 'x' } }, ctx), 'E_DRIVER_OPTION');
    expect(await d.freeNetwork!({ NetworkID: req.NetworkID }, ctx)).toEqual({});
  });

  it('DiscoverNew/Delete record nodes of type 1 and ignore other types', async () => {
    await d.discoverNew!({ DiscoveryType: 1, DiscoveryData: { Address: '192.0.2.2', BindAddress: '192.0.2.2', Self: true } }, ctx);
    await d.discoverNew!({ DiscoveryType: 2, DiscoveryData: { whatever: 1 } }, ctx);
    expect(d.nodes()).toEqual([{ address: '192.0.2.2', bindAddress: '192.0.2.2', self: true }]);
    await failsCleanly(() => d.discoverNew!({ DiscoveryType: 1, DiscoveryData: {} }, ctx), 'E_DRIVER_REQUEST');
    await d.discoverDelete!({ DiscoveryType: 1, DiscoveryData: { Address: '192.0.2.2' } }, ctx);
    await d.discoverDelete!({ DiscoveryType: 1, DiscoveryData: { Address: '192.0.2.2' } }, ctx);
    expect(d.nodes()).toEqual([]);
  });
});

describe('firewall', () => {
  it('allows a network after its bridge is up, removes it on delete, resyncs on reconcile', async () => {
    const fw = new RecordingFirewall();
    const df = createReferenceDriver({ backend: b, firewall: fw });
    await df.createNetwork(netReq(NET, { 'cnmkit.internal': 'true' }), ctx);
    expect(await fw.listNetworks()).toEqual([{ network: NET, bridge: bridgeName(NET), internal: true }]);
    await df.deleteNetwork({ NetworkID: NET }, ctx);
    expect(await fw.listNetworks()).toEqual([]);
    await df.createNetwork(netReq(NET), ctx);
    await fw.allowNetwork({ network: 'stale', bridge: 'cnm-stale', internal: false });
    await fw.removeNetwork(NET);
    expect(await df.reconcile()).toEqual(['removed firewall rules of unknown network stale']);
    expect(await fw.listNetworks()).toEqual([{ network: NET, bridge: bridgeName(NET), internal: false }]);
  });

  it('a firewall failure undoes the bridge', async () => {
    const fw = new RecordingFirewall();
    fw.allowNetwork = async () => Promise.reject(new Error('iptables: permission denied'));
    const df = createReferenceDriver({ backend: b, firewall: fw });
    const before = b.snapshot();
    expect(await driverCodeOf(df.createNetwork(netReq(), ctx))).toBe('E_DRIVER_BACKEND');
    expect(diffSnapshots(before, b.snapshot())).toEqual([]);
    expect(df.networkIds()).toEqual([]);
  });
});

describe('concurrency', () => {
  it('concurrent calls are serialised: parallel CreateEndpoint of one id creates one veth', async () => {
    await d.createNetwork(netReq(), ctx);
    const replies = await Promise.all([1, 2, 3].map(() => d.createEndpoint(epReq(), ctx)));
    expect(new Set(replies.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(await b.listLinks(H)).toHaveLength(4);
  });
});

describe('state', () => {
  it('export/import round-trips and reconcile rebuilds a fresh backend', async () => {
    await d.createNetwork(netReq(), ctx);
    await d.createEndpoint(epReq(), ctx);
    const before = b.snapshot();
    const state = d.exportState();
    const b2 = new VirtualBackend();
    const d2 = createReferenceDriver({ backend: b2 });
    d2.importState(state);
    expect(await d2.reconcile()).toHaveLength(2);
    expect(b2.snapshot()).toEqual(before);
    expect(await d2.reconcile()).toEqual([]);
    expect(() => d2.importState({ version: 9 } as unknown as typeof state)).toThrow(DriverError);
  });

  it('reconcile adopts existing links: MTU, gateways, ports and up state', async () => {
    await d.createNetwork(netReq(NET, { 'cnmkit.mtu': '1400' }), ctx);
    await d.createEndpoint(epReq(), ctx);
    const good = b.snapshot();
    const br = bridgeName(NET);
    const [hostEnd] = vethNames(EP);
    await b.setMaster(H, hostEnd, null);
    await b.setLinkDown(H, hostEnd);
    await b.deleteAddress(H, br, '10.20.0.1/24');
    await b.setLinkDown(H, br);
    await b.setMtu(H, br, 1500);
    expect(await d.reconcile()).toEqual([
      `set MTU 1400 on ${br}`,
      `added 10.20.0.1/24 to ${br}`,
      `set ${br} up`,
      `attached ${hostEnd} to ${br}`,
      `set ${hostEnd} up`,
    ]);
    expect(diffSnapshots(good, b.snapshot())).toEqual([]);
    expect(await d.reconcile()).toEqual([]);
  });

  it('a memory store sees every change; openReferenceDriver restores from it', async () => {
    const store = createMemoryStateStore();
    const d1 = createReferenceDriver({ backend: b, store });
    await d1.createNetwork(netReq(), ctx);
    await d1.createEndpoint(epReq(), ctx);
    await d1.join({ NetworkID: NET, EndpointID: EP, SandboxKey: SB }, ctx);
    expect(store.saved!.networks[0].endpoints[EP].sandboxKey).toBe(SB);
    const d2 = await openReferenceDriver({ backend: b, store });
    expect(await d2.join({ NetworkID: NET, EndpointID: EP, SandboxKey: SB }, ctx)).toMatchObject({ Gateway: '10.20.0.1' });
    await d2.leave({ NetworkID: NET, EndpointID: EP }, ctx);
    await d2.deleteEndpoint({ NetworkID: NET, EndpointID: EP }, ctx);
    await d2.deleteNetwork({ NetworkID: NET }, ctx);
    expect(store.saved!.networks).toEqual([]);
  });

  it('file store: atomic JSON file, survives a new driver, refuses garbage', async () => {
    const dir = join(root, 'state1');
    const store = createFileStateStore(dir);
    expect(await store.load()).toBeUndefined();
    const d1 = createReferenceDriver({ backend: b, store });
    await d1.createNetwork(netReq(), ctx);
    const onDisk = JSON.parse(readFileSync(join(dir, 'driver-state.json'), 'utf8')) as { networks: { id: string }[] };
    expect(onDisk.networks.map((n) => n.id)).toEqual([NET]);
    const b2 = new VirtualBackend();
    const d2 = await openReferenceDriver({ backend: b2, store: createFileStateStore(dir) });
    expect(d2.networkIds()).toEqual([NET]);
    expect((await b2.getLink(H, bridgeName(NET))).up).toBe(true);
    writeFileSync(join(dir, 'driver-state.json'), '{"version":1,"networks":[{}],"nodes":[]}');
    await expect(createFileStateStore(dir).load()).rejects.toMatchObject({ code: 'E_DRIVER_STATE' });
    writeFileSync(join(dir, 'driver-state.json'), 'not json');
    await expect(createFileStateStore(dir).load()).rejects.toMatchObject({ code: 'E_DRIVER_STATE' });
  });

  it('a failing store surfaces as E_DRIVER_STATE', async () => {
    const d1 = createReferenceDriver({
      backend: b,
      store: { load: async () => undefined, save: async () => Promise.reject(new Error('disk full')) },
    });
    expect(await driverCodeOf(d1.createNetwork(netReq(), ctx))).toBe('E_DRIVER_STATE');
  });
});
