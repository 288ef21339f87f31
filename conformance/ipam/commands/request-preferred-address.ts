/** RequestAddress for a given address (`--ip`, `--aux-address`): anywhere in the pool, reserved, held or free. */
import type { AsyncCommand } from 'fast-check';
import { formatIp, sizeOf } from '../../cidr.js';
import type { IpamModel } from '../model.js';
import type { IpamSystem } from '../system.js';
import { requestPreferred } from './request-address.js';

export class RequestPreferredAddressCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(
    readonly poolIndex: number,
    readonly offset: number,
  ) {}

  check(m: Readonly<IpamModel>): boolean {
    // dockerd refuses --ip on a network without --subnet before any plugin call (protocol.md §4.3).
    return m.pools.length > 0 && !m.auto;
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    const addr = pool.cidr.base + (BigInt(this.offset) % sizeOf(pool.cidr));
    r.steps.push(`${this.toString()} -> ${formatIp(pool.cidr.family, addr)}`);
    await requestPreferred(r, pool, addr, false);
  }

  toString(): string {
    return `RequestPreferredAddress(pool ${this.poolIndex}, offset ${this.offset})`;
  }
}
