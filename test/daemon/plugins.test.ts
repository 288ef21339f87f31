/** Separate driver and IPAM plugins (two activations), and serialised concurrent operations. */
import { describe, expect, it } from 'vitest';
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import { createDaemon, DaemonError, inProcessPlugin, summarizeCalls } from '../../src/daemon/index.js';
import { createReferenceDriver } from '../../src/driver/index.js';
import { createIpam } from '../../src/ipam/index.js';
import { makeEnv } from './env.js';

describe('a network-only plugin and an IPAM-only plugin', () => {
  it('each is activated on its first use; after a restart only the IPAM is activated at once', async () => {
    const backend = new VirtualBackend();
    const driverPlugin = await inProcessPlugin({ driver: createReferenceDriver({ backend }) });
    const ipamPlugin = await inProcessPlugin({ ipam: createIpam() });
    const d = createDaemon({ driver: driverPlugin.client, ipam: ipamPlugin.client, backend, driverName: 'netp', ipamName: 'ipamp' });
    await d.networkCreate({ name: 'n1' });
    expect(summarizeCalls(d.callLog())).toEqual([
      'Plugin.Activate',
      'NetworkDriver.GetCapabilities',
      'Plugin.Activate',
      'IpamDriver.GetCapabilities',
      'IpamDriver.GetDefaultAddressSpaces',
      'IpamDriver.RequestPool',
      'IpamDriver.RequestAddress',
      'NetworkDriver.CreateNetwork',
    ]);
    expect(d.inspect().networks[0]).toMatchObject({ driver: 'netp', ipamDriver: 'ipamp' });
    d.clearCallLog();
    await d.daemonRestart();
    expect(summarizeCalls(d.callLog())).toEqual(['Plugin.Activate', 'IpamDriver.GetCapabilities', 'IpamDriver.GetDefaultAddressSpaces']);
    d.clearCallLog();
    await d.containerRun({ name: 'c1', networks: [{ network: 'n1' }] });
    // The IPAM is asked first, the driver is resolved (activated) for CreateEndpoint.
    expect(summarizeCalls(d.callLog()).slice(0, 4)).toEqual(['IpamDriver.RequestAddress', 'Plugin.Activate', 'NetworkDriver.GetCapabilities', 'NetworkDriver.CreateEndpoint']);
    await d.containerRm('c1', { force: true });
    await d.networkRm('n1');
    expect(backend.checkInvariants()).toEqual([]);
    d.close();
    await driverPlugin.close();
    await ipamPlugin.close();
  });

  it('a plugin whose manifest lacks the interface is refused', async () => {
    const backend = new VirtualBackend();
    const ipamPlugin = await inProcessPlugin({ ipam: createIpam() });
    const d = createDaemon({ driver: ipamPlugin.client, ipam: ipamPlugin.client, backend });
    const e = await d.networkCreate({ name: 'n1' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DaemonError);
    expect((e as DaemonError).message).toBe('legacy plugin: Plugin does not implement the requested driver');
    expect(summarizeCalls(d.callLog())).toEqual(['Plugin.Activate', 'IpamDriver.GetCapabilities', 'IpamDriver.GetDefaultAddressSpaces']);
    await ipamPlugin.close();
  });
});

describe('concurrency', () => {
  it('operations issued together run one after the other', async () => {
    const env = await makeEnv();
    const d = env.daemon;
    await d.networkCreate({ name: 'n1', ipv4: [{ subnet: '10.1.0.0/24' }] });
    d.clearCallLog();
    await Promise.all([d.containerRun({ name: 'a', networks: [{ network: 'n1' }] }), d.containerRun({ name: 'b', networks: [{ network: 'n1' }] })]);
    const ops = d.callLog().map((e) => e.operation);
    const starts = ops.filter((o) => o === 'containerStart').length;
    expect(starts).toBe(12);
    // No interleaving: the first container's six calls come before the second's.
    const eps = d.callLog().filter((e) => e.call === 'NetworkDriver.CreateEndpoint').map((e) => (e.request as { EndpointID: string }).EndpointID);
    const joins = d.callLog().filter((e) => e.call === 'NetworkDriver.Join').map((e) => (e.request as { EndpointID: string }).EndpointID);
    expect(joins).toEqual(eps);
    const firstJoin = d.callLog().findIndex((e) => e.call === 'NetworkDriver.Join');
    const secondCreate = d.callLog().map((e) => e.call).lastIndexOf('NetworkDriver.CreateEndpoint');
    expect(firstJoin).toBeLessThan(secondCreate);
    // A failing operation does not block the next one.
    env.faulty.addRule({ method: 'RequestAddress', fault: { kind: 'plugin-error', message: 'full' } });
    const [r1, r2] = await Promise.allSettled([d.containerRun({ name: 'c', networks: [{ network: 'n1' }] }), d.containerRun({ name: 'e', networks: [{ network: 'n1' }] })]);
    expect(r1.status).toBe('rejected');
    expect((r1 as PromiseRejectedResult).reason).toBeInstanceOf(DaemonError);
    expect(((r1 as PromiseRejectedResult).reason as DaemonError).callError?.pluginMessage).toBe('full');
    expect(r2.status).toBe('fulfilled');
    await env.close();
  });
});
