/**
 * The cross-instance model: the global address space as one set of pools and,
 * per pool, the addresses held (and through which instance). It knows nothing
 * about pool ids, address order or which instance "owns" what; it only knows
 * what must never happen across hosts: a pool one instance granted unknown to
 * another, an address held through one instance handed out by another, a
 * released subnet that stays taken.
 *
 * The system side runs the calls on the instances of one execution, journals
 * them with the instance's label and keeps what it created for cleanup.
 */
import type { CallOutcome } from '../../src/client/types.js';
import type { MethodKey, RequestOf, ResponseOf } from '../../src/protocol/methods.js';
import type { Cidr } from '../cidr.js';
import { Violation } from '../errors.js';
import { OutOfTime } from '../model-run.js';
import { Resources } from '../resources.js';
import type { CallSummary, CheckContext } from '../types.js';
import type { Cluster, Instance } from './instances.js';

export interface ModelPool {
  /** Arena slot it was requested for. */
  readonly slot: number;
  readonly cidr: Cidr;
  readonly poolId: string;
  /** Label of the instance that granted it. */
  readonly owner: string;
  /** Address -> label of the instance that handed it out. */
  readonly held: Map<bigint, string>;
  /** Addresses whose state we cannot know (a refused release: it may or may not have taken effect). */
  readonly unknown: Set<bigint>;
}

export interface MultiModel {
  readonly pools: ModelPool[];
  /** Slots whose pool was released: requesting them again on any instance must succeed. */
  readonly freed: Set<number>;
}

export function newMultiModel(): MultiModel {
  return { pools: [], freed: new Set() };
}

export const MULTI_MODEL_ID = 'multi.model';

export class MultiSystem {
  readonly steps: string[] = [];
  readonly records: CallOutcome<unknown>['record'][] = [];
  readonly resources: Resources;

  constructor(
    readonly ctx: CheckContext,
    readonly cluster: Cluster,
    /** The global space of each instance, by label. */
    readonly spaces: ReadonlyMap<string, string>,
    readonly slots: readonly Cidr[],
    readonly transport: { broken: boolean },
    readonly timeUp: () => boolean,
  ) {
    this.resources = new Resources(ctx.check.id, ctx.config.timeoutMs);
  }

  /** The calls of this execution (for the report). */
  get calls(): readonly CallSummary[] {
    return this.cluster.evidence(this.records).calls;
  }

  instance(index: number): Instance {
    return this.cluster.instances[index % this.cluster.instances.length]!;
  }

  /** One call on `inst`; a transport failure stops the run (no shrinking against a dead instance). */
  async call<K extends MethodKey>(inst: Instance, key: K, req: RequestOf<K>): Promise<CallOutcome<ResponseOf<K>>> {
    if (this.ctx.signal.aborted) throw new Error('check budget spent');
    if (this.timeUp()) throw new OutOfTime();
    const out = await inst.caller.tryCall(key, req, { timeoutMs: this.ctx.config.timeoutMs });
    this.records.push(out.record);
    if (!out.ok && (out.error.kind === 'timeout' || out.error.kind === 'transport-error')) {
      this.transport.broken = true;
      throw new Violation(`instance ${inst.label}: ${out.record.path}: ${out.error.message}`, MULTI_MODEL_ID);
    }
    return out;
  }

  violate(message: string): never {
    throw new Violation(message, MULTI_MODEL_ID);
  }

  async cleanup(): Promise<void> {
    await this.resources.cleanup();
  }
}
