/**
 * createDaemon: a simulated dockerd that drives a network driver and an IPAM
 * through the call sequences of protocol.md §4 (20.10 by default, moby's
 * differences of §3 with `profile: 'moby'`), does the daemon's own part on the
 * Backend, and fails where dockerd fails, with dockerd's texts.
 *
 * This class is the front door only. The work is in modules over one shared
 * state record (state.ts), following libnetwork so that every rollback falls
 * out of the same code path as in Go:
 * - activation.ts: plugin resolution (protocol.md §1.7);
 * - networks.ts: network create = ipamAllocate + CreateNetwork with deferred
 *   releases; network rm;
 * - containers.ts: create / start / stop / rm, connect / disconnect;
 * - endpoints.ts: connectToNetwork (CreateEndpoint with its address, sbJoin,
 *   updateJoinInfo), endpoint delete, sandbox delete;
 * - join.ts: sbJoin / sbLeave, the gateway endpoint, the OCI hook
 *   (populateNetworkResources);
 * - restart.ts: daemon restart and the IPAM request replay;
 * - views.ts: inspect views and verifySandboxes.
 *
 * Operations are serialised: a call waits for the previous one to finish.
 */
import type { Profile } from '../protocol/constants.js';
import { containerCreate, containerRm, containerStart, containerStop, networkConnect, networkDisconnect } from './containers.js';
import { resolveDriver, resolveIpam } from './activation.js';
import { networkCreate, networkRm, swarmNetworkCreate, type SwarmNetworkSpec } from './networks.js';
import { daemonRestart } from './restart.js';
import { createState, exclusive, needContainer, recordCall, type DaemonState } from './state.js';
import type { CallLogEntry, ContainerRunSpec, ContainerView, DaemonLeak, DaemonOptions, DaemonRestartSpec, DaemonView, NetworkAttachSpec, NetworkCreateSpec, NetworkView } from './types.js';
import { containerView, inspect, networkView, verifySandboxes } from './views.js';

export interface SimulatedDaemon {
  readonly profile: Profile;
  networkCreate(spec: NetworkCreateSpec): Promise<NetworkView>;
  networkRm(name: string): Promise<void>;
  /** `docker run -d`: create, start on the first network, connect the others. */
  containerRun(spec: ContainerRunSpec): Promise<ContainerView>;
  /** `docker create`: no plugin calls. */
  containerCreate(spec: ContainerRunSpec): Promise<ContainerView>;
  containerStart(name: string): Promise<ContainerView>;
  containerStop(name: string): Promise<void>;
  /** `docker rm [-f]`. */
  containerRm(name: string, opts?: { force?: boolean }): Promise<void>;
  networkConnect(container: string, network: string, opts?: Omit<NetworkAttachSpec, 'network'>): Promise<void>;
  networkDisconnect(container: string, network: string): Promise<void>;
  daemonRestart(spec?: DaemonRestartSpec): Promise<void>;
  inspect(): DaemonView;
  /** Every plugin call made so far, in order. */
  callLog(): readonly CallLogEntry[];
  clearCallLog(): void;
  /** What dockerd would have logged as warnings (errors it ignores). */
  warnings(): readonly string[];
  /** State left behind by documented dockerd behaviour (failed releases, the IPv6 address leak, ...). */
  leaks(): readonly DaemonLeak[];
  /**
   * Compare every sandbox with the backend: exactly lo plus the daemon's
   * interfaces (names, up, MAC, addresses) and the expected default routes.
   * Returns the problems as sentences (empty = consistent).
   */
  verifySandboxes(): Promise<string[]>;
  /** Stops listening to the callers (does not close them). */
  close(): void;
}

export function createDaemon(opts: DaemonOptions): SimulatedDaemon {
  return new Daemon(createState(opts));
}

/** A daemon that is a swarm node: the entry points the swarm choreography (swarm.ts) drives. */
export interface SwarmNodeDaemon extends SimulatedDaemon {
  /** The node's state record (the manager's allocator runs over it). */
  readonly state: DaemonState;
  /** `docker plugin enable` on a swarm node: activation, and DiscoverNew for the node itself when the driver's connectivity is global. */
  enablePlugins(address: string): Promise<void>;
  /** The cluster executor creates a swarm network for the first task on this node. */
  swarmNetworkAttach(spec: SwarmNetworkSpec): Promise<NetworkView>;
  /** True while the network exists on this node. */
  hasNetwork(id: string): boolean;
  /** True while the network has endpoints on this node. */
  networkInUse(id: string): boolean;
}

