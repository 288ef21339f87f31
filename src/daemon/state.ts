/**
 * The simulated daemon's shared state record and the operation context.
 *
 * Every module of the simulator (networks, containers, endpoints, join,
 * restart, views) is a set of functions over one `DaemonState`. An operation
 * (`docker network create`, `docker run`, ...) runs under an `Op`: the state,
 * the operation's name and `fail`, which throws the DaemonError dockerd would
 * answer with. Operations are serialised by `exclusive`.
 */
import type { Backend } from '../backend/backend.js';
import type { Activation } from '../client/activate.js';
import type { CallRecord, PluginCaller, PluginCallError } from '../client/types.js';
import type { Profile } from '../protocol/constants.js';
import type { MethodKey, RequestOf } from '../protocol/methods.js';
import { type Net, parseCidr } from '../net/index.js';
import { invalidCidr } from './addr.js';
import { DaemonError, DaemonUsageError, type DaemonOperation, type DaemonStep } from './errors.js';
import { createIdGenerator, type IdGenerator } from './ids.js';
import type { ContainerRec, NetworkRec } from './model.js';
import type { CallLogEntry, DaemonLeak, DaemonOptions } from './types.js';

/** Everything one simulated dockerd knows: its configuration, its store, its logs. */
export interface DaemonState {
  readonly profile: Profile;
  readonly driver: PluginCaller;
  readonly ipam: PluginCaller;
  readonly backend: Backend;
  readonly driverName: string;
  readonly ipamName: string;
  readonly ids: IdGenerator;
  readonly hostRoutes: readonly Net[];
  readonly maxOverlap: number;
  readonly managed: ReadonlyMap<PluginCaller, readonly string[]>;
  /** The IPAM is the built-in null IPAM: no address is not an error. */
  readonly nullIpam: boolean;
  readonly activations: Map<PluginCaller, Activation>;
  readonly networks: Map<string, NetworkRec>;
  readonly containers: Map<string, ContainerRec>;
  readonly log: CallLogEntry[];
  readonly warnings: string[];
  readonly leaks: DaemonLeak[];
  readonly leakedNamespaces: Set<string>;
  /** The operation running now (`idle` between operations), stamped on every call log entry. */
  operation: string;
  logIndex: number;
  /** The tail of the operation queue. */
  queue: Promise<unknown>;
}

export interface FailExtra {
  readonly status?: number;
  readonly callError?: PluginCallError;
}

/** The context of one running operation. */
export interface Op {
  readonly d: DaemonState;
  readonly operation: DaemonOperation;
  /** Ends the operation as dockerd would: a DaemonError of this operation at `step`. */
  fail(step: DaemonStep, message: string, extra?: FailExtra): never;
}

export function createState(o: DaemonOptions): DaemonState {
  if (o.driver === undefined || o.ipam === undefined || o.backend === undefined) throw new DaemonUsageError('createDaemon: driver, ipam and backend are required');
  const profile = o.profile ?? 'docker-20.10';
  if (profile !== 'docker-20.10' && profile !== 'moby') throw new DaemonUsageError(`createDaemon: unknown profile ${JSON.stringify(profile)}`);
  const driverName = o.driverName ?? 'cnmkit';
  return {
    profile,
    driver: o.driver,
    ipam: o.ipam,
    backend: o.backend,
    driverName,
    ipamName: o.ipamName ?? driverName,
    ids: typeof o.ids === 'object' ? o.ids : createIdGenerator(o.ids ?? 1),
    hostRoutes: (o.hostRoutes ?? []).map((t) => {
      const n = parseCidr(t);
      if (n === null) throw new DaemonUsageError(`createDaemon: hostRoutes: ${invalidCidr(t)}`);
      return n;
    }),
    maxOverlap: o.maxOverlapRetries ?? 64,
    managed: o.managed ?? new Map(),
    nullIpam: o.builtinIpam === 'null',
    activations: new Map(),
    networks: new Map(),
    containers: new Map(),
    log: [],
    warnings: [],
    leaks: [],
    leakedNamespaces: new Set(),
    operation: 'idle',
    logIndex: 0,
    queue: Promise.resolve(),
  };
}

