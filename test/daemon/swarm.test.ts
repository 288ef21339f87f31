/**
 * The swarm choreography (protocol.md §2.2, §4.9): a manager that allocates,
 * workers that create, endpoints on workers, teardown. Pinned call sequences
 * per node against the reference driver (global scope) and the reference IPAM,
 * one plugin instance per host.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import { createSwarm, DaemonError, faultyCaller, inProcessPlugin, SERIAL_OPTION, type InProcessPlugin, type Swarm, type SwarmCallLogEntry, type FaultRule } from '../../src/daemon/index.js';
import { createReferenceDriver, type ReferenceDriver } from '../../src/driver/index.js';
import { createIpam } from '../../src/ipam/index.js';
import type { CallContext } from '../../src/protocol/api.js';
import type { Scope } from '../../src/protocol/messages.js';

const ctx: CallContext = { path: '/test', signal: new AbortController().signal };

interface Host {
  name: string;
  backend: VirtualBackend;
  driver: ReferenceDriver;
  plugin: InProcessPlugin;
}

const open: Array<{ swarm: Swarm; hosts: Host[] }> = [];

async function makeSwarm(opts: { scope?: Scope; workers?: number; faults?: Record<string, FaultRule[]> } = {}): Promise<{ swarm: Swarm; hosts: Map<string, Host> }> {
  const hosts: Host[] = [];
  for (const name of ['manager', ...Array.from({ length: opts.workers ?? 2 }, (_, i) => `worker${i + 1}`)]) {
    const backend = new VirtualBackend({ seed: hosts.length + 1 });
    let seed = hosts.length + 7;
    const driver = createReferenceDriver({ backend, scope: opts.scope ?? 'global', randomBytes: (n) => Uint8Array.from({ length: n }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24) });
    const plugin = await inProcessPlugin({ driver, ipam: createIpam() });
    hosts.push({ name, backend, driver, plugin });
  }
  const caller = (h: Host) => (opts.faults?.[h.name] ? faultyCaller(h.plugin.client, opts.faults[h.name]) : h.plugin.client);
  const [m, ...ws] = hosts;
  const swarm = createSwarm({
    manager: { name: m!.name, driver: caller(m!), backend: m!.backend },
    workers: ws.map((h) => ({ name: h.name, driver: caller(h), backend: h.backend })),
  });
  open.push({ swarm, hosts });
  return { swarm, hosts: new Map(hosts.map((h) => [h.name, h])) };
}

afterEach(async () => {
  for (const { swarm, hosts } of open.splice(0)) {
    swarm.close();
    for (const h of hosts) await h.plugin.close();
  }
});

/** `node: Method` per call, `!` for a failed one. */
function calls(log: readonly SwarmCallLogEntry[]): string[] {
  return log.map((e) => `${e.node}: ${e.entry.call}${e.entry.outcome === 'ok' ? '' : '!'}`);
}

function request(log: readonly SwarmCallLogEntry[], node: string, call: string, nth = 0): Record<string, unknown> {
  const hits = log.filter((e) => e.node === node && e.entry.call === call);
  const e = hits[nth];
  if (e === undefined) throw new Error(`no ${call} #${nth} on ${node}`);
  return e.entry.request as Record<string, unknown>;
}

