/**
 * Routed designs in the daemon's sandbox work: a link-local IPv6 gateway
 * (programmed with its device, as osl's programGateway does after RouteGet),
 * a Calico-like IPv4 gateway outside the endpoint subnet reached through a
 * connected /32 static route, and /32 endpoint addresses.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeEnv, teardown, type Env } from './env.js';

let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('routed gateways', () => {
  it('a link-local IPv6 gateway with a connected /128 route gets a default route through the interface', async () => {
    env = await makeEnv({ driver: { join: { GatewayIPv6: 'fe80::ecee:eeff:feee:eeee', StaticRoutes: [{ Destination: 'fe80::ecee:eeff:feee:eeee/128', RouteType: 1 }] } } });
    const d = env.daemon;
    await d.networkCreate({ name: 'n6', ipv4: [{ subnet: '10.1.0.0/24' }], ipv6: [{ subnet: 'fd00:1::/64' }] });
    await d.containerRun({ name: 'c1', networks: [{ network: 'n6' }] });
    const key = d.inspect().containers[0]!.sandbox!.key;
    const routes = await env.backend.listRoutes(key);
    expect(routes.filter((r) => r.destination === '::/0').map((r) => `${r.gateway} ${r.dev}`)).toEqual(['fe80::ecee:eeff:feee:eeee eth0']);
    expect(await d.verifySandboxes()).toEqual([]);
    await teardown(env);
  });

  it('a link-local IPv6 gateway without any route is reached through the endpoint interface (the kernel has fe80::/64 there)', async () => {
    env = await makeEnv({ driver: { join: { GatewayIPv6: 'fe80::1' } } });
    const d = env.daemon;
    await d.networkCreate({ name: 'n6', ipv4: [{ subnet: '10.1.0.0/24' }], ipv6: [{ subnet: 'fd00:1::/64' }] });
    await d.containerRun({ name: 'c1', networks: [{ network: 'n6' }] });
    const key = d.inspect().containers[0]!.sandbox!.key;
    const routes = await env.backend.listRoutes(key);
    expect(routes.filter((r) => r.destination === '::/0').map((r) => `${r.gateway} ${r.dev}`)).toEqual(['fe80::1 eth0']);
    expect(await d.verifySandboxes()).toEqual([]);
    await teardown(env);
  });

  it('Calico: 169.254.1.1 via a connected /32 static route, /32 addresses', async () => {
    env = await makeEnv({ driver: { join: { Gateway: '169.254.1.1', StaticRoutes: [{ Destination: '169.254.1.1/32', RouteType: 1 }] } } });
    const d = env.daemon;
    // Calico IPAM answers /32 endpoint addresses: no connected route, the gateway is reached through 169.254.1.1/32 dev eth0.
    env.faulty.addRule({ method: 'RequestAddress', times: 100, fault: { kind: 'reply', patch: (v) => ({ ...v, Address: String((v as { Address: string }).Address).replace(/\/\d+$/, '/32') }) } });
    await d.networkCreate({ name: 'n', ipv4: [{ subnet: '10.1.0.0/24' }] });
    await d.containerRun({ name: 'c1', networks: [{ network: 'n' }] });
    await d.containerRun({ name: 'c2', networks: [{ network: 'n' }] });
    const key = d.inspect().containers[0]!.sandbox!.key;
    expect((await env.backend.listAddresses(key, 'eth0')).map((a) => a.cidr)).toEqual(['10.1.0.2/32']);
    const routes = await env.backend.listRoutes(key);
    expect(routes.filter((r) => r.destination === '0.0.0.0/0').map((r) => `${r.gateway} ${r.dev}`)).toEqual(['169.254.1.1 eth0']);
    expect(routes.filter((r) => r.destination === '169.254.1.1/32').map((r) => `${r.gateway} ${r.dev}`)).toEqual(['null eth0']);
    expect(await d.verifySandboxes()).toEqual([]);
    await teardown(env);
  });
});
