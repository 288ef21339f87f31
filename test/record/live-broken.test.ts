/**
 * Live checks fire on the deliberately broken fixtures (test/conformance/
 * plugins/, driver-plugins/): dockerd's calls are played through the
 * recorder with the real client (what dockerd sends, in its order), and each
 * flaw is flagged on the call that shows it, with the earlier call that
 * matters as context. The same traffic against the fixture without the flaw
 * is silent (so each assertion can fail).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ConnectedClient } from '../../src/client/index.js';
import { socketRawSender } from '../../conformance/raw.js';
import { startMiniIpam, type Flaw } from '../conformance/plugins/mini-ipam.js';
import { startFlawedDriver, type DriverFlaw } from '../conformance/driver-plugins/flawed-driver.js';
import { startFlawedIpam, type FlawedIpam, type IpamFlaw } from '../conformance/plugins/ipam-flaws.js';
import { serveFixture } from '../conformance/designs/serve.js';
import { netnsSkipReason } from '../helpers/netns.js';
import { recordInFront, tempDir, type RecordedSession, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

const GW = { RequestAddressType: 'com.docker.network.gateway' };
let n = 0;

async function session<T>(start: (socket: string) => Promise<{ socketPath: string; close(): Promise<void> }>, play: (c: ConnectedClient, rec: RecordedSession) => Promise<T>, opts: { kernel?: boolean } = {}): Promise<RecordedSession> {
  const plugin = await start(`${dir.path}/p${++n}.sock`);
  const rec = await recordInFront(dir.path, plugin.socketPath, opts);
  const client = await connect({ socket: rec.socket }, { timeoutMs: 5000 });
  try {
    await play(client, rec);
  } finally {
    await client.close();
    await rec.stop();
    await plugin.close();
  }
  return rec;
}

/** `docker network create --subnet S [--ip-range R]`: RequestPool, then the gateway. */
async function network(c: ConnectedClient, subnet: string, sub = '', space = 'LocalDefault'): Promise<string> {
  const pool = await c.call('RequestPool', { AddressSpace: space, Pool: subnet, SubPool: sub, Options: {}, V6: false });
  await c.tryCall('RequestAddress', { PoolID: pool.PoolID, Address: '', Options: GW });
  return pool.PoolID;
}

/** Containers starting: automatic addresses until the pool refuses (at most `max`). */
async function fill(c: ConnectedClient, poolId: string, max: number): Promise<string[]> {
  const got: string[] = [];
  for (let i = 0; i < max; i++) {
    const r = await c.tryCall('RequestAddress', { PoolID: poolId, Address: '', Options: null });
    if (!r.ok) break;
    got.push(r.value.Address);
  }
  return got;
}

const rules = (rec: RecordedSession): string[] => [...new Set(rec.violations().map((v) => v.rule))].sort();

describe('cnmkit record flags the broken IPAM fixtures live', () => {
  const ipamCases: { flaw: Flaw; rule: string; play: (c: ConnectedClient) => Promise<unknown> }[] = [
    { flaw: 'network-broadcast', rule: 'ipam.no-network-broadcast', play: async (c) => fill(c, await network(c, '10.77.1.0/29'), 10) },
    {
      flaw: 'cursor-wrap-duplicate',
      rule: 'ipam.no-duplicate-address',
      play: async (c) => {
        const id = await network(c, '10.77.2.0/29');
        const got = await fill(c, id, 10);
        await c.call('ReleaseAddress', { PoolID: id, Address: got[2]!.split('/')[0]! });
        await fill(c, id, 3);
      },
    },
    { flaw: 'bare-ip', rule: 'ipam.address-cidr', play: async (c) => fill(c, await network(c, '10.77.3.0/29'), 1) },
    {
      flaw: 'ignore-preferred',
      rule: 'ipam.preferred-address-honoured',
      play: async (c) => {
        const id = await network(c, '10.77.4.0/28');
        await c.tryCall('RequestAddress', { PoolID: id, Address: '10.77.4.9', Options: null });
      },
    },
    { flaw: 'ignore-subpool', rule: 'ipam.address-in-subpool', play: async (c) => fill(c, await network(c, '10.77.5.0/28', '10.77.5.8/29'), 3) },
    {
      flaw: 'err-field-200',
      rule: 'reply.ipam-error-in-Err-field',
      play: async (c) => {
        await network(c, '10.77.6.0/28');
        await c.tryCall('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.77.6.0/28', SubPool: '', Options: {}, V6: false });
      },
    },
    {
      flaw: 'accept-overlap',
      rule: 'ipam.no-duplicate-address',
      play: async (c) => {
        const a = await network(c, '10.77.7.0/28');
        const b = await c.tryCall('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.77.7.0/29', SubPool: '', Options: {}, V6: false });
        await fill(c, a, 3);
        // A correct IPAM refuses the overlapping pool (the network create fails): nothing more to do.
        if (b.ok) await fill(c, b.value.PoolID, 3);
      },
    },
    { flaw: 'full-returns-duplicate', rule: 'ipam.no-duplicate-address', play: async (c) => fill(c, await network(c, '10.77.8.0/29'), 8) },
  ];
  for (const k of ipamCases) {
    it(`${k.flaw} -> ${k.rule}`, async () => {
      const broken = await session((s) => startMiniIpam(s, [k.flaw]), (c) => k.play(c));
      expect(rules(broken)).toContain(k.rule);
      expect(broken.lines.some((l) => l.includes(k.rule) && l.includes('| call: #'))).toBe(true);
      const clean = await session((s) => startMiniIpam(s, []), (c) => k.play(c));
      expect(rules(clean)).toEqual([]);
    });
  }

  it('a duplicate names the RequestAddress that first handed the address out as its context', async () => {
    const rec = await session((s) => startMiniIpam(s, ['full-returns-duplicate']), async (c) => fill(c, await network(c, '10.77.9.0/29'), 8));
    const dup = rec.calls.find((c) => c.violations.some((v) => v.rule === 'ipam.no-duplicate-address'))!;
    const v = dup.violations.find((x) => x.rule === 'ipam.no-duplicate-address')!;
    const first = rec.calls.find((c) => c.seq === v.context![0])!;
    expect(first.call.method).toBe('RequestAddress');
    expect((first.call.reply as { Address: string }).Address).toBe((dup.call.reply as { Address: string }).Address);
    const line = rec.lines.find((l) => l.includes('ipam.no-duplicate-address'))!;
    expect(line).toContain(`context: #${first.seq} RequestAddress`);
  });

  it('empty-body-allocates -> protocol.empty-body (dockerd\'s empty-body retry)', async () => {
    const rec = await session((s) => startMiniIpam(s, ['empty-body-allocates']), async (c, r) => {
      await network(c, '10.77.10.0/28');
      const raw = socketRawSender({ socketPath: r.socket }, { hostHeader: '', defaultTimeoutMs: 3000 });
      await raw.send({ path: '/IpamDriver.RequestPool', body: '' }, { timeoutMs: 3000 });
    });
    expect(rules(rec)).toContain('protocol.empty-body');
  });
});

