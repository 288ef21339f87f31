/**
 * `cnmkit serve --scope global`: two served processes act as a swarm's manager
 * and worker (one plugin instance per host, protocol.md §4.9): the manager's
 * AllocateNetwork answer is what the worker's CreateNetwork gets, an endpoint
 * joins on the worker, teardown and FreeNetwork free the segment. (The whole
 * choreography with containers runs in test/daemon/swarm.test.ts.) A bad
 * value exits 2.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ConnectedClient } from '../../src/client/index.js';
import { runCli, startCli, waitExit } from '../cli/run-cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnmkit-global-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cnmkit serve --scope global', () => {
  it('two served instances: the manager allocates, the worker creates from the allocation', async () => {
    const sockets = ['manager', 'worker'].map((n) => join(dir, `${n}.sock`));
    const servers = await Promise.all(sockets.map((s) => startCli(['serve', '--socket', s, '--scope', 'global'], /cnmkit serve: .* on /)));
    const clients: ConnectedClient[] = [];
    try {
      for (const s of sockets) clients.push(await connect({ socket: s }));
      const [m, w] = clients as [ConnectedClient, ConnectedClient];
      expect(await m.call('NetworkGetCapabilities', undefined)).toMatchObject({ Scope: 'global', ConnectivityScope: 'global' });
      // The manager's allocator (the swarm's own IPAM stands in: only the driver is under test here).
      const alloc = await m.call('AllocateNetwork', { NetworkID: 'pq387inzrdzj7zl8rt50yuco5', Options: { 'cnmkit.mtu': '1450' }, IPv4Data: [{ AddressSpace: '', Gateway: '10.77.0.1/24', Pool: '10.77.0.0/24' }], IPv6Data: null });
      expect(alloc.Options).toEqual({ 'cnmkit.mtu': '1450', 'cnmkit.segment': '4096' });
      // The worker's CreateNetwork with the allocation as generic map, then an endpoint.
      const data = [{ AddressSpace: 'LocalDefault', Gateway: '10.77.0.1/24', Pool: '10.77.0.0/24' }];
      await w.call('CreateNetwork', { NetworkID: 'pq387inzrdzj7zl8rt50yuco5', Options: { 'com.docker.network.generic': alloc.Options ?? {}, 'com.docker.network.enable_ipv6': false }, IPv4Data: data, IPv6Data: [] });
      await w.call('CreateEndpoint', { NetworkID: 'pq387inzrdzj7zl8rt50yuco5', EndpointID: 'e'.repeat(64), Interface: { Address: '10.77.0.2/24', AddressIPv6: '', MacAddress: '' }, Options: {} });
      const j = await w.call('Join', { NetworkID: 'pq387inzrdzj7zl8rt50yuco5', EndpointID: 'e'.repeat(64), SandboxKey: '/var/run/docker/netns/abc', Options: {} });
      expect(j.Gateway).toBe('10.77.0.1');
      // A second network handed the same segment by a faulty manager is refused on the worker.
      const dup = await w.tryCall('CreateNetwork', { NetworkID: 'zzz87inzrdzj7zl8rt50yuco5', Options: { 'com.docker.network.generic': { 'cnmkit.segment': '4096' } }, IPv4Data: [{ AddressSpace: 'LocalDefault', Gateway: '10.78.0.1/24', Pool: '10.78.0.0/24' }], IPv6Data: [] });
      expect(dup.ok ? 'accepted' : dup.error.message).toMatch(/segment 4096 is already used/);
      await w.call('Leave', { NetworkID: 'pq387inzrdzj7zl8rt50yuco5', EndpointID: 'e'.repeat(64) });
      await w.call('DeleteEndpoint', { NetworkID: 'pq387inzrdzj7zl8rt50yuco5', EndpointID: 'e'.repeat(64) });
      await w.call('DeleteNetwork', { NetworkID: 'pq387inzrdzj7zl8rt50yuco5' });
      await m.call('FreeNetwork', { NetworkID: 'pq387inzrdzj7zl8rt50yuco5' });
      // Freed on the manager: the next network gets the same segment.
      const next = await m.call('AllocateNetwork', { NetworkID: 'ab387inzrdzj7zl8rt50yuco5', Options: {}, IPv4Data: [{ AddressSpace: '', Gateway: '10.79.0.1/24', Pool: '10.79.0.0/24' }], IPv6Data: null });
      expect(next.Options).toEqual({ 'cnmkit.segment': '4096' });
    } finally {
      for (const c of clients) await c.close();
      for (const { child } of servers) {
        child.kill('SIGTERM');
        await waitExit(child);
      }
    }
  }, 60_000);

  it('an unknown scope is a usage error with exit 2 (the CLI\'s usual text for a bad choice)', async () => {
    const r = await runCli(['serve', '--socket', join(dir, 'bad.sock'), '--scope', 'cluster']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Argument: scope, Given: "cluster", Choices: "local", "global"/);
  }, 60_000);
});
