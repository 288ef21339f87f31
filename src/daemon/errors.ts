/**
 * DaemonError: an operation of the simulated daemon failed where dockerd
 * would fail it. `message` is dockerd's text (what `docker ...` prints after
 * `Error response from daemon: `); `step` says which part of the sequence
 * failed; `status` is the HTTP status dockerd's API would answer with.
 */
import { CnmkitError } from '../errors.js';
import type { PluginCallError } from '../client/types.js';

/** Which part of an operation failed. */
export type DaemonStep =
  /** The daemon's own checks before any plugin call (names, `--ip`, CLI-side IPAM checks). */
  | 'validate'
  /** Plugin activation / driver resolution (protocol.md §1.7). */
  | 'activate'
  | 'GwAllocCheck'
  | 'RequestPool'
  | 'GatewayAddress'
  | 'AuxAddress'
  | 'CreateNetwork'
  | 'DeleteNetwork'
  /** The swarm manager's allocator (protocol.md §2.2, §4.9). */
  | 'AllocateNetwork'
  | 'FreeNetwork'
  | 'RequestAddress'
  | 'RequestAddressIPv6'
  | 'CreateEndpoint'
  | 'Join'
  | 'RevokeExternalConnectivity'
  | 'ProgramExternalConnectivity'
  | 'EndpointOperInfo'
  /** The daemon's own work on the sandbox (the OCI prestart hook, or Join of a running container). */
  | 'sandbox'
  /** Something only swarm could do (global-scope drivers). */
  | 'scope';

export type DaemonOperation =
  | 'networkCreate'
  | 'networkRm'
  | 'containerCreate'
  | 'containerStart'
  | 'containerStop'
  | 'containerRm'
  | 'networkConnect'
  | 'networkDisconnect'
  | 'daemonRestart'
  /** The swarm manager's allocator: network create / rm, a task's address (swarm.ts). */
  | 'swarmNetworkCreate'
  | 'swarmNetworkRm'
  | 'swarmTaskAllocate'
  | 'swarmTaskRelease'
  /** A worker creates a swarm network when its first task arrives (swarm.ts). */
  | 'swarmNetworkAttach'
  /** A managed plugin enabled on a swarm node (activation, DiscoverNew). */
  | 'pluginEnable';

export class DaemonError extends CnmkitError {
  readonly operation: DaemonOperation;
  readonly step: DaemonStep;
  /** HTTP status of dockerd's API answer (400, 403, 404, 409 or 500). */
  readonly status: number;
  /** The failed plugin call, when a call failed. */
  readonly callError: PluginCallError | undefined;
  constructor(operation: DaemonOperation, step: DaemonStep, message: string, opts: { status?: number; callError?: PluginCallError; cause?: unknown } = {}) {
    super('E_DAEMON', message, { cause: opts.cause ?? opts.callError });
    this.operation = operation;
    this.step = step;
    this.status = opts.status ?? 500;
    this.callError = opts.callError;
  }
}

/** Bad options given to `createDaemon` or an operation's argument shape (not a dockerd refusal). */
export class DaemonUsageError extends CnmkitError {
  constructor(message: string) {
    super('E_DAEMON_USAGE', message);
  }
}
