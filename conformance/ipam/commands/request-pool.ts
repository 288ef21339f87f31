/** RequestPool for a free arena slot (optionally with a sub-pool, `--ip-range`). */
import type { AsyncCommand } from 'fast-check';
import { type Cidr, formatCidr, isReserved, contains, parseCidr, parseCidrWithAddress, sameCidr } from '../../cidr.js';
import { Options } from '../../../src/protocol/constants.js';
import { subPoolOf } from '../../pools.js';
import { IpamIds } from '../ids.js';
import { type IpamModel, type ModelPool, slotHeld } from '../model.js';
import type { IpamSystem } from '../system.js';

export class RequestPoolCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(
    readonly slotIndex: number,
    readonly withSubPool: boolean,
  ) {}

  check(m: Readonly<IpamModel>): boolean {
    return !slotHeld(m, this.slotIndex);
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const { cidr, key } = r.slot(this.slotIndex);
    const sub: Cidr | null = this.withSubPool ? subPoolOf(cidr) : null;
    r.steps.push(this.toString());
    const req = r.poolRequest(cidr, sub);
    const out = await r.call('RequestPool', req);
    if (!out.ok) {
      if (m.releasedSlots.has(key)) {
        r.violate(IpamIds.releasedPool, `RequestPool ${formatCidr(cidr)} refused after that pool was released: ${out.error.message}`);
      } else if (!sub) {
        r.violate(IpamIds.requestPool, `RequestPool ${formatCidr(cidr)} (free, overlapping nothing held) refused: ${out.error.message}`);
      } else {
        r.ctx.note(`RequestPool with SubPool ${formatCidr(sub)} refused (--ip-range unsupported?): ${out.error.message}`);
      }
      return;
    }
    const { PoolID, Pool, Data } = out.value;
    const got = parseCidr(Pool);
    if (!got || !sameCidr(got, cidr)) {
      r.violate(IpamIds.requestPool, `RequestPool ${formatCidr(cidr)} answered Pool ${JSON.stringify(Pool)}; the pool must be the requested subnet (dockerd configures the network with it)`);
    }
    if (!PoolID) r.violate(IpamIds.requestPool, `RequestPool ${formatCidr(cidr)} answered an empty PoolID`);
    if (m.pools.some((p) => p.poolId === PoolID)) {
      r.violate(IpamIds.requestPool, `RequestPool ${formatCidr(cidr)} answered PoolID ${JSON.stringify(PoolID)}, already used by another live pool`);
    }
    r.resources.trackPool(r.caller, PoolID, req);
    if (!got || !sameCidr(got, cidr) || !PoolID || m.pools.some((p) => p.poolId === PoolID)) return;
    let dataGateway: bigint | null = null;
    const gwText = Data?.[Options.Gateway];
    if (gwText) {
      const gw = parseCidrWithAddress(gwText);
      if (!gw || !contains(cidr, gw.cidr.family, gw.addr)) {
        r.violate(IpamIds.inPool, `RequestPool ${formatCidr(cidr)} returned gateway ${JSON.stringify(gwText)} in Data, not a CIDR inside the pool`);
      } else {
        if (isReserved(cidr, gw.addr)) r.violate(IpamIds.noNetworkBroadcast, `RequestPool Data gateway ${gwText} is a reserved address of ${formatCidr(cidr)}`);
        dataGateway = gw.addr;
      }
    }
    const pool: ModelPool = { poolId: PoolID, cidr, sub, slot: key, held: new Set(), unknown: new Set(), released: new Set(), dataGateway };
    if (dataGateway !== null) pool.held.add(dataGateway);
    m.pools.push(pool);
    m.releasedSlots.delete(key);
  }

  toString(): string {
    return `RequestPool(slot ${this.slotIndex}${this.withSubPool ? ', with SubPool' : ''})`;
  }
}
