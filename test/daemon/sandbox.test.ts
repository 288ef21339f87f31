/**
 * The daemon's own work on the backend: interface names, addresses, MAC,
 * routes, default gateway, moving interfaces back, and failures of the
 * backend itself (the virtual backend's failNext) on the way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HOST_NAMESPACE } from '../../src/backend/backend.js';
import { DaemonError, summarizeCalls } from '../../src/daemon/index.js';
import { makeEnv, teardown, type Env } from './env.js';

let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const START = ['IpamDriver.RequestAddress', 'NetworkDriver.CreateEndpoint', 'NetworkDriver.Join', 'NetworkDriver.ProgramExternalConnectivity', 'NetworkDriver.EndpointOperInfo', 'NetworkDriver.EndpointOperInfo'];
const STOP = ['NetworkDriver.RevokeExternalConnectivity', 'NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint', 'IpamDriver.ReleaseAddress'];

async function sandboxOf(e: Env, name: string): Promise<string> {
  const c = e.daemon.inspect().containers.find((x) => x.name === name);
  expect(c?.sandbox).toBeTruthy();
  return c!.sandbox!.key;
}

describe('sandbox contents', () => {
  it('eth0, eth1 in connect order; addresses with the pool prefix; default route via the gateway endpoint; the index is not reused', async () => {
    for (const kind of ['fake', 'reference'] as const) {
      env = await makeEnv({ driverKind: kind });
      const d = env.daemon;
      await d.networkCreate({ name: 'n1', ipv4: [{ subnet: '10.1.0.0/24' }], ipv6: [{ subnet: 'fd00:1::/64' }] });
      await d.networkCreate({ name: 'n2', ipv4: [{ subnet: '10.2.0.0/16' }] });
      await d.containerRun({ name: 'c1', networks: [{ network: 'n1', ip: '10.1.0.7' }, { network: 'n2' }] });
      const key = await sandboxOf(env, 'c1');
      expect(key).toMatch(/^\/var\/run\/docker\/netns\/[0-9a-f]{12}$/);
      const links = await env.backend.listLinks(key);
      expect(links.map((l) => l.name)).toEqual(['lo', 'eth0', 'eth1']);
      expect((await env.backend.listAddresses(key, 'eth0')).map((a) => a.cidr)).toEqual(['10.1.0.7/24', 'fd00:1::2/64']);
      expect((await env.backend.listAddresses(key, 'eth1')).map((a) => a.cidr)).toEqual(['10.2.0.2/16']);
      const routes = await env.backend.listRoutes(key);
      expect(routes.filter((r) => r.destination === '0.0.0.0/0').map((r) => `${r.gateway} ${r.dev}`)).toEqual(['10.1.0.1 eth0']);
      expect(routes.filter((r) => r.destination === '::/0').map((r) => `${r.gateway} ${r.dev}`)).toEqual(['fd00:1::1 eth0']);
      expect(await d.verifySandboxes()).toEqual([]);

      await d.networkDisconnect('c1', 'n2');
      await d.networkConnect('c1', 'n2');
      expect((await env.backend.listLinks(key)).map((l) => l.name)).toEqual(['lo', 'eth0', 'eth2']);
      // The gateway endpoint leaves: the default route moves to the other one.
      await d.networkDisconnect('c1', 'n1');
      const after = await env.backend.listRoutes(key);
      expect(after.filter((r) => r.destination === '0.0.0.0/0').map((r) => `${r.gateway} ${r.dev}`)).toEqual(['10.2.0.1 eth2']);
      expect(after.some((r) => r.destination === '::/0')).toBe(false);
      expect(await d.verifySandboxes()).toEqual([]);
      await teardown(env);
      expect(await env.backend.listNamespaces()).toEqual([HOST_NAMESPACE]);
      expect(env.backend.checkInvariants()).toEqual([]);
      await env.close();
      env = undefined;
    }
  });

  it('DstPrefix, MAC from the CreateEndpoint reply, static routes of both types, DisableGatewayService', async () => {
    env = await makeEnv();
    const d = env.daemon;
    await d.networkCreate({ name: 'n1', ipv4: [{ subnet: '10.1.0.0/24' }] });
    env.faulty.addRule({ method: 'CreateEndpoint', fault: { kind: 'reply', patch: () => ({ Interface: { MacAddress: '02:00:00:aa:bb:cc' } }) } });
    env.faulty.addRule({
      method: 'Join',
      fault: {
        kind: 'reply',
        patch: (v) => ({
          InterfaceName: { ...(v['InterfaceName'] as object), DstPrefix: 'foo' },
          StaticRoutes: [
            { Destination: '10.99.0.0/16', RouteType: 0, NextHop: '10.1.0.254' },
            { Destination: '10.98.0.0/16', RouteType: 1 },
          ],
          DisableGatewayService: true,
        }),
      },
    });
    await d.containerRun({ name: 'c1', networks: [{ network: 'n1' }] });
    expect(summarizeCalls(d.callLog()).slice(-5)).toEqual(['IpamDriver.RequestAddress', 'NetworkDriver.CreateEndpoint', 'NetworkDriver.Join', 'NetworkDriver.EndpointOperInfo', 'NetworkDriver.EndpointOperInfo']);
    // No Gateway in the reply: no ProgramExternalConnectivity, no default route, and no docker_gwbridge thanks to DisableGatewayService.
    expect(summarizeCalls(d.callLog())).not.toContain('NetworkDriver.ProgramExternalConnectivity');
    const key = await sandboxOf(env, 'c1');
    const link = await env.backend.getLink(key, 'foo0');
    expect(link.mac).toBe('02:00:00:aa:bb:cc');
    const routes = (await env.backend.listRoutes(key, 4)).map((r) => `${r.destination} ${r.gateway ?? '-'} ${r.dev} ${r.scope}`);
    expect(routes).toEqual(expect.arrayContaining(['10.99.0.0/16 10.1.0.254 foo0 global', '10.98.0.0/16 - foo0 link']));
    expect(routes.some((r) => r.startsWith('0.0.0.0/0'))).toBe(false);
    expect(d.inspect().containers[0]!.sandbox!.defaultGatewayBridge).toBe(false);
    expect(await d.verifySandboxes()).toEqual([]);
    await teardown(env);
    expect(env.backend.checkInvariants()).toEqual([]);
  });

  it('a Join without gateway on a non-internal network means docker_gwbridge and no ProgramExternalConnectivity', async () => {
    env = await makeEnv();
    const d = env.daemon;
    await d.networkCreate({ name: 'n1', ipv4: [{ subnet: '10.1.0.0/24' }] });
    env.faulty.addRule({ method: 'Join', fault: { kind: 'reply', patch: (v) => ({ InterfaceName: v['InterfaceName'] }) } });
    await d.containerRun({ name: 'c1', networks: [{ network: 'n1' }] });
    expect(summarizeCalls(d.callLog()).slice(-5)).toEqual(['IpamDriver.RequestAddress', 'NetworkDriver.CreateEndpoint', 'NetworkDriver.Join', 'NetworkDriver.EndpointOperInfo', 'NetworkDriver.EndpointOperInfo']);
    expect(d.inspect().containers[0]!.sandbox!.defaultGatewayBridge).toBe(true);
    d.clearCallLog();
    await d.containerStop('c1');
    // Not the gateway endpoint: no Revoke.
    expect(summarizeCalls(d.callLog())).toEqual(['NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint', 'IpamDriver.ReleaseAddress']);
  });

  it('an empty SrcName: nothing is moved, the endpoint still joins', async () => {
    env = await makeEnv();
    const d = env.daemon;
    await d.networkCreate({ name: 'n1', ipv4: [{ subnet: '10.1.0.0/24' }] });
    env.faulty.addRule({ method: 'Join', fault: { kind: 'reply', patch: (v) => ({ ...v, InterfaceName: null, Gateway: undefined, DisableGatewayService: true }) } });
    await d.containerRun({ name: 'c1', networks: [{ network: 'n1' }] });
    const key = await sandboxOf(env, 'c1');
    expect((await env.backend.listLinks(key)).map((l) => l.name)).toEqual(['lo']);
    expect(await d.verifySandboxes()).toEqual([]);
    await teardown(env);
    expect(env.backend.checkInvariants()).toEqual([]);
    expect(await env.backend.listNamespaces()).toEqual([HOST_NAMESPACE]);
  });
});

describe('backend failures during the daemon part', () => {
  const cases = [
    { op: 'moveLink', errno: 'EEXIST', text: 'failed to set namespace on link' },
    { op: 'renameLink', errno: 'EBUSY', text: 'error renaming interface' },
    { op: 'addAddress', errno: 'EINVAL', text: 'error setting interface' },
    { op: 'setLinkUp', errno: 'EIO', text: 'failed to set link up' },
    { op: 'createNamespace', errno: 'ENOSPC', text: 'failed to create network namespace' },
    { op: 'addRoute', errno: 'ENETUNREACH', text: 'route for the gateway 10.1.0.1 could not be found: network is unreachable' },
  ] as const;
  for (const c of cases) {
    it(`${c.op} fails with ${c.errno}: the start fails in the hook, full rollback, nothing left`, async () => {
      env = await makeEnv({ driverKind: 'reference' });
      const d = env.daemon;
      const initial = env.backend.snapshot();
      await d.networkCreate({ name: 'n1', ipv4: [{ subnet: '10.1.0.0/24' }] });
      d.clearCallLog();
      // Only the daemon's own operations on the sandbox (the driver works in the host namespace).
      env.backend.failNext(c.op, c.errno, { match: (args) => typeof args[0] === 'string' && (args[0].startsWith('/var/run/docker/netns/') || (c.op === 'moveLink' && args[2] !== HOST_NAMESPACE)) });
      const err = await d.containerRun({ name: 'c1', networks: [{ network: 'n1' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DaemonError);
      expect((err as DaemonError).step).toBe('sandbox');
      expect((err as DaemonError).message).toContain(c.text);
      expect(env.backend.pendingFaults()).toBe(0);
      expect(summarizeCalls(d.callLog())).toEqual([...START, ...STOP]);
      expect(env.backend.checkInvariants()).toEqual([]);
      expect(await d.verifySandboxes()).toEqual([]);
      expect(d.inspect().containers[0]!.running).toBe(false);
      await teardown(env);
      expect(env.backend.snapshot()).toEqual(initial);
      expect(env.ipamSlot.current.pools()).toEqual([]);
    });
  }
});
