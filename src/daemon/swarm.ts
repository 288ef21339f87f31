/**
 * createSwarm: several simulated dockerd nodes in one swarm, driving a
 * global-scope network plugin as swarm does (protocol.md §2.2, §4.9).
 *
 * - init: every node enables the (managed) plugins: GetCapabilities, the IPAM
 *   handshake, and DiscoverNew for itself when the driver's connectivity is
 *   global. v1 plugins are rejected in swarm mode, so every caller is managed.
 * - network create (on the manager): the allocator of swarm-allocator.ts:
 *   pools and gateways in the global address space, then AllocateNetwork.
 * - a task / attachable container on a worker: the manager allocates its
 *   address (RequestAddress, serial); the worker creates the network the
 *   first time (its own IPAM: RequestPool in the local space with the
 *   manager's subnet, gateway RequestAddress with the manager's gateway; then
 *   CreateNetwork with the swarm id and AllocateNetwork's options as generic
 *   map), then starts the container with the manager's address (RequestAddress
 *   of that address, CreateEndpoint, Join, ...).
 * - the container stops: the worker tears its endpoint down, the manager
 *   releases the address, and a worker left without endpoints on the network
 *   releases its gateway and pool and sends DeleteNetwork.
 * - network rm (on the manager): refused while tasks use it; FreeNetwork, then
 *   the manager releases the gateways and pools.
 *
 * Each node has its own PluginCaller (its own plugin instance, or its own
 * connection to one shared instance): calls are attributed by caller.
 */
import type { Backend } from '../backend/backend.js';
import type { PluginCaller } from '../client/types.js';
import type { Profile } from '../protocol/constants.js';
import type { IpPrefix } from '../net/index.js';
import { createSwarmNode, type SwarmNodeDaemon } from './daemon.js';
import { DaemonError, DaemonUsageError } from './errors.js';
import { createIdGenerator, type IdGenerator } from './ids.js';
import { allocateNetwork, allocateTaskAddress, freeNetwork, releaseTaskAddress, type SwarmNetworkCreateSpec, type SwarmNetworkRec } from './swarm-allocator.js';
import { exclusive, type Op } from './state.js';
import type { CallLogEntry, ContainerView, DaemonLeak } from './types.js';

export type { SwarmNetworkCreateSpec } from './swarm-allocator.js';

/** One host of the swarm: its plugin caller(s), its backend, its address (DiscoverNew). */
export interface SwarmHostSpec {
  readonly name: string;
  readonly driver: PluginCaller;
  /** Default: the driver's caller (one plugin implementing both). */
  readonly ipam?: PluginCaller;
  readonly backend: Backend;
  /** The node's address announced in DiscoverNew (default 192.0.2.<n>). */
  readonly address?: string;
}

export interface SwarmOptions {
  readonly manager: SwarmHostSpec;
  readonly workers: readonly SwarmHostSpec[];
  /** Default `docker-20.10`. */
  readonly profile?: Profile;
  /** Plugin name (messages only; default `cnmkit`). */
  readonly driverName?: string;
  /** Id source seed (default 1). */
  readonly ids?: number;
}

export interface SwarmTaskSpec {
  readonly name: string;
  /** The worker it runs on. */
  readonly node: string;
  /** Swarm network name or id. */
  readonly network: string;
  /** A preferred address (`--ip` of an attachable container). */
  readonly ip?: string;
}

/** One plugin call in the swarm, with the node that made it. */
export interface SwarmCallLogEntry {
  readonly node: string;
  readonly entry: CallLogEntry;
}

export interface SwarmNetworkView {
  readonly id: string;
  readonly name: string;
  readonly nodeLocal: boolean;
  readonly pools: ReadonlyArray<{ readonly poolId: string; readonly pool: string; readonly gateway: string }>;
  /** AllocateNetwork's answer (every node's CreateNetwork generic map). */
  readonly driverState: Readonly<Record<string, string>>;
  /** Workers where the network exists now. */
  readonly nodes: readonly string[];
}

export interface Swarm {
  /** Plugins enabled on every node (activation, DiscoverNew). */
  init(): Promise<void>;
  networkCreate(spec: SwarmNetworkCreateSpec): Promise<SwarmNetworkView>;
  networkRm(name: string): Promise<void>;
  /** A task (or `docker run --network` of an attachable network) on a worker. */
  containerRun(spec: SwarmTaskSpec): Promise<ContainerView>;
  /** The task ends: worker teardown, the manager's release, the worker's network removed when unused. */
  containerStop(name: string): Promise<void>;
  inspect(): { networks: SwarmNetworkView[] };
  /** The node daemons (the manager is `manager`). */
  node(name: string): SwarmNodeDaemon;
  /** Every plugin call in the swarm, in the order made. */
  callLog(): readonly SwarmCallLogEntry[];
  clearCallLog(): void;
  warnings(): ReadonlyArray<{ node: string; warning: string }>;
  leaks(): ReadonlyArray<{ node: string; leak: DaemonLeak }>;
  close(): void;
}

