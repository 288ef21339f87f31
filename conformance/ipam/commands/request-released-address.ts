/** Ask again, as a preferred address, for one that was released earlier: it must be granted. */
import type { AsyncCommand } from 'fast-check';
import { formatIp } from '../../cidr.js';
import type { IpamModel } from '../model.js';
import type { IpamSystem } from '../system.js';
import { requestPreferred } from './request-address.js';

export class RequestReleasedAddressCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(
    readonly poolIndex: number,
    readonly pick: number,
  ) {}

  check(m: Readonly<IpamModel>): boolean {
    return m.pools.length > 0 && !m.auto && m.pools[this.poolIndex % m.pools.length]!.released.size > 0;
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    const released = [...pool.released].sort((a, b) => (a < b ? -1 : 1));
    const addr = released[this.pick % released.length]!;
    r.steps.push(`${this.toString()} -> ${formatIp(pool.cidr.family, addr)}`);
    // Same expectations as any preferred request.
    await requestPreferred(r, pool, addr, false);
  }

  toString(): string {
    return `RequestReleasedAddress(pool ${this.poolIndex}, ${this.pick})`;
  }
}
