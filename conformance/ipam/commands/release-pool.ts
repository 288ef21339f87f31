/** Tear a pool down the way `docker network rm` does: release its addresses, then ReleasePool. */
import type { AsyncCommand } from 'fast-check';
import { formatCidr, formatIp } from '../../cidr.js';
import { IpamIds } from '../ids.js';
import type { IpamModel } from '../model.js';
import type { IpamSystem } from '../system.js';

export class ReleasePoolCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(readonly poolIndex: number) {}

  check(m: Readonly<IpamModel>): boolean {
    return m.pools.length > 0;
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const i = this.poolIndex % m.pools.length;
    const pool = m.pools[i]!;
    r.steps.push(`${this.toString()} -> ${formatCidr(pool.cidr)}`);
    for (const addr of [...pool.held].sort((a, b) => (a < b ? -1 : 1))) {
      const text = formatIp(pool.cidr.family, addr);
      const out = await r.call('ReleaseAddress', { PoolID: pool.poolId, Address: text });
      r.resources.forgetAddress(pool.poolId, text);
      if (!out.ok && addr !== pool.dataGateway) {
        r.violate(IpamIds.releasedAddress, `ReleaseAddress ${text} (allocated) in ${formatCidr(pool.cidr)} failed: ${out.error.message}`);
      }
    }
    const out = await r.call('ReleasePool', { PoolID: pool.poolId });
    if (!out.ok) {
      r.violate(IpamIds.releasedPool, `ReleasePool ${JSON.stringify(pool.poolId)} (${formatCidr(pool.cidr)}) failed: ${out.error.message}`);
    }
    r.resources.forget('pool', pool.poolId);
    m.pools.splice(i, 1);
    m.releasedSlots.add(pool.slot);
  }

  toString(): string {
    return `ReleasePool(pool ${this.poolIndex})`;
  }
}