describe('cnmkit record flags the blind-spot IPAM flaws dockerd\'s traffic shows', () => {
  const v6pool = (c: ConnectedClient, pool = ''): Promise<{ PoolID: string; Pool: string }> => c.call('RequestPool', { AddressSpace: 'FlawLocal', Pool: pool, SubPool: '', Options: {}, V6: true });
  const cases: { flaw: IpamFlaw; rule: string; play: (c: ConnectedClient, p: FlawedIpam) => Promise<unknown> }[] = [
    {
      flaw: 'addresses-lost-on-restart',
      rule: 'ipam.no-duplicate-address',
      play: async (c, p) => {
        const id = await network(c, '10.77.20.0/28', '', 'FlawLocal');
        await fill(c, id, 2);
        await p.restart(); // the plugin restarts while dockerd runs: nothing is replayed (protocol.md §4.7)
        // The first call after the restart may meet the dropped keep-alive connection: go on until two are granted.
        let granted = 0;
        for (let i = 0; i < 6 && granted < 2; i++) granted += (await fill(c, id, 2 - granted)).length;
      },
    },
    {
      flaw: 'auto-v6-first-base',
      rule: 'ipam.auto-pool',
      play: async (c) => {
        await v6pool(c);
        await c.tryCall('RequestPool', { AddressSpace: 'FlawLocal', Pool: '', SubPool: '', Options: {}, V6: true });
      },
    },
    { flaw: 'auto-v6-ignores-flag', rule: 'ipam.pool-cidr', play: (c) => c.tryCall('RequestPool', { AddressSpace: 'FlawLocal', Pool: '', SubPool: '', Options: {}, V6: true }) },
    {
      flaw: 'js-number-offsets',
      rule: 'ipam.preferred-address-honoured',
      play: async (c) => {
        const p = await v6pool(c, 'fd00:77:1::/64');
        await c.tryCall('RequestAddress', { PoolID: p.PoolID, Address: 'fd00:77:1::ffff:ffff:ffff:fff3', Options: null });
      },
    },
    {
      flaw: 'echo-preferred',
      rule: 'ipam.address-in-pool',
      play: async (c) => {
        // dockerd 20.10-24 passes an off-subnet --gateway through (conformance README, ipam.preferred-address-validated).
        const id = await network(c, '10.77.21.0/28', '', 'FlawLocal');
        await c.tryCall('RequestAddress', { PoolID: id, Address: '10.77.99.5', Options: { RequestAddressType: 'com.docker.network.gateway' } });
      },
    },
  ];
  for (const k of cases) {
    it(`${k.flaw} -> ${k.rule}`, async () => {
      let plugin: FlawedIpam | null = null;
      const broken = await session(async (s) => (plugin = await startFlawedIpam(s, [k.flaw])), (c) => k.play(c, plugin!));
      expect(rules(broken)).toContain(k.rule);
      let clean: FlawedIpam | null = null;
      const fine = await session(async (s) => (clean = await startFlawedIpam(s, [])), (c) => k.play(c, clean!));
      expect(rules(fine)).toEqual([]);
    });
  }
});

