/**
 * `createIpam(options)`: the reference IPAM as an `IpamApi` (serve it with the
 * SDK, call it in-process), plus an inspection API for teaching tools.
 *
 * Without `stateDir` every method answers synchronously (a thrown IpamError
 * on failure). With `stateDir` the state change is applied at once in memory
 * and the answer (success or error) is released only when the journal is
 * durable up to that point, so nothing acknowledged can be lost by a crash.
 */
import type { IpamApi } from '../protocol/api.js';
import type * as m from '../protocol/messages.js';
import { Allocator, type AddressRun, type IpamRecord, type IpamStats, type PoolInfo, type StateSnapshot } from './allocator.js';
import { IpamError, type IpamProfile } from './errors.js';
import { Journal, type RecoveryReport } from './journal.js';
import type { AddressPoolSpec } from './predefined.js';

export interface IpamOptions {
  /** Behaviour profile; default 'docker-20.10'. */
  profile?: IpamProfile;
  /** Local predefined pools (dockerd `default-address-pools`); empty/undefined keeps Docker's list. */
  defaultAddressPools?: readonly AddressPoolSpec[];
  /** Global predefined pools (swarm `--default-addr-pool`); empty/undefined keeps 10.0.0.0/8 split /24. */
  globalAddressPools?: readonly AddressPoolSpec[];
  /** Persist every acknowledged change in this directory (journal + snapshots, one owner at a time). */
  stateDir?: string;
  /** Compaction threshold of the journal in bytes (default 16 MiB). */
  compactBytes?: number;
  /** Reported in GetCapabilities; default false (state survives on its own; a replayed RequestPool would hit "Pool overlaps"). */
  requiresRequestReplay?: boolean;
  /** Accept explicit pools in any non-empty address space (20.10 refuses them: `cannot find address space`). */
  customAddressSpaces?: boolean;
}

export interface JournalStats {
  generation: number;
  /** Records appended since open. */
  records: number;
  /** Synchronous journal writes: fewer than records when calls share a group commit. */
  flushes: number;
  compactions: number;
}

export interface ReferenceIpam extends IpamApi {
  readonly profile: IpamProfile;
  getCapabilities(): m.IpamCapabilitiesResponse;
  getDefaultAddressSpaces(): m.AddressSpacesResponse;
  requestPool(req: m.RequestPoolRequest): m.RequestPoolResponse | Promise<m.RequestPoolResponse>;
  releasePool(req: m.PoolIdRequest): m.EmptyResponse | Promise<m.EmptyResponse>;
  requestAddress(req: m.RequestAddressRequest): m.RequestAddressResponse | Promise<m.RequestAddressResponse>;
  releaseAddress(req: m.ReleaseAddressRequest): m.EmptyResponse | Promise<m.EmptyResponse>;
  /** Every pool entry (masters and sub-pools) with counts; cheap for huge pools. */
  pools(): PoolInfo[];
  pool(poolId: string): PoolInfo | undefined;
  /** Allocated addresses of a pool's master as runs (reserved ones left out), at most `limit` runs (default 1000). */
  addresses(poolId: string, limit?: number): AddressRun[];
  /** Whether an address is held in the pool's master. Throws IpamError for an unknown pool. */
  isAllocated(poolId: string, address: string): boolean;
  stats(): IpamStats;
  /** What recovery found (null without stateDir). */
  readonly recovery: RecoveryReport | null;
  /** Journal counters (null without stateDir). */
  journalStats(): JournalStats | null;
  /** Resolves when every change so far is on disk (immediately without stateDir). */
  flush(): Promise<void>;
  /** Writes a snapshot now and starts a new journal (no-op without stateDir). */
  compact(): Promise<void>;
  /** Flushes, closes the journal and releases the state lock. Later calls fail with E_IPAM_CLOSED. */
  close(): Promise<void>;
}

/** Without a state directory every answer is synchronous. */
export interface SyncReferenceIpam extends ReferenceIpam {
  requestPool(req: m.RequestPoolRequest): m.RequestPoolResponse;
  releasePool(req: m.PoolIdRequest): m.EmptyResponse;
  requestAddress(req: m.RequestAddressRequest): m.RequestAddressResponse;
  releaseAddress(req: m.ReleaseAddressRequest): m.EmptyResponse;
}

