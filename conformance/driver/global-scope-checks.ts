/**
 * Global-scope drivers, as swarm drives them (protocol.md §2.2.4 AllocateNetwork and
 * FreeNetwork, §4.9): the manager's allocator sends AllocateNetwork with the
 * `--opt` map and the pools it took (AddressSpace "", IPv6Data null); its answer
 * becomes the generic map of every node's CreateNetwork, under the 25-character
 * swarm id; `docker network rm` ends with FreeNetwork, after which the manager
 * releases the pools; a new leader allocates every network again with the
 * earlier answer merged into the options.
 *
 * Local-scope drivers skip: swarm allocates nothing for them and never calls
 * AllocateNetwork / FreeNetwork. Every answer dockerd takes passes: empty or
 * null Options (drivers that need no cluster-wide state, as overlay-like
 * designs with their own control plane), extra keys, changed values.
 */
import type { PluginCaller } from '../../src/client/types.js';
import { Options } from '../../src/protocol/constants.js';
import type { RequestOf } from '../../src/protocol/methods.js';
import { createSwarm } from '../../src/daemon/swarm.js';
import { formatCidr } from '../cidr.js';
import { summarizeRecord } from '../counterexample.js';
import { defaultIpamStandIn, StandInHost } from '../lifecycle/harness.js';
import type { Check, CheckContext } from '../types.js';
import { ctxPort, driverDesign, releasePool, trackNetwork, type Design, type PoolAddressing } from './addressing.js';
import { join, openEndpoint, slotAddressing, teardown, type OpenNetwork } from './helpers.js';
import { IdSource } from './system.js';

/** Stable ids of the global-scope checks. */
export const GlobalScopeIds = {
  allocate: 'driver.global-allocate',
  createAllocated: 'driver.global-create-allocated',
  reallocate: 'driver.global-reallocate',
  free: 'driver.global-free',
  freeUnknown: 'driver.global-free-unknown-compat',
  swarmLifecycle: 'driver.global-swarm-lifecycle',
} as const;

/** Skips unless GetCapabilities says Scope "global". */
async function requireGlobalScope(ctx: CheckContext): Promise<void> {
  const caps = await ctx.caller.tryCall('NetworkGetCapabilities', undefined, { timeoutMs: ctx.config.timeoutMs });
  if (!caps.ok) ctx.skip(`precondition: GetCapabilities failed (${caps.error.message}); see protocol.network-capabilities`);
  if (caps.value.Scope !== 'global') ctx.skip(`Scope is ${JSON.stringify(caps.value.Scope)}: swarm allocates nothing for local-scope drivers and never sends them AllocateNetwork or FreeNetwork (protocol.md §2.2.4)`);
}

/** A swarm object id: 25 lower-case base-36 characters (swarmkit's identity.NewID). */
function swarmId(ids: IdSource): string {
  return BigInt(`0x${ids.next('swarm')}`).toString(36).padStart(25, '0').slice(-25);
}

/** What the manager's allocator sends for a network on `pool` (protocol.md Appendix B). */
function allocateRequest(ctx: CheckContext, id: string, pool: PoolAddressing, previous: Readonly<Record<string, string>> = {}): RequestOf<'AllocateNetwork'> {
  const gw = pool.data.Gateway;
  return {
    NetworkID: id,
    // The --opt map, merged with the driver state of an earlier allocation (a new leader).
    Options: { ...ctx.config.driverOpts, ...previous },
    IPv4Data: [{ AddressSpace: '', ...(gw !== undefined && gw !== '' ? { Gateway: gw } : {}), Pool: pool.data.Pool }],
    IPv6Data: null,
  };
}

/**
 * The addressing the design probe found. A global-scope driver may refuse every plain
 * CreateNetwork (Docker's overlay wants the VNIs AllocateNetwork handed out): then
 * swarm's usual default IPAM addressing is used.
 */
