/**
 * The reference driver with `scope: 'global'` as the swarm manager's allocator
 * and as a node (protocol.md §2.2.4, §4.9): segment ids handed out, kept on a
 * re-allocation, freed; CreateNetwork uses them and refuses one in use; the
 * allocations survive export / import. Local scope keeps the plain answer.
 */
import { describe, expect, it } from 'vitest';
import type { CallContext } from '../../src/protocol/api.js';
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import { createMemoryStateStore, createReferenceDriver, openReferenceDriver, type ReferenceDriver } from '../../src/driver/index.js';

const ctx: CallContext = { path: '/test', signal: new AbortController().signal };
const V4 = [{ AddressSpace: '', Gateway: '10.5.0.1/24', Pool: '10.5.0.0/24' }];

function driver(scope: 'local' | 'global' = 'global'): ReferenceDriver {
  return createReferenceDriver({ backend: new VirtualBackend(), scope });
}

describe('AllocateNetwork / FreeNetwork (global scope)', () => {
  it('hands out the lowest free segment, keeps the --opt map, frees it again', async () => {
    const d = driver();
    expect(d.getCapabilities(ctx)).toEqual({ Scope: 'global', ConnectivityScope: 'global' });
    expect(await d.allocateNetwork({ NetworkID: 'a', Options: { k: 'v' }, IPv4Data: V4, IPv6Data: null }, ctx)).toEqual({ Options: { k: 'v', 'cnmkit.segment': '4096' } });
    expect((await d.allocateNetwork({ NetworkID: 'b', Options: {}, IPv4Data: V4, IPv6Data: null }, ctx)).Options).toEqual({ 'cnmkit.segment': '4097' });
    await d.freeNetwork({ NetworkID: 'a' }, ctx);
    expect((await d.allocateNetwork({ NetworkID: 'c', Options: {}, IPv4Data: V4, IPv6Data: null }, ctx)).Options).toEqual({ 'cnmkit.segment': '4096' });
    // Unknown ids: success (the manager only logs, and would keep the pools).
    await expect(d.freeNetwork({ NetworkID: 'never' }, ctx)).resolves.toEqual({});
  });

  it('a retry gets the same answer; a new leader sending the earlier answer back keeps the segment', async () => {
    const d = driver();
    const first = await d.allocateNetwork({ NetworkID: 'a', Options: { k: 'v' }, IPv4Data: V4, IPv6Data: null }, ctx);
    expect(await d.allocateNetwork({ NetworkID: 'a', Options: { k: 'v' }, IPv4Data: V4, IPv6Data: null }, ctx)).toEqual(first);
    expect(await d.allocateNetwork({ NetworkID: 'a', Options: { ...first.Options }, IPv4Data: V4, IPv6Data: null }, ctx)).toEqual(first);
    // Another instance (the new leader's plugin) that never saw the allocation takes the segment it is given.
    const other = driver();
    expect(await other.allocateNetwork({ NetworkID: 'a', Options: { ...first.Options }, IPv4Data: V4, IPv6Data: null }, ctx)).toEqual(first);
    expect((await other.allocateNetwork({ NetworkID: 'z', Options: {}, IPv4Data: V4, IPv6Data: null }, ctx)).Options).toEqual({ 'cnmkit.segment': '4097' });
  });

  it('refuses what would give two networks one segment, and bad options', async () => {
    const d = driver();
    await d.allocateNetwork({ NetworkID: 'a', Options: {}, IPv4Data: V4, IPv6Data: null }, ctx);
    await expect(d.allocateNetwork({ NetworkID: 'b', Options: { 'cnmkit.segment': '4096' }, IPv4Data: V4, IPv6Data: null }, ctx)).rejects.toMatchObject({ code: 'E_DRIVER_CONFLICT' });
    await expect(d.allocateNetwork({ NetworkID: 'a', Options: { other: 'x' }, IPv4Data: V4, IPv6Data: null }, ctx)).rejects.toMatchObject({ code: 'E_DRIVER_CONFLICT' });
    await expect(d.allocateNetwork({ NetworkID: 'c', Options: { 'cnmkit.segment': '0' }, IPv4Data: V4, IPv6Data: null }, ctx)).rejects.toMatchObject({ code: 'E_DRIVER_OPTION' });
    await expect(d.allocateNetwork({ NetworkID: 'c', Options: { 'cnmkit.mtu': '1' }, IPv4Data: V4, IPv6Data: null }, ctx)).rejects.toMatchObject({ code: 'E_DRIVER_OPTION' });
    await expect(d.allocateNetwork({ NetworkID: '', Options: {}, IPv4Data: V4, IPv6Data: null }, ctx)).rejects.toMatchObject({ code: 'E_DRIVER_REQUEST' });
  });

  it('local scope (never called by dockerd): validates and returns the options, allocates nothing', async () => {
    const d = driver('local');
    expect(await d.allocateNetwork({ NetworkID: 'a', Options: { k: 'v' }, IPv4Data: V4, IPv6Data: null }, ctx)).toEqual({ Options: { k: 'v' } });
    expect(d.exportState().allocations).toBeUndefined();
  });

  it('allocations are saved with the state and loaded again', async () => {
    const store = createMemoryStateStore();
    const d = await openReferenceDriver({ backend: new VirtualBackend(), scope: 'global', store });
    await d.allocateNetwork({ NetworkID: 'a', Options: {}, IPv4Data: V4, IPv6Data: null }, ctx);
    expect(store.saved?.allocations).toEqual([{ network: 'a', segment: 4096, requestKey: '{}' }]);
    const again = await openReferenceDriver({ backend: new VirtualBackend(), scope: 'global', store });
    expect((await again.allocateNetwork({ NetworkID: 'b', Options: {}, IPv4Data: V4, IPv6Data: null }, ctx)).Options).toEqual({ 'cnmkit.segment': '4097' });
    expect(() => again.importState({ version: 1, networks: [], nodes: [], allocations: [{ network: 'x', segment: 5, requestKey: '{}' }, { network: 'y', segment: 5, requestKey: '{}' }] })).toThrow(/appears twice/);
  });
});

