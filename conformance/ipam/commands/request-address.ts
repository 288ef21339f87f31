/** RequestAddress without a preferred address (`docker run`), plus the requests every address command shares. */
import type { AsyncCommand } from 'fast-check';
import { Options } from '../../../src/protocol/constants.js';
import { formatCidr, formatIp } from '../../cidr.js';
import { IpamIds } from '../ids.js';
import { type IpamModel, type ModelPool, UNREADABLE, autoUsable, describePool, freeForAuto, reservedIn } from '../model.js';
import type { IpamSystem } from '../system.js';

const GATEWAY_OPTIONS = { [Options.RequestAddressType]: Options.Gateway };

/** One automatic request against `pool`, with every invariant checked. Returns false when refused. */
export async function requestAuto(m: IpamModel, r: IpamSystem, pool: ModelPool, gateway: boolean): Promise<boolean> {
  const before = freeForAuto(pool);
  const out = await r.call('RequestAddress', { PoolID: pool.poolId, Address: '', Options: gateway ? GATEWAY_OPTIONS : null });
  const call = `${gateway ? 'gateway ' : ''}RequestAddress (automatic) on ${describePool(pool)}`;
  if (!out.ok) {
    if (before !== null) {
      r.checked(IpamIds.exhaustionCount);
      if (before === 0n) r.checked(IpamIds.exhaustionError);
    }
    // Addresses we released but the plugin may not have freed are another check's concern.
    if (before !== null && before - BigInt(pool.released.size) > 0n) {
      if (gateway) r.violate(IpamIds.gateway, `${call} refused with ${before} addresses free: ${out.error.message}`);
      r.violate(IpamIds.exhaustionCount, `${call} refused after ${autoUsable(pool) - before} of ${autoUsable(pool)} addresses were handed out (Docker hands out every usable address): ${out.error.message}`);
    }
    return false;
  }
  const addr = r.checkAddress(pool, out.value.Address, gateway ? 'gateway' : 'auto');
  // Judged after the answer: a /32 answer may have shown the routed design (every address usable).
  const free = freeForAuto(pool);
  // A free address outside the sub-pool is ipam.address-in-subpool's concern, not exhaustion.
  const freeOutsideRange = addr !== null && !pool.held.has(addr) && !reservedIn(pool, addr);
  if (free === 0n) r.checked(IpamIds.exhaustionError);
  if (free === 0n && !freeOutsideRange) {
    r.violate(IpamIds.exhaustionError, `${call} returned ${out.value.Address} although every usable address of ${formatCidr(pool.sub ?? pool.cidr)} is allocated; it must answer an error`);
  }
  if (addr !== null) r.hold(pool, addr);
  else pool.unknown.add(UNREADABLE); // some address was handed out but we cannot tell which
  return true;
}

/** One preferred request (`--ip`, `--aux-address`, or `--gateway` with the gateway marker). Returns false when refused. */
export async function requestPreferred(r: IpamSystem, pool: ModelPool, addr: bigint, gateway: boolean): Promise<boolean> {
  const text = formatIp(pool.cidr.family, addr);
  const out = await r.call('RequestAddress', { PoolID: pool.poolId, Address: text, Options: gateway ? GATEWAY_OPTIONS : null });
  const call = `${gateway ? 'gateway ' : ''}RequestAddress ${text} (preferred) on ${describePool(pool)}`;
  const reserved = reservedIn(pool, addr);
  const held = pool.held.has(addr);
  const unknown = pool.unknown.has(addr) || pool.unknown.has(UNREADABLE);
  r.checked(IpamIds.preferred);
  if (!out.ok) {
    if (!reserved && !held && !unknown) {
      if (pool.released.has(addr)) {
        r.checked(IpamIds.releasedAddress);
        r.violate(IpamIds.releasedAddress, `${call} refused although ${text} was released earlier: ${out.error.message}`);
      } else {
        r.violate(IpamIds.preferred, `${call} refused although ${text} is free: ${out.error.message}`);
      }
    }
    return false;
  }
  const got = r.checkAddress(pool, out.value.Address, 'preferred', text);
  if (got !== null && got !== addr) {
    r.violate(IpamIds.preferred, `${call} returned ${out.value.Address}: a preferred address must be honoured or refused`);
  }
  if (got === addr && held) {
    r.violate(IpamIds.preferred, `${call} granted although ${text} is already allocated in that pool; it must be refused as in use`);
  }
  if (got !== null) r.hold(pool, got);
  else pool.unknown.add(addr); // granted in a form we cannot read: its state is unknown
  return true;
}

/**
 * The gateway request of a new pool, as dockerd sends it at network create: once,
 * as the pool's first address request, automatic or the `--gateway` address, and
 * never when RequestPool's Data carried a gateway (protocol.md §4.1/§4.2). A refusal
 * fails the network create, and dockerd releases the pool.
 */
export async function requestGateway(m: IpamModel, r: IpamSystem, pool: ModelPool, preferred: bigint | null): Promise<void> {
  r.checked(IpamIds.gateway);
  const granted = preferred === null ? await requestAuto(m, r, pool, true) : await requestPreferred(r, pool, preferred, true);
  if (!granted) await dropPool(m, r, pool, 'its gateway was refused (network create fails)');
}

/** Tear a pool down the way `docker network rm` (or a failed network create) does: release its addresses, then ReleasePool. */
export async function dropPool(m: IpamModel, r: IpamSystem, pool: ModelPool, why: string): Promise<void> {
  const i = m.pools.indexOf(pool);
  if (i < 0) return;
  for (const addr of [...pool.held].sort((a, b) => (a < b ? -1 : 1))) {
    const text = formatIp(pool.cidr.family, addr);
    const out = await r.call('ReleaseAddress', { PoolID: pool.poolId, Address: text });
    r.resources.forgetAddress(pool.poolId, text);
    if (addr !== pool.dataGateway) {
      r.checked(IpamIds.releasedAddress);
      if (!out.ok) r.violate(IpamIds.releasedAddress, `ReleaseAddress ${text} (allocated) on ${describePool(pool)} failed: ${out.error.message}`);
    }
  }
  // dockerd releases a Data gateway even when it is no address of the pool (e.g. Calico's "0.0.0.0/0"); errors are only logged.
  if (pool.dataGatewayText !== null && pool.dataGateway === null) {
    const bare = pool.dataGatewayText.split('/')[0] ?? '';
    await r.call('ReleaseAddress', { PoolID: pool.poolId, Address: bare });
  }
  const out = await r.call('ReleasePool', { PoolID: pool.poolId });
  r.checked(IpamIds.releasedPool);
  if (!out.ok) r.violate(IpamIds.releasedPool, `ReleasePool on ${describePool(pool)} (${why}) failed: ${out.error.message}`);
  r.resources.forget('pool', pool.poolId);
  m.pools.splice(i, 1);
  if (!m.auto) m.releasedSlots.add(pool.slot);
}

export class RequestAddressCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(readonly poolIndex: number) {}

  check(m: Readonly<IpamModel>): boolean {
    return m.pools.length > 0;
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const pool = m.pools[this.poolIndex % m.pools.length]!;
    r.steps.push(`${this.toString()} -> ${formatCidr(pool.cidr)}`);
    await requestAuto(m, r, pool, false);
  }

  toString(): string {
    return `RequestAddress(pool ${this.poolIndex})`;
  }
}
