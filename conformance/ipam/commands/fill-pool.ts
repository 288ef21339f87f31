/** Request addresses until the model says the pool is full, then one more: exhaustion must be an error. */
import type { AsyncCommand } from 'fast-check';
import { formatCidr } from '../../cidr.js';
import { type IpamModel, freeForAuto } from '../model.js';
import type { IpamSystem } from '../system.js';
import { requestAuto } from './request-address.js';

const MAX_FILL = 300;

export class FillPoolCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(readonly poolIndex: number) {}

  check(m: Readonly<IpamModel>): boolean {
    if (m.pools.length === 0) return false;
    const free = freeForAuto(m.pools[this.poolIndex % m.pools.length]!);
    return free !== null && free < BigInt(MAX_FILL);
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    r.steps.push(`${this.toString()} -> ${formatCidr(pool.sub ?? pool.cidr)}`);
    for (let i = 0; i <= MAX_FILL; i++) {
      const free = freeForAuto(pool);
      const granted = await requestAuto(m, r, pool, false);
      if (!granted || free === null || free <= 0n) return;
    }
  }

  toString(): string {
    return `FillPool(pool ${this.poolIndex})`;
  }
}
