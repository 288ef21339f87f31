/**
 * `docker network create` as dockerd sends it (protocol.md §4.1/§4.2): RequestPool
 * for a free arena slot (optionally with a sub-pool, `--ip-range`; or Pool "" in
 * automatic mode), then the gateway RequestAddress unless the reply's Data carried
 * a gateway. The model follows the plugin: a pool other than the one asked for is
 * reported and then checked as the pool the plugin returned.
 */
import type { AsyncCommand } from 'fast-check';
import { Options } from '../../../src/protocol/constants.js';
import { type Cidr, contains, formatCidr, isReserved, overlaps, parseCidr, parseCidrWithAddress, sameCidr, sizeOf } from '../../cidr.js';
import { subPoolOf } from '../../pools.js';
import { IpamIds } from '../ids.js';
import { type IpamModel, type ModelPool, describePool, slotHeld } from '../model.js';
import type { IpamSystem } from '../system.js';
import { requestGateway } from './request-address.js';

export class RequestPoolCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(
    readonly slotIndex: number,
    readonly withSubPool: boolean,
    /** `--gateway`: offset of the preferred gateway in the pool; null = automatic gateway. */
    readonly gatewayOffset: number | null = null,
    /**
     * Aim at a subnet whose pool was released (a network created again after `docker
     * network rm`), picked by slotIndex; any slot when none is. Random slots rarely hit
     * one, and a flag (unlike a separate command) shrinks away to a plain request.
     */
    readonly reuseReleased = false,
  ) {}

  /** The slot this command asks for in model state m. */
  private target(m: Readonly<IpamModel>): number {
    if (this.reuseReleased && !m.auto) {
      const free = [...m.releasedSlots].filter((s) => !slotHeld(m, s)).sort((a, b) => a - b);
      if (free.length > 0) return free[this.slotIndex % free.length]!;
    }
    return this.slotIndex;
  }

  check(m: Readonly<IpamModel>): boolean {
    return !slotHeld(m, this.target(m));
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const { cidr, key } = r.slot(this.target(m));
    const auto = m.auto;
    const sub: Cidr | null = !auto && this.withSubPool ? subPoolOf(cidr) : null;
    r.steps.push(auto ? `RequestPool(automatic${cidr.family === 6 ? ', V6' : ''})` : `${this.toString()} -> ${formatCidr(cidr)}`);
    const req = auto ? r.poolRequest(null, null, cidr.family === 6) : r.poolRequest(cidr, sub);
    const asked = auto ? `automatic RequestPool (V6 ${cidr.family === 6})` : `RequestPool ${formatCidr(cidr)}${sub ? ` SubPool ${formatCidr(sub)}` : ''}`;
    const out = await r.call('RequestPool', req);
    if (!out.ok) {
      if (auto) {
        r.ctx.note(`${asked} refused: ${out.error.message}`);
      } else if (sub) {
        if (m.releasedSlots.has(key) && !(await this.requestableWithoutSubPool(r, cidr, asked))) return;
        r.ctx.note(`${asked} refused (--ip-range unsupported?): ${out.error.message}`);
      } else if (m.releasedSlots.has(key)) {
        r.checked(IpamIds.releasedPool);
        r.violate(IpamIds.releasedPool, `${asked} refused after that pool was released: ${out.error.message}`);
      } else if (!r.shared.explicitGranted) {
        // No explicit pool granted yet in this check: the plugin may serve only automatic or configured pools.
        r.shared.explicitRefusal ??= `${asked} refused: ${out.error.message}`;
      } else {
        r.checked(IpamIds.requestPool);
        r.violate(IpamIds.requestPool, `${asked} (free, overlapping no pool held) refused: ${out.error.message}`);
      }
      return;
    }
    const { PoolID, Pool, Data } = out.value;
    const where = `${asked} answered Pool ${JSON.stringify(Pool)} [PoolID ${PoolID}]`;
    r.resources.trackPool(r.caller, PoolID, req);
    if (!auto) r.shared.explicitGranted = true;
    r.checked(IpamIds.requestPool);
    if (m.releasedSlots.has(key)) r.checked(IpamIds.releasedPool);
    const got = parseCidr(Pool);
    if (!got) {
      r.violate(IpamIds.requestPool, `${where}: not a CIDR (dockerd fails with "invalid CIDR address")`);
      return;
    }
    if (!PoolID) {
      r.violate(IpamIds.requestPool, `${where}: an empty PoolID`);
      return;
    }
    const live = m.pools.find((p) => p.poolId === PoolID);
    if (live) {
      // Identical automatic requests may share one pool (docs/ipam.md: identical requests, identical results).
      if (auto && sameCidr(live.cidr, got)) {
        r.ctx.note(`${where} again: identical automatic requests share one pool`);
        return;
      }
      r.violate(IpamIds.requestPool, `${where}, a PoolID already naming the live pool ${describePool(live)}`);
      return;
    }
    if (!auto && !sameCidr(got, cidr)) {
      r.violate(IpamIds.requestPool, `${where}; the pool must be the requested subnet ${formatCidr(cidr)} (dockerd configures the network with the pool it gets)`);
    }
    if (auto) {
      if (got.family !== cidr.family) r.violate(IpamIds.requestPool, `${where}: an IPv${got.family} pool for V6 ${cidr.family === 6}`);
      const clash = m.pools.find((p) => overlaps(p.cidr, got));
      if (clash) {
        r.checked(IpamIds.overlap);
        r.violate(IpamIds.overlap, `${where}, overlapping the held pool ${describePool(clash)}: two networks would get the same addresses`);
      }
    }
    // From here on the model checks the pool the plugin returned.
    const keptSub = sub && got.family === sub.family && contains(got, sub.family, sub.base) && sizeOf(sub) <= sizeOf(got) ? sub : null;
    let dataGateway: bigint | null = null;
    const gwText = Data?.[Options.Gateway] || null;
    if (gwText) {
      const gw = parseCidrWithAddress(gwText);
      if (!gw) {
        r.violate(IpamIds.requestPool, `${where} with Data gateway ${JSON.stringify(gwText)}, not a CIDR (dockerd fails the network create)`);
      } else if (gw.cidr.prefix !== 0 && gw.cidr.prefix === got.prefix && contains(got, gw.cidr.family, gw.addr)) {
        r.checked(gw.cidr.family === 4 ? IpamIds.noNetworkBroadcast : IpamIds.v6Anycast);
        if (isReserved(got, gw.addr)) {
          r.violate(gw.cidr.family === 4 ? IpamIds.noNetworkBroadcast : IpamIds.v6Anycast, `${where} with Data gateway ${gwText}, a reserved address of ${formatCidr(got)}`);
        }
        dataGateway = gw.addr;
      } else {
        // Not an address of the pool (Calico's "0.0.0.0/0", a /0 marker): the gateway lives elsewhere (routed design).
        r.ctx.note(`${where} with Data gateway ${gwText}, no address of the pool: no gateway RequestAddress is sent (routed design)`);
      }
    }
    const pool: ModelPool = {
      poolId: PoolID,
      cidr: got,
      sub: keptSub,
      slot: key,
      held: new Set(),
      unknown: new Set(),
      released: new Set(),
      dataGateway,
      dataGatewayText: gwText,
      routed: false,
    };
    if (dataGateway !== null) pool.held.add(dataGateway);
    m.pools.push(pool);
    m.releasedSlots.delete(key);
    if (gwText) return;
    const preferred = !auto && this.gatewayOffset !== null ? got.base + (BigInt(this.gatewayOffset) % sizeOf(got)) : null;
    await requestGateway(m, r, pool, preferred);
  }

  /**
   * A refused SubPool on a released subnet may be an unsupported --ip-range, or the
   * released pool still holding the subnet: the same subnet is asked for without
   * SubPool (and released again when granted). Refused too: the pool leaked.
   */
  private async requestableWithoutSubPool(r: IpamSystem, cidr: Cidr, asked: string): Promise<boolean> {
    const req = r.poolRequest(cidr, null);
    const plain = await r.call('RequestPool', req);
    r.checked(IpamIds.releasedPool);
    if (!plain.ok) {
      r.violate(IpamIds.releasedPool, `${asked} refused, and RequestPool ${formatCidr(cidr)} without SubPool too, after that pool was released: ${plain.error.message}`);
      return false;
    }
    r.resources.trackPool(r.caller, plain.value.PoolID, req);
    const out = await r.call('ReleasePool', { PoolID: plain.value.PoolID });
    if (!out.ok) {
      // Still tracked: the clean-up tries again and reports it if it stays.
      r.violate(IpamIds.releasedPool, `ReleasePool of ${formatCidr(cidr)} [PoolID ${plain.value.PoolID}], granted without SubPool a moment before, failed: ${out.error.message}`);
      return false;
    }
    r.resources.forget('pool', plain.value.PoolID);
    return true;
  }

  toString(): string {
    return `RequestPool(${this.reuseReleased ? 'released ' : ''}slot ${this.slotIndex}${this.withSubPool ? ', with SubPool' : ''}${this.gatewayOffset !== null ? `, --gateway offset ${this.gatewayOffset}` : ''})`;
  }
}