describe('CreateNetwork with the allocation (each host)', () => {
  it('records the segment and refuses a second network on it', async () => {
    const d = driver();
    const data = [{ AddressSpace: 'LocalDefault', Gateway: '10.5.0.1/24', Pool: '10.5.0.0/24' }];
    await d.createNetwork({ NetworkID: 'a', Options: { 'com.docker.network.generic': { 'cnmkit.segment': '4096' } }, IPv4Data: data, IPv6Data: [] }, ctx);
    expect(d.getNetwork('a')?.segment).toBe(4096);
    await expect(d.createNetwork({ NetworkID: 'b', Options: { 'com.docker.network.generic': { 'cnmkit.segment': '4096' } }, IPv4Data: [{ ...data[0]!, Pool: '10.6.0.0/24', Gateway: '10.6.0.1/24' }], IPv6Data: [] }, ctx)).rejects.toThrow(/segment 4096 is already used by network a/);
    await expect(d.createNetwork({ NetworkID: 'c', Options: { 'com.docker.network.generic': { 'cnmkit.segment': 'x' } }, IPv4Data: [], IPv6Data: [] }, ctx)).rejects.toMatchObject({ code: 'E_DRIVER_OPTION' });
    await d.deleteNetwork({ NetworkID: 'a' }, ctx);
    await d.createNetwork({ NetworkID: 'b', Options: { 'com.docker.network.generic': { 'cnmkit.segment': '4096' } }, IPv4Data: [{ ...data[0]!, Pool: '10.6.0.0/24', Gateway: '10.6.0.1/24' }], IPv6Data: [] }, ctx);
    // Outside swarm (no allocation) a global network is still accepted: dockerd then deletes it again.
    await d.createNetwork({ NetworkID: 'plain', Options: { 'com.docker.network.generic': {} }, IPv4Data: [{ ...data[0]!, Pool: '10.7.0.0/24', Gateway: '10.7.0.1/24' }], IPv6Data: [] }, ctx);
    expect(d.getNetwork('plain')?.segment).toBeUndefined();
  });
});