/** An Op outside the queue, for work whose failures are only logged (teardown, replay). */
export function opOf(d: DaemonState, operation: DaemonOperation): Op {
  return {
    d,
    operation,
    fail(step, message, extra = {}) {
      throw new DaemonError(operation, step, message, extra);
    },
  };
}

/** Run one operation after the previous ones. */
export function exclusive<T>(d: DaemonState, operation: DaemonOperation, fn: (op: Op) => Promise<T>): Promise<T> {
  const run = async (): Promise<T> => {
    d.operation = operation;
    try {
      return await fn(opOf(d, operation));
    } finally {
      d.operation = 'idle';
    }
  };
  const p = d.queue.then(run, run);
  d.queue = p.catch(() => undefined);
  return p;
}

/** A call log entry: a view of the CallRecord; the request body is parsed on first access. */
class LogEntry implements CallLogEntry {
  private parsed: { v: unknown } | undefined = undefined;
  constructor(
    readonly index: number,
    readonly record: CallRecord,
    readonly operation: string,
  ) {}
  get call(): string {
    return this.record.path.slice(1);
  }
  get outcome(): CallRecord['outcome'] {
    return this.record.outcome;
  }
  get error(): string | undefined {
    return this.record.error;
  }
  get request(): unknown {
    if (this.parsed === undefined) {
      let v: unknown = null;
      if (this.record.request !== '') {
        try {
          v = JSON.parse(this.record.request);
        } catch {
          v = this.record.request;
        }
      }
      this.parsed = { v };
    }
    return this.parsed.v;
  }
  toJSON(): unknown {
    return { index: this.index, call: this.call, request: this.request, outcome: this.outcome, ...(this.error !== undefined ? { error: this.error } : {}), operation: this.operation };
  }
}

export function recordCall(d: DaemonState, r: CallRecord): void {
  d.log.push(new LogEntry(d.logIndex++, r, d.operation));
}

export function warn(d: DaemonState, msg: string): void {
  d.warnings.push(msg);
}

export function leak(d: DaemonState, l: Omit<DaemonLeak, 'operation'>): void {
  d.leaks.push({ ...l, operation: d.operation });
}

/** A call whose failure dockerd only logs. */
export async function logged<K extends MethodKey>(d: DaemonState, caller: PluginCaller, key: K, req: RequestOf<K>, what: string, on404Ok = false): Promise<boolean> {
  const r = await caller.tryCall(key, req);
  if (r.ok || (on404Ok && r.error.kind === 'not-implemented')) return true;
  warn(d, `${what}: ${r.error.message}`);
  return false;
}

// ---- lookups ---------------------------------------------------------------------------

export function findNetwork(d: DaemonState, idOrName: string): NetworkRec | undefined {
  const byId = d.networks.get(idOrName);
  if (byId !== undefined) return byId;
  for (const n of d.networks.values()) if (n.name === idOrName) return n;
  if (idOrName.length >= 1) {
    const pre = [...d.networks.values()].filter((n) => n.id.startsWith(idOrName));
    if (pre.length === 1) return pre[0];
  }
  return undefined;
}

export function findNetworkByName(d: DaemonState, name: string): NetworkRec | undefined {
  for (const n of d.networks.values()) if (n.name === name) return n;
  return undefined;
}

export function needNetwork(op: Op, idOrName: string): NetworkRec {
  const n = findNetwork(op.d, idOrName);
  if (n === undefined) op.fail('validate', `network ${idOrName} not found`, { status: 404 });
  return n;
}

export function needContainer(op: Op, name: string): ContainerRec {
  const cs = op.d.containers;
  const c = cs.get(name) ?? [...cs.values()].find((x) => x.id === name || (name.length >= 1 && x.id.startsWith(name)));
  if (c === undefined) op.fail('validate', `No such container: ${name}`, { status: 404 });
  return c;
}