async function globalDesign(ctx: CheckContext): Promise<Design> {
  const d = await driverDesign(ctx);
  if (d.refusedAll === null) return d;
  ctx.note(`plain CreateNetwork was refused (${d.refusedAll}): the driver may need what AllocateNetwork hands out; default IPAM addressing used`);
  return { mode: 'default', routed: false, refusedAll: null, notes: [] };
}

/** The manager's allocation: pool addressing as the design uses it, AllocateNetwork, FreeNetwork registered for cleanup. */
async function allocated(ctx: CheckContext, caller: PluginCaller = ctx.caller): Promise<{ id: string; ids: IdSource; design: Design; pool: PoolAddressing; options: Record<string, string>; free: () => Promise<string | null> }> {
  await requireGlobalScope(ctx);
  const design = await globalDesign(ctx);
  const { port, addressing: pool } = await slotAddressing(ctx, design.mode, caller);
  const ids = new IdSource(ctx.seed);
  const id = swarmId(ids);
  const t = { timeoutMs: ctx.config.timeoutMs };
  const r = await caller.tryCall('AllocateNetwork', allocateRequest(ctx, id, pool), t);
  if (!r.ok) {
    await releasePool(port, pool);
    ctx.fail(`AllocateNetwork of swarm network ${id} on ${pool.label} failed (${r.error.message}): docker network create fails on the swarm manager`);
  }
  let freed = false;
  const free = async (): Promise<string | null> => {
    if (freed) return null;
    freed = true;
    ctx.resources.forget('swarm-allocation', id);
    const f = await caller.tryCall('FreeNetwork', { NetworkID: id }, t);
    return f.ok ? null : f.error.message;
  };
  ctx.resources.add({ kind: 'swarm-allocation', id, release: free });
  return { id, ids, design, pool, options: { ...(r.value.Options ?? {}) }, free };
}

/** CreateNetwork as a node's dockerd sends it for a swarm network: the swarm id, the allocation as generic map. */
function nodeCreateRequest(id: string, pool: PoolAddressing, generic: Readonly<Record<string, string>>): RequestOf<'CreateNetwork'> {
  return { NetworkID: id, Options: { [Options.Generic]: { ...generic }, [Options.EnableIPv6]: false }, IPv4Data: [pool.data], IPv6Data: [] };
}

export const globalAllocate: Check = {
  id: GlobalScopeIds.allocate,
  title: 'AllocateNetwork answers the swarm manager',
  level: 'must',
  reason:
    'protocol.md §2.2.4, §1.6: for a global-scope driver the swarm manager sends AllocateNetwork (swarm id, the --opt map, IPv4Data with AddressSpace "", IPv6Data null) on docker network create; an error or a 404 fails the create. Any Options map is accepted, empty or null included (drivers that keep no cluster-wide state).',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const a = await allocated(ctx);
    const n = Object.keys(a.options).length;
    ctx.note(n === 0 ? 'AllocateNetwork answered no options: every node gets the plain --opt map' : `AllocateNetwork answered ${n} option(s): ${Object.keys(a.options).sort().join(', ')}`);
  },
};

