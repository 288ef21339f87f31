/** RequestAddress for a given address (`--ip`, `--aux-address`, or `--gateway` with the gateway marker). */
import type { AsyncCommand } from 'fast-check';
import { Options } from '../../../src/protocol/constants.js';
import { formatIp, isReserved, sizeOf } from '../../cidr.js';
import { IpamIds } from '../ids.js';
import { type IpamModel, UNREADABLE, describePool } from '../model.js';
import type { IpamSystem } from '../system.js';

export class RequestPreferredAddressCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(
    readonly poolIndex: number,
    readonly offset: number,
    readonly asGateway = false,
  ) {}

  check(m: Readonly<IpamModel>): boolean {
    return m.pools.length > 0;
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    const addr = pool.cidr.base + (BigInt(this.offset) % sizeOf(pool.cidr));
    const text = formatIp(pool.cidr.family, addr);
    r.steps.push(`${this.toString()} -> ${text}`);
    const out = await r.call('RequestAddress', {
      PoolID: pool.poolId,
      Address: text,
      Options: this.asGateway ? { [Options.RequestAddressType]: Options.Gateway } : null,
    });
    const reserved = isReserved(pool.cidr, addr);
    const held = pool.held.has(addr);
    const unknown = pool.unknown.has(addr) || pool.unknown.has(UNREADABLE);
    if (!out.ok) {
      if (!reserved && !held && !unknown) {
        if (pool.released.has(addr)) r.violate(IpamIds.releasedAddress, `RequestAddress ${text} refused although it was released earlier: ${out.error.message}`);
        else r.violate(IpamIds.preferred, `RequestAddress ${text} (free) in ${describePool(pool)} refused: ${out.error.message}`);
      }
      return;
    }
    const got = r.checkAddress(pool, out.value.Address, 'preferred');
    if (got !== null && got !== addr) {
      r.violate(IpamIds.preferred, `RequestAddress asked for ${text} and got ${out.value.Address}: a preferred address must be honoured or refused`);
    }
    if (got === addr && held) {
      r.violate(IpamIds.preferred, `RequestAddress ${text} granted although ${text} is already allocated; it must be refused as in use`);
    }
    if (got !== null) r.hold(pool, got);
    else pool.unknown.add(addr); // granted in a form we cannot read: its state is unknown
  }

  toString(): string {
    return `RequestPreferredAddress(pool ${this.poolIndex}, offset ${this.offset}${this.asGateway ? ', gateway' : ''})`;
  }
}
