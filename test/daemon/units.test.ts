/** faultyCaller, the id generator, the endpoint heap, and the daemon's own refusals. */
import { describe, expect, it } from 'vitest';
import { createDaemon, createIdGenerator, DaemonError, DaemonUsageError, faultyCaller, summarizeCalls } from '../../src/daemon/index.js';
import { heapPush, heapRemove } from '../../src/daemon/heap.js';
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import type { CallRecord } from '../../src/client/types.js';
import { makeEnv } from './env.js';

describe('faultyCaller', () => {
  it('fails by method and occurrence, by index, for `times` calls; records every call; forwards only when asked', async () => {
    const env = await makeEnv();
    const seen: string[] = [];
    const f = faultyCaller(env.plugin.client, [
      { method: 'GetDefaultAddressSpaces', occurrence: 2, fault: { kind: 'plugin-error', message: 'second' } },
      { index: 4, times: 2, fault: { kind: 'not-found' } },
    ]);
    const records: CallRecord[] = [];
    f.onCall((r) => records.push(r));
    for (let i = 0; i < 7; i++) {
      const r = await f.tryCall('GetDefaultAddressSpaces', undefined);
      seen.push(r.ok ? 'ok' : `${r.error.kind}: ${r.error.message}`);
    }
    expect(seen).toEqual([
      'ok',
      'plugin-error: IpamDriver.GetDefaultAddressSpaces: second',
      'ok',
      'ok',
      'not-implemented: IpamDriver.GetDefaultAddressSpaces: 404 page not found',
      'not-implemented: IpamDriver.GetDefaultAddressSpaces: 404 page not found',
      'ok',
    ]);
    expect(records.map((r) => r.outcome)).toEqual(['ok', 'plugin-error', 'ok', 'ok', 'not-implemented', 'not-implemented', 'ok']);
    expect(f.injected.map((x) => x.index)).toEqual([1, 4, 5]);
    expect(f.calls).toBe(7);
    await env.close();
  });

  it('forward: the plugin acts, the answer is lost; not forwarded: the plugin never sees the call', async () => {
    const env = await makeEnv();
    const ipam = env.ipamSlot.current;
    const f = faultyCaller(env.plugin.client);
    f.addRule({ method: 'RequestPool', fault: { kind: 'timeout' } });
    const r1 = await f.tryCall('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.9.0.0/24', SubPool: '', Options: {}, V6: false });
    expect(r1.ok).toBe(false);
    if (!r1.ok) expect(r1.error.kind).toBe('timeout');
    expect(ipam.pools().map((p) => p.pool)).toEqual(['10.9.0.0/24']);
    f.addRule({ method: 'IpamDriver.RequestPool', fault: { kind: 'plugin-error' } });
    const r2 = await f.tryCall('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.8.0.0/24', SubPool: '', Options: {}, V6: false });
    expect(r2.ok).toBe(false);
    expect(ipam.pools().map((p) => p.pool)).toEqual(['10.9.0.0/24']);
    f.addRule({ method: 'RequestPool', fault: { kind: 'bad-reply', body: '{"PoolID":1}' } });
    const r3 = await f.tryCall('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.7.0.0/24', SubPool: '', Options: {}, V6: false });
    expect(r3.ok ? 'ok' : r3.error.kind).toBe('decode-error');
    expect(ipam.pools().map((p) => p.pool).sort()).toEqual(['10.7.0.0/24', '10.9.0.0/24']);
    await env.close();
  });

  it('refuses malformed rules', async () => {
    const env = await makeEnv();
    expect(() => faultyCaller(env.plugin.client, [{ method: 'Nope', fault: { kind: 'timeout' } }])).toThrow(DaemonUsageError);
    expect(() => faultyCaller(env.plugin.client, [{ fault: { kind: 'timeout' } }])).toThrow(DaemonUsageError);
    expect(() => faultyCaller(env.plugin.client, [{ method: 'Join', times: 0, fault: { kind: 'timeout' } }])).toThrow(DaemonUsageError);
    await env.close();
  });
});

