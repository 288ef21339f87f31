/** Tear a pool down the way `docker network rm` does: release its addresses (gateway included), then ReleasePool. */
import type { AsyncCommand } from 'fast-check';
import { formatCidr } from '../../cidr.js';
import type { IpamModel } from '../model.js';
import type { IpamSystem } from '../system.js';
import { dropPool } from './request-address.js';

export class ReleasePoolCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(readonly poolIndex: number) {}

  check(m: Readonly<IpamModel>): boolean {
    return m.pools.length > 0;
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    r.steps.push(`${this.toString()} -> ${formatCidr(pool.cidr)}`);
    await dropPool(m, r, pool, 'docker network rm');
  }

  toString(): string {
    return `ReleasePool(pool ${this.poolIndex})`;
  }
}
