/** RequestAddress without a preferred address: an endpoint (`docker run`) or the gateway (network create). */
import type { AsyncCommand } from 'fast-check';
import { Options } from '../../../src/protocol/constants.js';
import { formatCidr } from '../../cidr.js';
import { IpamIds } from '../ids.js';
import { type IpamModel, type ModelPool, UNREADABLE, autoUsable, describePool, freeForAuto } from '../model.js';
import type { IpamSystem } from '../system.js';

/** One automatic request against `pool`, with every invariant checked. Returns false when refused. */
export async function requestAuto(m: IpamModel, r: IpamSystem, pool: ModelPool, gateway: boolean): Promise<boolean> {
  const free = freeForAuto(pool);
  const out = await r.call('RequestAddress', {
    PoolID: pool.poolId,
    Address: '',
    Options: gateway ? { [Options.RequestAddressType]: Options.Gateway } : null,
  });
  if (!out.ok) {
    // Addresses we released but the plugin may not have freed are another check's concern.
    if (free !== null && free - BigInt(pool.released.size) > 0n) {
      if (gateway) r.violate(IpamIds.gateway, `gateway RequestAddress on ${describePool(pool)} refused with ${free} addresses free: ${out.error.message}`);
      r.violate(IpamIds.exhaustionCount, `RequestAddress on ${describePool(pool)} refused after ${autoUsable(pool) - free} of ${autoUsable(pool)} addresses were handed out (Docker hands out every usable address): ${out.error.message}`);
    }
    return false;
  }
  const addr = r.checkAddress(pool, out.value.Address, gateway ? 'gateway' : 'auto');
  if (free === 0n) {
    r.violate(IpamIds.exhaustionError, `RequestAddress on ${describePool(pool)} returned ${out.value.Address} although every usable address of ${formatCidr(pool.sub ?? pool.cidr)} is allocated; it must answer an error`);
  }
  if (addr !== null) r.hold(pool, addr);
  else pool.unknown.add(UNREADABLE); // some address was handed out but we cannot tell which
  return true;
}

export class RequestAddressCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(
    readonly poolIndex: number,
    readonly gateway: boolean,
  ) {}

  check(m: Readonly<IpamModel>): boolean {
    if (m.pools.length === 0) return false;
    return !this.gateway || m.pools[this.poolIndex % m.pools.length]!.dataGateway === null;
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    r.steps.push(`${this.toString()} -> ${formatCidr(pool.cidr)}`);
    await requestAuto(m, r, pool, this.gateway);
  }

  toString(): string {
    return `RequestAddress(pool ${this.poolIndex}${this.gateway ? ', gateway' : ''})`;
  }
}