describe('ids', () => {
  it('are deterministic per seed, 64 hex, and MACs locally administered', () => {
    const a = createIdGenerator(7);
    const b = createIdGenerator(7);
    const c = createIdGenerator(8);
    const ia = [a.id(), a.id()];
    expect([b.id(), b.id()]).toEqual(ia);
    expect(c.id()).not.toEqual(ia[0]);
    expect(ia[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(ia[0]).not.toEqual(ia[1]);
    expect(a.mac()).toMatch(/^02:42(:[0-9a-f]{2}){4}$/);
  });
});

describe('endpoint heap (Go container/heap)', () => {
  it('keeps the heap property through pushes and removals, with Go sift order', () => {
    const less = (x: number, y: number) => x < y;
    const h: number[] = [];
    for (const v of [5, 3, 8, 1, 9, 2]) heapPush(h, v, less);
    // Go: push 5,3,8,1,9,2 into a min-heap gives [1 3 2 5 9 8].
    expect(h).toEqual([1, 3, 2, 5, 9, 8]);
    expect(heapRemove(h, 1, less)).toBe(3);
    // Go: heap.Remove(h, 1) swaps with the last (8), sifts down: [1 5 2 8 9].
    expect(h).toEqual([1, 5, 2, 8, 9]);
    expect(heapRemove(h, 0, less)).toBe(1);
    expect(h).toEqual([2, 5, 9, 8]);
  });
});

describe("the daemon's own refusals", () => {
  it('names, duplicates, unknown objects, running containers', async () => {
    const env = await makeEnv();
    const d = env.daemon;
    const refuse = async (p: Promise<unknown>, text: string, status: number) => {
      const e = await p.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(DaemonError);
      expect((e as DaemonError).message).toContain(text);
      expect((e as DaemonError).status).toBe(status);
      expect((e as DaemonError).code).toBe('E_DAEMON');
    };
    await d.networkCreate({ name: 'n1', ipv4: [{ subnet: '10.1.0.0/24' }] });
    d.clearCallLog();
    await refuse(d.networkCreate({ name: 'n1' }), 'network with name n1 already exists', 409);
    await refuse(d.networkCreate({ name: 'x', ipv4: [{ subnet: '10.2.0.0/24', gateway: '10.3.0.1' }] }), 'no matching subnet for gateway 10.3.0.1', 400);
    await refuse(d.networkCreate({ name: 'x', ipv4: [{ subnet: '10.2.0.0/24', ipRange: '10.2.1.0/25' }] }), 'no matching subnet for range 10.2.1.0/25', 400);
    await refuse(d.networkCreate({ name: 'x', ipv4: [{ subnet: '10.2.0.0/24', auxAddresses: { a: '10.9.0.1' } }] }), 'no matching subnet for aux-address 10.9.0.1', 400);
    await refuse(d.networkCreate({ name: 'x', ipv4: [{ subnet: '10.2.0.0/33' }] }), 'invalid CIDR address: 10.2.0.0/33', 400);
    await refuse(d.networkCreate({ name: 'x', ipv4: [{ subnet: '10.2.0.0/24' }, { subnet: '10.2.0.0/16' }] }), 'multiple overlapping subnet configuration is not supported', 400);
    await refuse(d.containerRun({ name: 'c1', networks: [{ network: 'nope' }] }), 'network nope not found', 404);
    await refuse(d.containerRun({ name: 'bad name', networks: [{ network: 'n1' }] }), 'Invalid container name', 400);
    await refuse(d.containerRun({ name: 'c1', networks: [{ network: 'n1', ip: '10.1.0.x' }] }), 'invalid IPv4 address: 10.1.0.x', 400);
    await refuse(d.containerRun({ name: 'c1', networks: [{ network: 'n1', ip: '10.7.0.5' }] }), "Invalid address 10.7.0.5: It does not belong to any of this network's subnets", 400);
    // That start failed after create: the container exists, stopped.
    await refuse(d.containerRun({ name: 'c1', networks: [{ network: 'n1' }] }), 'Conflict. The container name "/c1" is already in use by container', 409);
    await d.containerStart('c1').catch(() => undefined);
    await d.containerRm('c1');
    await d.containerRun({ name: 'c1', networks: [{ network: 'n1' }] });
    await refuse(d.networkConnect('c1', 'n1'), 'endpoint with name c1 already exists in network n1', 403);
    await d.networkCreate({ name: 'n2' });
    await refuse(d.networkDisconnect('c1', 'n2'), 'is not connected to network n2', 400);
    await refuse(d.containerRm('c1'), 'You cannot remove a running container', 409);
    await refuse(d.containerStop('nope'), 'No such container: nope', 404);
    await refuse(d.networkRm('n1'), 'error while removing network: network n1 id', 403);
    await refuse(d.networkConnect('c1', 'n2', { ip: '172.18.0.9' }), 'user specified IP address is supported only when connecting to networks with user configured subnets', 400);
    // None of the refusals before the start reached a plugin.
    expect(summarizeCalls(d.callLog()).slice(0, 1)).toEqual(['IpamDriver.RequestAddress']);
    await env.close();
  });

  it('stopped containers: connect and disconnect only change the configuration; start attaches every network', async () => {
    const env = await makeEnv();
    const d = env.daemon;
    await d.networkCreate({ name: 'n1', ipv4: [{ subnet: '10.1.0.0/24' }] });
    await d.networkCreate({ name: 'n2', ipv4: [{ subnet: '10.2.0.0/24' }] });
    await d.containerCreate({ name: 'c1', networks: [{ network: 'n1' }] });
    d.clearCallLog();
    await d.networkConnect('c1', 'n2', { ip: '10.2.0.9' });
    expect(d.callLog()).toEqual([]);
    await d.containerStart('c1');
    const view = d.inspect().containers[0]!;
    expect(view.networks).toEqual(['n1', 'n2']);
    expect(view.sandbox!.endpoints.map((e) => e.ipv4)).toEqual(['10.1.0.2/24', '10.2.0.9/24']);
    // The second network of a start: its CreateEndpoint options were built after EndpointOperInfo of the first.
    expect(summarizeCalls(d.callLog())).toEqual([
      'IpamDriver.RequestAddress', 'NetworkDriver.CreateEndpoint', 'NetworkDriver.Join', 'NetworkDriver.ProgramExternalConnectivity', 'NetworkDriver.EndpointOperInfo', 'NetworkDriver.EndpointOperInfo',
      'NetworkDriver.EndpointOperInfo', 'IpamDriver.RequestAddress', 'NetworkDriver.CreateEndpoint', 'NetworkDriver.Join', 'NetworkDriver.EndpointOperInfo', 'NetworkDriver.EndpointOperInfo', 'NetworkDriver.EndpointOperInfo',
    ]);
    await env.close();
  });

  it('gives up an endless overlap loop with an error and releases every held pool', async () => {
    const env = await makeEnv({ daemon: { hostRoutes: ['172.16.0.0/12', '192.168.0.0/16'] } });
    const e = await env.daemon.networkCreate({ name: 'n1' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DaemonError);
    // Docker's 31 local pools all overlap: the IPAM runs out before the daemon gives up.
    expect((e as DaemonError).message).toContain('could not find an available, non-overlapping IPv4 address pool');
    expect(env.ipamSlot.current.pools()).toEqual([]);
    const calls = summarizeCalls(env.daemon.callLog());
    expect(calls.filter((c) => c === 'IpamDriver.RequestPool')).toHaveLength(31);
    expect(calls.filter((c) => c === 'IpamDriver.RequestPool!')).toHaveLength(1);
    expect(calls.filter((c) => c === 'IpamDriver.ReleasePool')).toHaveLength(31);
    await env.close();
  });

  it('refuses bad options', () => {
    const backend = new VirtualBackend();
    const caller = faultyCaller({ tryCall: async () => { throw new Error('unused'); }, call: async () => { throw new Error('unused'); }, onCall: () => () => true, close: async () => undefined });
    expect(() => createDaemon({ driver: caller, ipam: caller, backend, hostRoutes: ['nope'] })).toThrow(DaemonUsageError);
    expect(() => createDaemon({ driver: caller, ipam: caller, backend, profile: 'x' as never })).toThrow(DaemonUsageError);
  });

  it('call log entries carry the operation, the parsed request and the error', async () => {
    const env = await makeEnv();
    env.faulty.addRule({ method: 'CreateNetwork', fault: { kind: 'plugin-error', message: 'boom' } });
    await env.daemon.networkCreate({ name: 'n1' }).catch(() => undefined);
    const log = env.daemon.callLog();
    const cn = log.find((e) => e.call === 'NetworkDriver.CreateNetwork')!;
    expect(cn.operation).toBe('networkCreate');
    expect(cn.outcome).toBe('plugin-error');
    expect(cn.error).toBe('NetworkDriver.CreateNetwork: boom');
    expect((cn.request as { Options: Record<string, unknown> }).Options['com.docker.network.generic']).toEqual({});
    expect(log[0]!.request).toBeNull();
    expect(JSON.parse(JSON.stringify(cn))).toMatchObject({ call: 'NetworkDriver.CreateNetwork', outcome: 'plugin-error' });
    await env.close();
  });
});
