/**
 * ReleaseAddress as dockerd sends it: of an address it holds (container stop),
 * twice in a row (a retried or rolled-back release), or of one it released
 * before. dockerd never releases an address it was not given in that pool: a
 * release of the network or broadcast address would make Docker's own
 * allocator hand it out (ipam-semantics.md §2.4 D22), a flaw of no real run.
 */
import type { AsyncCommand } from 'fast-check';
import { formatIp } from '../../cidr.js';
import { IpamIds } from '../ids.js';
import { type IpamModel, describePool, releasable } from '../model.js';
import type { IpamSystem } from '../system.js';

export class ReleaseAddressCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(
    readonly poolIndex: number,
    /** Index into the allocated (held), released, or both (any) addresses of the pool. */
    readonly pick: number,
    /** `twice`: a held address released two times in a row. */
    readonly mode: 'held' | 'twice' | 'released' | 'any',
  ) {}

  private candidates(m: Readonly<IpamModel>): bigint[] {
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    if (this.mode === 'any') return releasable(pool);
    return [...(this.mode === 'released' ? pool.released : pool.held)].sort((a, b) => (a < b ? -1 : 1));
  }

  check(m: Readonly<IpamModel>): boolean {
    return m.pools.length > 0 && this.candidates(m).length > 0;
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    const from = this.candidates(m);
    const addr = from[this.pick % from.length]!;
    const text = formatIp(pool.cidr.family, addr);
    r.steps.push(`${this.toString()} -> ${text}`);
    const wasHeld = pool.held.has(addr);
    const out = await r.call('ReleaseAddress', { PoolID: pool.poolId, Address: text });
    // The second release of `twice` may succeed or fail; either way the address stays free.
    if (this.mode === 'twice') await r.call('ReleaseAddress', { PoolID: pool.poolId, Address: text });
    if (!wasHeld) return;
    pool.held.delete(addr);
    r.resources.forgetAddress(pool.poolId, text);
    if (addr === pool.dataGateway) {
      // A Data gateway may stay reserved by the plugin: its state is unknown from now on.
      pool.unknown.add(addr);
      return;
    }
    r.checked(IpamIds.releasedAddress);
    if (!out.ok) {
      r.violate(IpamIds.releasedAddress, `ReleaseAddress ${text} (allocated) on ${describePool(pool)} failed: ${out.error.message}`);
      pool.unknown.add(addr);
      return;
    }
    pool.released.add(addr);
  }

  toString(): string {
    return `ReleaseAddress(pool ${this.poolIndex}, ${this.mode} ${this.pick})`;
  }
}
