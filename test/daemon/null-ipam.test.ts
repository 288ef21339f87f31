/**
 * `--ipam-driver null`: Docker's built-in null IPAM (libnetwork ipams/null)
 * hands out pool 0.0.0.0/0 in space "null", no gateway and no addresses;
 * CreateEndpoint then carries an empty Interface.Address and the driver's
 * reply supplies the address and MAC, which the daemon puts in the sandbox.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import { createDaemon, createNullIpam, inProcessPlugin, type InProcessPlugin, type SimulatedDaemon } from '../../src/daemon/index.js';
import { fakeDriver } from './fakes.js';

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers) await c();
  closers = [];
});

async function nullEnv(): Promise<{ d: SimulatedDaemon; backend: VirtualBackend; drv: InProcessPlugin }> {
  const backend = new VirtualBackend({ seed: 3 });
  const driver = fakeDriver(backend, { createEndpoint: { Address: '192.168.77.100/24', MacAddress: '0a:58:4d:00:00:01' }, join: { Gateway: '192.168.77.1' } });
  const drv = await inProcessPlugin({ driver, label: 'driver' });
  const ipam = await inProcessPlugin({ ipam: createNullIpam(), label: 'null IPAM' });
  const d = createDaemon({ driver: drv.client, ipam: ipam.client, backend, builtinIpam: 'null', ipamName: 'null' });
  closers.push(async () => {
    d.close();
    await drv.close();
    await ipam.close();
  });
  return { d, backend, drv };
}

describe('the null IPAM', () => {
  it('network create: pool 0.0.0.0/0 in space "null", no gateway in IPv4Data', async () => {
    const { d } = await nullEnv();
    const n = await d.networkCreate({ name: 'n', driverOpts: { bridge: 'br0' } });
    expect(n.ipv4).toEqual([{ poolId: 'null/0.0.0.0/0', pool: '0.0.0.0/0', gateway: null, auxAddresses: {} }]);
    const create = d.callLog().find((e) => e.call === 'NetworkDriver.CreateNetwork')!;
    expect((create.request as { IPv4Data: unknown }).IPv4Data).toEqual([{ AddressSpace: 'null', Pool: '0.0.0.0/0' }]);
  });

  it('container start: CreateEndpoint gets no address, the driver supplies one, the sandbox has it', async () => {
    const { d, backend } = await nullEnv();
    await d.networkCreate({ name: 'n' });
    await d.containerRun({ name: 'c1', networks: [{ network: 'n' }] });
    const ce = d.callLog().find((e) => e.call === 'NetworkDriver.CreateEndpoint')!;
    expect((ce.request as { Interface: unknown }).Interface).toEqual({ Address: '', AddressIPv6: '', MacAddress: '' });
    const c = d.inspect().containers[0]!;
    expect(c.sandbox!.endpoints[0]).toMatchObject({ ipv4: '192.168.77.100/24', mac: '0a:58:4d:00:00:01' });
    expect((await backend.listAddresses(c.sandbox!.key, 'eth0')).map((a) => a.cidr)).toEqual(['192.168.77.100/24']);
    expect(await d.verifySandboxes()).toEqual([]);
    await d.containerRm('c1', { force: true });
    await d.networkRm('n');
    expect(d.warnings()).toEqual([]);
    expect(d.leaks()).toEqual([]);
  });
});