describe('cnmkit record flags the broken driver fixtures live', () => {
  const NID = 'a'.repeat(64);
  const eid = (i: number): string => `${i.toString(16).padStart(2, '0')}${'e'.repeat(62)}`;
  async function play(c: ConnectedClient, opts: { mac?: boolean } = {}): Promise<void> {
    await c.call('NetworkGetCapabilities', undefined as never);
    await c.call('CreateNetwork', { NetworkID: NID, Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': {} }, IPv4Data: [{ AddressSpace: 'LocalDefault', Gateway: '10.78.0.1/24', Pool: '10.78.0.0/24' }], IPv6Data: [] });
    for (let i = 1; i <= 3; i++) {
      // The third container publishes a port (the entries dockerd really sends, protocol.md App. B).
      const ports = i === 3 ? [{ Proto: 6, Port: 80 }] : [];
      const ep = await c.tryCall('CreateEndpoint', { NetworkID: NID, EndpointID: eid(i), Interface: { Address: `10.78.0.${i + 1}/24`, AddressIPv6: '', MacAddress: opts.mac ? `02:42:0a:4e:00:0${i + 1}` : '' }, Options: { 'com.docker.network.endpoint.exposedports': ports, 'com.docker.network.portmap': [] } });
      if (!ep.ok) continue;
      const j = await c.tryCall('Join', { NetworkID: NID, EndpointID: eid(i), SandboxKey: `/var/run/docker/netns/${i}`, Options: {} });
      if (j.ok) await c.tryCall('EndpointOperInfo', { NetworkID: NID, EndpointID: eid(i) });
    }
    // One container stops, another starts (the MAC count comes round again).
    await c.tryCall('Leave', { NetworkID: NID, EndpointID: eid(1) });
    await c.tryCall('DeleteEndpoint', { NetworkID: NID, EndpointID: eid(1) });
    const ep = await c.tryCall('CreateEndpoint', { NetworkID: NID, EndpointID: eid(4), Interface: { Address: '10.78.0.9/24', AddressIPv6: '', MacAddress: '' }, Options: {} });
    if (ep.ok) await c.tryCall('Join', { NetworkID: NID, EndpointID: eid(4), SandboxKey: '/var/run/docker/netns/4', Options: {} });
  }
  const driverCases: { flaw: DriverFlaw; rule: string }[] = [
    { flaw: 'echo-address', rule: 'driver.no-echo' },
    { flaw: 'long-ifname', rule: 'driver.interface-name' },
    { flaw: 'invalid-mac', rule: 'driver.mac-valid' },
    { flaw: 'duplicate-mac', rule: 'driver.mac-unique' },
    { flaw: 'gateway-outside', rule: 'driver.join-gateway' },
    { flaw: 'gateway-mask', rule: 'driver.join-gateway' },
    { flaw: 'operinfo-404', rule: 'driver.endpoint-oper-info' },
    { flaw: 'route-hardcoded-hop', rule: 'driver.static-routes' },
    { flaw: 'bad-scope', rule: 'reply.schema' },
    { flaw: 'no-srcname', rule: 'driver.join-gateway' },
    { flaw: 'crash-port-entries', rule: 'protocol.no-reply' },
  ];
  for (const k of driverCases) {
    it(`${k.flaw} -> ${k.rule}`, async () => {
      const broken = await session((s) => startFlawedDriver(s, { flaw: k.flaw }), (c) => play(c));
      expect(rules(broken)).toContain(k.rule);
      const clean = await session((s) => startFlawedDriver(s, {}), (c) => play(c));
      expect(rules(clean)).toEqual([]);
    });
  }

  it('missing-srcname -> driver.netns-linux on the real kernel (root only)', async (t) => {
    const rootSkip = netnsSkipReason();
    if (rootSkip !== null) return t.skip(`needs root networking (the SrcName is looked up with ip link): ${rootSkip}`);
    const rec = await session((s) => startFlawedDriver(s, { flaw: 'missing-srcname' }), (c) => play(c), { kernel: true });
    expect(rules(rec)).toContain('driver.netns-linux');
  });

  it('the kernel look-up stays silent when the SrcName exists (root only)', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root: the SrcName is looked up with ip link');
    const fixture = {
      '/NetworkDriver.GetCapabilities': () => ({ Scope: 'local' }),
      '/NetworkDriver.CreateNetwork': () => ({}),
      '/NetworkDriver.CreateEndpoint': () => ({}),
      '/NetworkDriver.EndpointOperInfo': () => ({ Value: {} }),
      // A link that exists in this namespace (a real driver names its veth end here).
      '/NetworkDriver.Join': () => ({ InterfaceName: { SrcName: 'lo', DstPrefix: 'eth' }, Gateway: '10.78.0.1' }),
      '/NetworkDriver.Leave': () => ({}),
      '/NetworkDriver.DeleteEndpoint': () => ({}),
    };
    const rec = await session((s) => serveFixture(s, fixture, { implements: ['NetworkDriver'] }), (c) => play(c), { kernel: true });
    expect(rec.calls.filter((x) => x.call.method === 'Join').length).toBeGreaterThan(0);
    expect(rules(rec).filter((r) => r !== 'driver.interface-name-unique')).toEqual([]);
  });
});