export function createSwarmNode(opts: DaemonOptions): SwarmNodeDaemon {
  return new Daemon(createState(opts));
}

class Daemon implements SwarmNodeDaemon {
  readonly profile: Profile;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly d: DaemonState) {
    this.profile = d.profile;
    this.unsubscribe.push(d.driver.onCall((r) => recordCall(d, r)));
    if (d.ipam !== d.driver) this.unsubscribe.push(d.ipam.onCall((r) => recordCall(d, r)));
  }

  networkCreate(spec: NetworkCreateSpec): Promise<NetworkView> {
    return exclusive(this.d, 'networkCreate', async (op) => networkView(this.d, await networkCreate(op, spec)));
  }

  networkRm(name: string): Promise<void> {
    return exclusive(this.d, 'networkRm', (op) => networkRm(op, name));
  }

  containerCreate(spec: ContainerRunSpec): Promise<ContainerView> {
    return exclusive(this.d, 'containerCreate', async (op) => containerView(this.d, containerCreate(op, spec)));
  }

  containerRun(spec: ContainerRunSpec): Promise<ContainerView> {
    const created = exclusive(this.d, 'containerCreate', async (op) => containerCreate(op, spec));
    return created.then(async (c) => {
      await exclusive(this.d, 'containerStart', (op) => containerStart(op, c));
      for (const extra of spec.networks.slice(1)) {
        const { network, ...rest } = extra;
        await this.networkConnect(c.name, network, rest);
      }
      return containerView(this.d, c);
    });
  }

  containerStart(name: string): Promise<ContainerView> {
    return exclusive(this.d, 'containerStart', async (op) => {
      const c = needContainer(op, name);
      await containerStart(op, c);
      return containerView(this.d, c);
    });
  }

  containerStop(name: string): Promise<void> {
    return exclusive(this.d, 'containerStop', (op) => containerStop(op, name));
  }

  containerRm(name: string, opts: { force?: boolean } = {}): Promise<void> {
    return exclusive(this.d, 'containerRm', (op) => containerRm(op, name, opts.force === true));
  }

  networkConnect(container: string, network: string, opts: Omit<NetworkAttachSpec, 'network'> = {}): Promise<void> {
    return exclusive(this.d, 'networkConnect', (op) => networkConnect(op, container, network, opts));
  }

  networkDisconnect(container: string, network: string): Promise<void> {
    return exclusive(this.d, 'networkDisconnect', (op) => networkDisconnect(op, container, network));
  }

  daemonRestart(spec: DaemonRestartSpec = {}): Promise<void> {
    return exclusive(this.d, 'daemonRestart', () => daemonRestart(this.d, spec));
  }

  get state(): DaemonState {
    return this.d;
  }

  enablePlugins(address: string): Promise<void> {
    return exclusive(this.d, 'pluginEnable', async (op) => {
      const drv = await resolveDriver(op);
      await resolveIpam(op);
      const caps = drv.driverCapabilities!;
      const connectivity = caps.ConnectivityScope !== undefined && caps.ConnectivityScope !== '' ? caps.ConnectivityScope : caps.Scope;
      if (connectivity !== 'global') return;
      // Node discovery for the node itself; errors are only logged (protocol.md §1.6).
      const r = await this.d.driver.tryCall('DiscoverNew', { DiscoveryType: 1, DiscoveryData: { Address: address, BindAddress: address, Self: true } });
      if (!r.ok) this.d.warnings.push(`DiscoverNew: ${r.error.message}`);
    });
  }

  swarmNetworkAttach(spec: SwarmNetworkSpec): Promise<NetworkView> {
    return exclusive(this.d, 'swarmNetworkAttach', async (op) => networkView(this.d, await swarmNetworkCreate(op, spec)));
  }

  hasNetwork(id: string): boolean {
    return this.d.networks.has(id);
  }

  networkInUse(id: string): boolean {
    return (this.d.networks.get(id)?.endpoints.size ?? 0) > 0;
  }

  inspect(): DaemonView {
    return inspect(this.d);
  }

  callLog(): readonly CallLogEntry[] {
    return this.d.log;
  }

  clearCallLog(): void {
    this.d.log.length = 0;
  }

  warnings(): readonly string[] {
    return this.d.warnings;
  }

  leaks(): readonly DaemonLeak[] {
    return this.d.leaks;
  }

  verifySandboxes(): Promise<string[]> {
    return verifySandboxes(this.d);
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe.length = 0;
  }
}
