/**
 * ReleaseAddress of an allocated address, of one released before (a double
 * release, as dockerd's retries and rollbacks send), or of any address of the
 * pool: releasing a free one is allowed and must change nothing.
 */
import type { AsyncCommand } from 'fast-check';
import { formatIp, sizeOf } from '../../cidr.js';
import { IpamIds } from '../ids.js';
import type { IpamModel } from '../model.js';
import type { IpamSystem } from '../system.js';

export class ReleaseAddressCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(
    readonly poolIndex: number,
    /** Index into the allocated (held) or released addresses, or offset in the pool (any). */
    readonly pick: number,
    /** `twice`: a held address released two times in a row (a retried or rolled-back release). */
    readonly mode: 'held' | 'twice' | 'released' | 'any',
  ) {}

  check(m: Readonly<IpamModel>): boolean {
    if (m.pools.length === 0) return false;
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    return this.mode === 'any' || (this.mode === 'released' ? pool.released.size > 0 : pool.held.size > 0);
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    let addr: bigint;
    if (this.mode !== 'any') {
      const from = [...(this.mode === 'released' ? pool.released : pool.held)].sort((a, b) => (a < b ? -1 : 1));
      addr = from[this.pick % from.length]!;
    } else {
      addr = pool.cidr.base + (BigInt(this.pick) % sizeOf(pool.cidr));
    }
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
    if (!out.ok) {
      r.violate(IpamIds.releasedAddress, `ReleaseAddress ${text} (allocated) failed: ${out.error.message}`);
      pool.unknown.add(addr);
      return;
    }
    pool.released.add(addr);
  }

  toString(): string {
    return `ReleaseAddress(pool ${this.poolIndex}, ${this.mode} ${this.pick})`;
  }
}