export const globalCreateAllocated: Check = {
  id: GlobalScopeIds.createAllocated,
  title: 'A node creates the network from the allocation',
  level: 'must',
  reason:
    'protocol.md §2.2.3, §4.9: a node creates a swarm network with the 25-character swarm id and AllocateNetwork\'s answer as com.docker.network.generic, its own IPAM\'s data for the manager\'s subnet; containers then get CreateEndpoint, Join, Leave, DeleteEndpoint, and the last one out sends DeleteNetwork. A refusal fails every task on that node. Sent here on a second connection (the node).',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const a = await allocated(ctx);
    const node = await ctx.connect();
    const port = ctxPort(ctx, node);
    const design = a.design;
    // The driver sees the same IPv4Data whether the node's IPAM answered for the manager's
    // subnet in its local space or not: the manager's addressing stands in for it.
    const t = { timeoutMs: ctx.config.timeoutMs };
    const c = await node.tryCall('CreateNetwork', nodeCreateRequest(a.id, a.pool, a.options), t);
    if (!c.ok) ctx.fail(`CreateNetwork of swarm network ${a.id} with the options AllocateNetwork answered (${JSON.stringify(a.options)}) failed: ${c.error.message}`);
    trackNetwork(port, a.id, a.pool);
    const net: OpenNetwork = { id: a.id, pool: a.pool.pool, gateway: a.pool.gateway, ids: a.ids, addressing: a.pool, design };
    const ep = await openEndpoint(ctx, net, 2, node);
    if (typeof ep === 'string') ctx.fail(`CreateEndpoint on swarm network ${a.id} failed: ${ep}`);
    const j = await join(ctx, net, ep, node);
    if (typeof j === 'string') ctx.fail(`Join on swarm network ${a.id} failed: ${j}`);
    // Teardown errors are only logged by dockerd (driver.delete-undoes judges what they leave): noted here.
    const down = await teardown(ctx, net, ep, node);
    if (down !== null) ctx.note(`tearing the container down on swarm network ${a.id}: ${down}`);
    await releasePool(port, a.pool);
    const d = await node.tryCall('DeleteNetwork', { NetworkID: a.id }, t);
    ctx.resources.forget('network', a.id);
    if (!d.ok) ctx.note(`DeleteNetwork of swarm network ${a.id} on the node answered an error (dockerd only logs it): ${d.error.message}`);
  },
};

export const globalReallocate: Check = {
  id: GlobalScopeIds.reallocate,
  title: 'AllocateNetwork accepts its own answer back',
  level: 'should',
  reason:
    'protocol.md §2.2.4 (Options merged with any previous driver state): a new swarm leader (or a restarted manager) allocates every network again, sending the --opt map merged with the earlier answer; an error leaves the network unallocated and its tasks unschedulable.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const a = await allocated(ctx);
    const again = await ctx.caller.tryCall('AllocateNetwork', allocateRequest(ctx, a.id, a.pool, a.options), { timeoutMs: ctx.config.timeoutMs });
    if (!again.ok) ctx.fail(`AllocateNetwork of ${a.id} again, with its earlier answer ${JSON.stringify(a.options)} merged in (a new leader), failed: ${again.error.message}`);
    const changed = Object.keys(a.options).filter((k) => again.value.Options?.[k] !== a.options[k]);
    if (changed.length > 0) ctx.note(`the second answer changed ${changed.join(', ')}: nodes that already created the network keep the first values`);
  },
};

export const globalFree: Check = {
  id: GlobalScopeIds.free,
  title: 'FreeNetwork answers after the nodes deleted the network',
  level: 'should',
  reason:
    'protocol.md §2.2.4, §4.9: on docker network rm the manager sends FreeNetwork before it releases the gateway and pool; on an error it stops there, so the network\'s pools stay allocated in the IPAM.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const a = await allocated(ctx);
    const err = await a.free();
    if (err !== null) ctx.fail(`FreeNetwork of ${a.id} failed (${err}): swarm never releases the network's gateway and pool`);
    await releasePool(ctxPort(ctx), a.pool);
  },
};

export const globalFreeUnknownCompat: Check = {
  id: GlobalScopeIds.freeUnknown,
  title: 'FreeNetwork of an unknown network answers success',
  level: 'compat',
  reason:
    'protocol.md §2.2.4, §4.7: a plugin restarted without state on the manager still gets FreeNetwork for networks it allocated before; an error there keeps their pools allocated. Docker\'s overlay driver answers success; an error is reported, never failed.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    await requireGlobalScope(ctx);
    const id = swarmId(new IdSource(ctx.seed ^ 0x5eed));
    const f = await ctx.caller.tryCall('FreeNetwork', { NetworkID: id }, { timeoutMs: ctx.config.timeoutMs });
    if (!f.ok) ctx.fail(`FreeNetwork of never-allocated ${id} answered an error (${f.error.message}): after a plugin restart without state, swarm would keep that network's pools`);
  },
};