const MANAGED_BOTH = ['docker.networkdriver/1.0', 'docker.ipamdriver/1.0'];

export function createSwarm(o: SwarmOptions): Swarm {
  return new SimulatedSwarm(o);
}

interface TaskRec {
  readonly name: string;
  readonly node: string;
  readonly network: SwarmNetworkRec;
  readonly address: { poolId: string; address: IpPrefix } | null;
}

class SimulatedSwarm implements Swarm {
  private readonly nodes = new Map<string, { daemon: SwarmNodeDaemon; address: string }>();
  private readonly managerName: string;
  private readonly ids: IdGenerator;
  private readonly networks = new Map<string, SwarmNetworkRec>();
  private readonly tasks = new Map<string, TaskRec>();
  private readonly log: SwarmCallLogEntry[] = [];
  private readonly unsubscribe: Array<() => void> = [];

  constructor(o: SwarmOptions) {
    if (o === null || typeof o !== 'object' || o.manager === undefined || !Array.isArray(o.workers)) throw new DaemonUsageError('createSwarm: a manager and a list of workers are required');
    this.ids = createIdGenerator(o.ids ?? 1);
    this.managerName = o.manager.name;
    const callers = new Set<PluginCaller>();
    [o.manager, ...o.workers].forEach((h, i) => {
      if (this.nodes.has(h.name)) throw new DaemonUsageError(`createSwarm: two nodes named ${h.name}`);
      const ipam = h.ipam ?? h.driver;
      for (const c of new Set([h.driver, ipam])) {
        // A caller shared by two nodes would make their calls indistinguishable.
        if (callers.has(c)) throw new DaemonUsageError(`createSwarm: node ${h.name} shares a plugin caller with another node; give each node its own connection`);
        callers.add(c);
      }
      const managed = new Map<PluginCaller, readonly string[]>(ipam === h.driver ? [[h.driver, MANAGED_BOTH]] : [[h.driver, [MANAGED_BOTH[0]!]], [ipam, [MANAGED_BOTH[1]!]]]);
      const daemon = createSwarmNode({ driver: h.driver, ipam, backend: h.backend, profile: o.profile, driverName: o.driverName, ids: this.ids, managed });
      this.nodes.set(h.name, { daemon, address: h.address ?? `192.0.2.${i + 2}` });
      const node = h.name;
      for (const c of new Set([h.driver, ipam])) {
        this.unsubscribe.push(
          c.onCall(() => {
            // The node daemon has just logged it: take its newest entry.
            const own = daemon.callLog();
            const entry = own[own.length - 1];
            if (entry !== undefined) this.log.push({ node, entry });
          }),
        );
      }
    });
  }

  private get manager(): SwarmNodeDaemon {
    return this.nodes.get(this.managerName)!.daemon;
  }

  node(name: string): SwarmNodeDaemon {
    const n = this.nodes.get(name);
    if (n === undefined) throw new DaemonUsageError(`swarm: no node named ${name}`);
    return n.daemon;
  }

  async init(): Promise<void> {
    for (const { daemon, address } of this.nodes.values()) await daemon.enablePlugins(address);
  }

  private findNetwork(idOrName: string): SwarmNetworkRec | undefined {
    return this.networks.get(idOrName) ?? [...this.networks.values()].find((n) => n.name === idOrName);
  }

  /** A swarm object id: 25 lower-case base-36 characters, as swarmkit's identity.NewID. */
  private swarmId(): string {
    return BigInt(`0x${this.ids.id()}`).toString(36).padStart(25, '0').slice(-25);
  }

  networkCreate(spec: SwarmNetworkCreateSpec): Promise<SwarmNetworkView> {
    const m = this.manager.state;
    return exclusive(m, 'swarmNetworkCreate', async (op: Op) => {
      if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string') throw new DaemonUsageError('swarm networkCreate: a spec with a name is required');
      if (spec.name.trim() === '') op.fail('validate', `invalid name: ${JSON.stringify(spec.name)}`, { status: 400 });
      if (this.findNetwork(spec.name) !== undefined) op.fail('validate', `network with name ${spec.name} already exists`, { status: 409 });
      const n = await allocateNetwork(op, this.swarmId(), spec);
      this.networks.set(n.id, n);
      return this.view(n);
    });
  }

  networkRm(name: string): Promise<void> {
    const m = this.manager.state;
    return exclusive(m, 'swarmNetworkRm', async (op: Op) => {
      const n = this.findNetwork(name);
      if (n === undefined) op.fail('validate', `network ${name} not found`, { status: 404 });
      const users = [...this.tasks.values()].filter((t) => t.network === n).map((t) => t.name);
      if (users.length > 0) op.fail('validate', `rpc error: code = FailedPrecondition desc = network ${n.id} is in use by task ${users[0]}`, { status: 400 });
      this.networks.delete(n.id);
      await freeNetwork(m, n);
    });
  }