describe('swarm choreography (protocol.md §4.9)', () => {
  it('init: every node enables the managed plugin (no Plugin.Activate) and announces itself', async () => {
    const { swarm } = await makeSwarm({ workers: 1 });
    await swarm.init();
    expect(calls(swarm.callLog())).toEqual([
      'manager: NetworkDriver.GetCapabilities',
      'manager: IpamDriver.GetCapabilities',
      'manager: IpamDriver.GetDefaultAddressSpaces',
      'manager: NetworkDriver.DiscoverNew',
      'worker1: NetworkDriver.GetCapabilities',
      'worker1: IpamDriver.GetCapabilities',
      'worker1: IpamDriver.GetDefaultAddressSpaces',
      'worker1: NetworkDriver.DiscoverNew',
    ]);
    expect(request(swarm.callLog(), 'worker1', 'NetworkDriver.DiscoverNew')).toEqual({ DiscoveryType: 1, DiscoveryData: { Address: '192.0.2.3', BindAddress: '192.0.2.3', Self: true } });
  });

  it('pinned: create on the manager, a task on each worker, teardown, rm', async () => {
    const { swarm, hosts } = await makeSwarm();
    await swarm.init();
    swarm.clearCallLog();
    const net = await swarm.networkCreate({ name: 'ov', driverOpts: { gk: 'gv' }, ipv4: [{ subnet: '10.249.0.0/24' }] });
    expect(calls(swarm.callLog())).toEqual([
      'manager: IpamDriver.GetDefaultAddressSpaces',
      'manager: IpamDriver.RequestPool',
      'manager: IpamDriver.RequestAddress',
      'manager: NetworkDriver.AllocateNetwork',
    ]);
    const log = swarm.callLog();
    expect(request(log, 'manager', 'IpamDriver.RequestPool')).toEqual({ AddressSpace: 'GlobalDefault', Pool: '10.249.0.0/24', SubPool: '', Options: null, V6: false });
    expect(request(log, 'manager', 'IpamDriver.RequestAddress')).toMatchObject({ Address: '', Options: { RequestAddressType: 'com.docker.network.gateway', [SERIAL_OPTION]: 'true' } });
    // Appendix B: the manager's AllocateNetwork body.
    expect(request(log, 'manager', 'NetworkDriver.AllocateNetwork')).toEqual({ NetworkID: net.id, Options: { gk: 'gv' }, IPv4Data: [{ AddressSpace: '', Gateway: '10.249.0.1/24', Pool: '10.249.0.0/24' }], IPv6Data: null });
    expect(net.id).toMatch(/^[0-9a-z]{25}$/);
    expect(net.driverState).toEqual({ gk: 'gv', 'cnmkit.segment': '4096' });

    swarm.clearCallLog();
    await swarm.containerRun({ name: 't1', node: 'worker1', network: 'ov' });
    expect(calls(swarm.callLog())).toEqual([
      'manager: IpamDriver.RequestAddress',
      'worker1: IpamDriver.RequestPool',
      'worker1: IpamDriver.RequestAddress',
      'worker1: NetworkDriver.CreateNetwork',
      'worker1: IpamDriver.RequestAddress',
      'worker1: NetworkDriver.CreateEndpoint',
      'worker1: NetworkDriver.Join',
      'worker1: NetworkDriver.ProgramExternalConnectivity',
      'worker1: NetworkDriver.EndpointOperInfo',
      'worker1: NetworkDriver.EndpointOperInfo',
    ]);
    const l2 = swarm.callLog();
    expect(request(l2, 'manager', 'IpamDriver.RequestAddress')).toMatchObject({ Address: '', Options: { [SERIAL_OPTION]: 'true' } });
    expect(request(l2, 'worker1', 'IpamDriver.RequestPool')).toEqual({ AddressSpace: 'LocalDefault', Pool: '10.249.0.0/24', SubPool: '', Options: null, V6: false });
    expect(request(l2, 'worker1', 'IpamDriver.RequestAddress', 0)).toMatchObject({ Address: '10.249.0.1', Options: { RequestAddressType: 'com.docker.network.gateway' } });
    expect(request(l2, 'worker1', 'NetworkDriver.CreateNetwork')).toEqual({
      NetworkID: net.id,
      Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': { gk: 'gv', 'cnmkit.segment': '4096' } },
      IPv4Data: [{ AddressSpace: 'LocalDefault', Gateway: '10.249.0.1/24', Pool: '10.249.0.0/24' }],
      IPv6Data: [],
    });
    // The worker asks its IPAM for the address the manager allocated.
    expect(request(l2, 'worker1', 'IpamDriver.RequestAddress', 1)).toEqual({ PoolID: expect.any(String), Address: '10.249.0.2', Options: null });
    expect(hosts.get('worker1')!.driver.getNetwork(net.id)?.segment).toBe(4096);

    await swarm.containerRun({ name: 't2', node: 'worker2', network: 'ov' });
    expect(swarm.inspect().networks[0]!.nodes).toEqual(['worker1', 'worker2']);
    expect(hosts.get('worker2')!.driver.getNetwork(net.id)?.segment).toBe(4096);

    swarm.clearCallLog();
    await swarm.containerStop('t1');
    expect(calls(swarm.callLog())).toEqual([
      'worker1: NetworkDriver.RevokeExternalConnectivity',
      'worker1: NetworkDriver.Leave',
      'worker1: NetworkDriver.DeleteEndpoint',
      'worker1: IpamDriver.ReleaseAddress',
      'manager: IpamDriver.ReleaseAddress',
      'worker1: IpamDriver.ReleaseAddress',
      'worker1: IpamDriver.ReleasePool',
      'worker1: NetworkDriver.DeleteNetwork',
    ]);
    await expect(swarm.networkRm('ov')).rejects.toMatchObject({ step: 'validate', message: expect.stringContaining('in use by task t2') });
    await swarm.containerStop('t2');
    swarm.clearCallLog();
    await swarm.networkRm('ov');
    expect(calls(swarm.callLog())).toEqual(['manager: NetworkDriver.FreeNetwork', 'manager: IpamDriver.ReleaseAddress', 'manager: IpamDriver.ReleasePool']);
    expect(swarm.leaks()).toEqual([]);
    for (const h of hosts.values()) expect(h.driver.networkIds()).toEqual([]);
    expect(hosts.get('manager')!.driver.exportState().allocations).toBeUndefined();
  });

  it('AllocateNetwork failing: the manager releases the gateway and the pool, nothing reaches the workers', async () => {
    const { swarm } = await makeSwarm({ faults: { manager: [{ method: 'AllocateNetwork', fault: { kind: 'plugin-error', message: 'no segments' } }] } });
    await swarm.init();
    swarm.clearCallLog();
    const err = await swarm.networkCreate({ name: 'ov' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect(err).toMatchObject({ step: 'AllocateNetwork', operation: 'swarmNetworkCreate' });
    expect(calls(swarm.callLog())).toEqual([
      'manager: IpamDriver.GetDefaultAddressSpaces',
      'manager: IpamDriver.RequestPool',
      'manager: IpamDriver.RequestAddress',
      'manager: NetworkDriver.AllocateNetwork!',
      'manager: IpamDriver.ReleaseAddress',
      'manager: IpamDriver.ReleasePool',
    ]);
    expect(swarm.inspect().networks).toEqual([]);
  });

  it('FreeNetwork failing: swarm never releases the pools (reported as leaks)', async () => {
    const { swarm } = await makeSwarm({ workers: 1, faults: { manager: [{ method: 'FreeNetwork', fault: { kind: 'plugin-error' } }] } });
    await swarm.init();
    await swarm.networkCreate({ name: 'ov' });
    swarm.clearCallLog();
    await swarm.networkRm('ov');
    expect(calls(swarm.callLog())).toEqual(['manager: NetworkDriver.FreeNetwork!']);
    expect(swarm.leaks().map((l) => l.leak.kind)).toEqual(['pool']);
  });

  it('a worker whose CreateNetwork fails: the worker releases its pool, the manager the task address', async () => {
    const { swarm } = await makeSwarm({ workers: 1, faults: { worker1: [{ method: 'CreateNetwork', fault: { kind: 'plugin-error' } }] } });
    await swarm.init();
    await swarm.networkCreate({ name: 'ov', ipv4: [{ subnet: '10.8.0.0/24', gateway: '10.8.0.254' }] });
    swarm.clearCallLog();
    await expect(swarm.containerRun({ name: 't', node: 'worker1', network: 'ov' })).rejects.toMatchObject({ step: 'CreateNetwork' });
    expect(calls(swarm.callLog())).toEqual([
      'manager: IpamDriver.RequestAddress',
      'worker1: IpamDriver.RequestPool',
      'worker1: IpamDriver.RequestAddress',
      'worker1: NetworkDriver.CreateNetwork!',
      'worker1: IpamDriver.ReleaseAddress',
      'worker1: IpamDriver.ReleasePool',
      'manager: IpamDriver.ReleaseAddress',
    ]);
    expect(request(swarm.callLog(), 'worker1', 'IpamDriver.RequestAddress')).toMatchObject({ Address: '10.8.0.254' });
  });

  it('a local-scope driver: the manager allocates nothing, each worker uses its own IPAM', async () => {
    const { swarm } = await makeSwarm({ scope: 'local', workers: 1 });
    await swarm.init();
    swarm.clearCallLog();
    const n = await swarm.networkCreate({ name: 'mv', ipv4: [{ subnet: '10.9.0.0/24' }] });
    expect(n.nodeLocal).toBe(true);
    expect(swarm.callLog()).toEqual([]);
    await swarm.containerRun({ name: 't', node: 'worker1', network: 'mv' });
    expect(calls(swarm.callLog())[0]).toBe('worker1: IpamDriver.RequestPool');
    await swarm.containerStop('t');
    await swarm.networkRm('mv');
    expect(calls(swarm.callLog()).filter((c) => c.startsWith('manager'))).toEqual([]);
  });

  it('two networks get distinct segments; a segment handed out twice is refused by the worker', async () => {
    const { swarm, hosts } = await makeSwarm({ workers: 1 });
    await swarm.init();
    const a = await swarm.networkCreate({ name: 'a' });
    const b = await swarm.networkCreate({ name: 'b' });
    expect([a.driverState['cnmkit.segment'], b.driverState['cnmkit.segment']]).toEqual(['4096', '4097']);
    const w = hosts.get('worker1')!.driver;
    const data = [{ AddressSpace: 'LocalDefault', Gateway: '10.1.0.1/24', Pool: '10.1.0.0/24' }];
    await w.createNetwork({ NetworkID: 'x1', Options: { 'com.docker.network.generic': { 'cnmkit.segment': '4096' } }, IPv4Data: data, IPv6Data: [] }, ctx);
    await expect(w.createNetwork({ NetworkID: 'x2', Options: { 'com.docker.network.generic': { 'cnmkit.segment': '4096' } }, IPv4Data: [{ ...data[0]!, Pool: '10.2.0.0/24', Gateway: '10.2.0.1/24' }], IPv6Data: [] }, ctx)).rejects.toMatchObject({ code: 'E_DRIVER_CONFLICT' });
  });
});