/**
 * The whole choreography on the daemon simulator's swarm (src/daemon/swarm.ts):
 * the manager allocates, a worker creates the network from the allocation, two
 * tasks run on it and stop, the worker deletes the network, the manager frees it.
 * The manager and the worker are two connections to the plugin under test. The
 * addresses come from Docker's default IPAM (one instance per host, cnmkit's
 * reference IPAM playing it) unless the driver only works with its own IPAM.
 */
export const globalSwarmLifecycle: Check = {
  id: GlobalScopeIds.swarmLifecycle,
  title: 'Swarm network create, tasks and rm succeed',
  level: 'must',
  reason:
    'protocol.md §4.9: docker network create on the manager (pools in the global space, AllocateNetwork), a task on a node (RequestPool with the manager\'s subnet in the local space, CreateNetwork with the allocation, the manager\'s address, CreateEndpoint, Join, ...), its end (teardown, DeleteNetwork once the node has no endpoint left) and docker network rm (FreeNetwork, releases): a refusal anywhere fails the create, the task or leaves the network half made.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    await requireGlobalScope(ctx);
    const design = await globalDesign(ctx);
    const slot = ctx.pools.next().v4[0];
    if (!slot) ctx.skip('no IPv4 pool to test with (give an IPv4 --subnet)');
    const pluginIpam = design.mode === 'plugin' && ctx.capabilities.has('ipam');
    const closers: Array<() => Promise<void>> = [];
    const ipamFor = async (caller: PluginCaller): Promise<PluginCaller> => {
      if (pluginIpam) return caller;
      // dockerd's built-in default IPAM, one per host.
      const p = await defaultIpamStandIn(ctx.config.profile);
      closers.push(() => p.close());
      return p.client;
    };
    const workerCaller = await ctx.connect();
    const managerIpam = await ipamFor(pluginIpam ? await ctx.connect() : ctx.caller);
    const workerIpam = await ipamFor(pluginIpam ? await ctx.connect() : workerCaller);
    const swarm = createSwarm({
      manager: { name: 'manager', driver: ctx.caller, ipam: managerIpam, backend: new StandInHost({ seed: 1 }) },
      workers: [{ name: 'worker', driver: workerCaller, ipam: workerIpam, backend: new StandInHost({ seed: ctx.seed >>> 0 || 2 }) }],
      profile: ctx.config.profile,
      driverName: 'plugin-under-test',
      ids: ctx.seed >>> 0 || 1,
    });
    const steps: string[] = [];
    const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      steps.push(what);
      try {
        return await fn();
      } catch (e) {
        const calls = swarm.callLog().slice(-24).map((c) => summarizeRecord(c.entry.record));
        ctx.fail(`${what}: ${e instanceof Error ? e.message : String(e)}`, { steps: [...steps], calls });
      }
    };
    try {
      await step('swarm init (plugin enabled on each node)', () => swarm.init());
      const subnet = formatCidr(slot);
      await step(`docker network create -d plugin --subnet ${subnet} ov (manager)`, () => swarm.networkCreate({ name: 'ov', driverOpts: { ...ctx.config.driverOpts }, ipv4: [{ subnet }] }));
      await step('task t1 on the worker', () => swarm.containerRun({ name: 't1', node: 'worker', network: 'ov' }));
      await step('task t2 on the worker', () => swarm.containerRun({ name: 't2', node: 'worker', network: 'ov' }));
      await step('task t1 ends', () => swarm.containerStop('t1'));
      await step('task t2 ends (the worker deletes the network)', () => swarm.containerStop('t2'));
      await step('docker network rm ov (manager)', () => swarm.networkRm('ov'));
      for (const w of swarm.warnings()) ctx.note(`${w.node}: ${w.warning} (dockerd only logs it)`);
    } finally {
      swarm.close();
      for (const c of closers.reverse()) await c();
    }
  },
};