export type MemoryIpamOptions = Omit<IpamOptions, 'stateDir'> & { stateDir?: undefined };

export function createIpam(options?: MemoryIpamOptions): SyncReferenceIpam;
export function createIpam(options: IpamOptions): ReferenceIpam;
export function createIpam(options: IpamOptions = {}): ReferenceIpam {
  return new Reference(options);
}

class Reference implements ReferenceIpam {
  private readonly alloc: Allocator;
  private readonly journal: Journal | null;
  private readonly replay: boolean;
  private closed = false;
  readonly recovery: RecoveryReport | null;

  constructor(opts: IpamOptions) {
    this.alloc = new Allocator(opts);
    this.replay = opts.requiresRequestReplay === true;
    if (opts.stateDir === undefined) {
      this.journal = null;
      this.recovery = null;
      return;
    }
    const alloc = this.alloc;
    this.journal = Journal.open(
      opts.stateDir,
      (text) => alloc.importState(JSON.parse(text) as StateSnapshot),
      (payload) => {
        const rec = JSON.parse(payload) as IpamRecord | ['N'];
        if (rec[0] !== 'N') alloc.apply(rec);
      },
      { compactBytes: opts.compactBytes },
    );
    this.recovery = this.journal.recovery;
    const journal = this.journal;
    journal.snapshotSource = () => JSON.stringify(alloc.exportState());
    alloc.journal = (rec) => journal.append(JSON.stringify(rec));
  }

  get profile(): IpamProfile {
    return this.alloc.profile;
  }

  getCapabilities(): m.IpamCapabilitiesResponse {
    return { RequiresMACAddress: false, RequiresRequestReplay: this.replay };
  }

  getDefaultAddressSpaces(): m.AddressSpacesResponse {
    return this.alloc.getDefaultAddressSpaces();
  }

  requestPool(req: m.RequestPoolRequest): m.RequestPoolResponse | Promise<m.RequestPoolResponse> {
    return this.run(() => this.alloc.requestPool(req));
  }

  releasePool(req: m.PoolIdRequest): m.EmptyResponse | Promise<m.EmptyResponse> {
    return this.run(() => this.alloc.releasePool(req));
  }

  requestAddress(req: m.RequestAddressRequest): m.RequestAddressResponse | Promise<m.RequestAddressResponse> {
    return this.run(() => this.alloc.requestAddress(req));
  }

  releaseAddress(req: m.ReleaseAddressRequest): m.EmptyResponse | Promise<m.EmptyResponse> {
    return this.run(() => this.alloc.releaseAddress(req));
  }

  /** Applies now; with a journal, answers once everything up to here is durable. */
  private run<T>(op: () => T): T | Promise<T> {
    if (this.closed) throw this.alloc.errors.closed();
    const j = this.journal;
    if (j === null) return op();
    let result: T;
    try {
      result = op();
    } catch (e) {
      // An error may rest on changes not yet on disk: release it after them too.
      if (!(e instanceof IpamError)) throw e;
      return j.durable().then(() => Promise.reject(e));
    }
    return j.durable().then(() => result);
  }

  pools(): PoolInfo[] {
    return this.alloc.pools();
  }

  pool(poolId: string): PoolInfo | undefined {
    return this.alloc.pool(poolId);
  }

  addresses(poolId: string, limit?: number): AddressRun[] {
    return this.alloc.addresses(poolId, limit);
  }

  isAllocated(poolId: string, address: string): boolean {
    return this.alloc.isAllocated(poolId, address);
  }

  stats(): IpamStats {
    return this.alloc.stats();
  }

  journalStats(): JournalStats | null {
    const j = this.journal;
    return j === null ? null : { generation: j.generation, records: j.appended, flushes: j.flushes, compactions: j.compactions };
  }

  flush(): Promise<void> {
    return this.journal === null ? Promise.resolve() : this.journal.durable();
  }

  async compact(): Promise<void> {
    if (this.journal !== null) await this.journal.compactNow();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.journal !== null) await this.journal.close();
  }
}