  async containerRun(spec: SwarmTaskSpec): Promise<ContainerView> {
    if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string' || typeof spec.node !== 'string' || typeof spec.network !== 'string') {
      throw new DaemonUsageError('swarm containerRun: a spec with name, node and network is required');
    }
    const worker = this.node(spec.node);
    const m = this.manager.state;
    const setup = await exclusive(m, 'swarmTaskAllocate', async (op: Op) => {
      const n = this.findNetwork(spec.network);
      if (n === undefined) op.fail('validate', `network ${spec.network} not found`, { status: 404 });
      if (this.tasks.has(spec.name)) op.fail('validate', `Conflict. The container name "/${spec.name}" is already in use`, { status: 409 });
      return { n, address: await allocateTaskAddress(op, n, spec.ip ?? null) };
    });
    const { n, address } = setup;
    try {
      if (!worker.hasNetwork(n.id)) {
        await worker.swarmNetworkAttach({
          id: n.id,
          name: n.name,
          driverOptions: n.driverState,
          ipamOptions: n.nodeLocal ? (n.spec.ipamOpts ?? {}) : n.ipamOptions,
          ipv4: n.nodeLocal ? (n.spec.ipv4 ?? []) : n.pools.map((p) => ({ subnet: p.pool.net.text, ...(p.ipRange !== '' ? { ipRange: p.ipRange } : {}), gateway: p.gateway })),
          internal: n.spec.internal === true,
        });
      }
      const ip = address === null ? spec.ip : address.address.text.slice(0, address.address.text.indexOf('/'));
      const view = await worker.containerRun({ name: spec.name, networks: [{ network: n.id, ...(ip !== undefined ? { ip } : {}) }] });
      this.tasks.set(spec.name, { name: spec.name, node: spec.node, network: n, address });
      return view;
    } catch (e) {
      // The task failed: its address goes back, and an unused network leaves the worker.
      await this.releaseTask({ name: spec.name, node: spec.node, network: n, address }, false);
      throw e;
    }
  }

  containerStop(name: string): Promise<void> {
    const t = this.tasks.get(name);
    if (t === undefined) return Promise.reject(new DaemonError('containerStop', 'validate', `No such container: ${name}`, { status: 404 }));
    this.tasks.delete(name);
    return this.releaseTask(t, true);
  }

  /** Worker teardown (container removed), the manager's release, then the worker's network if unused. */
  private async releaseTask(t: TaskRec, started: boolean): Promise<void> {
    const worker = this.node(t.node);
    if (started) await worker.containerRm(t.name, { force: true });
    else await worker.containerRm(t.name, { force: true }).catch(() => undefined);
    const m = this.manager.state;
    if (t.address !== null) {
      const address = t.address;
      await exclusive(m, 'swarmTaskRelease', async () => releaseTaskAddress(m, t.network, address));
    }
    if (worker.hasNetwork(t.network.id) && !worker.networkInUse(t.network.id)) {
      await worker.networkRm(t.network.id).catch((e: unknown) => {
        worker.state.warnings.push(`removing swarm network ${t.network.name}: ${e instanceof Error ? e.message : String(e)}`);
      });
    }
  }

  private view(n: SwarmNetworkRec): SwarmNetworkView {
    return {
      id: n.id,
      name: n.name,
      nodeLocal: n.nodeLocal,
      pools: n.pools.map((p) => ({ poolId: p.poolId, pool: p.pool.text, gateway: p.gateway })),
      driverState: { ...n.driverState },
      nodes: [...this.nodes.entries()].filter(([, v]) => v.daemon.hasNetwork(n.id)).map(([k]) => k),
    };
  }

  inspect(): { networks: SwarmNetworkView[] } {
    return { networks: [...this.networks.values()].map((n) => this.view(n)) };
  }

  callLog(): readonly SwarmCallLogEntry[] {
    return this.log;
  }

  clearCallLog(): void {
    this.log.length = 0;
    for (const { daemon } of this.nodes.values()) daemon.clearCallLog();
  }

  warnings(): ReadonlyArray<{ node: string; warning: string }> {
    return [...this.nodes.entries()].flatMap(([node, { daemon }]) => daemon.warnings().map((warning) => ({ node, warning })));
  }

  leaks(): ReadonlyArray<{ node: string; leak: DaemonLeak }> {
    return [...this.nodes.entries()].flatMap(([node, { daemon }]) => daemon.leaks().map((leak) => ({ node, leak })));
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe.length = 0;
    for (const { daemon } of this.nodes.values()) daemon.close();
  }
}

