/**
 * RequestPool for a subnet overlapping a held pool (inside or around it). Docker
 * refuses it; a per-address allocator (one address set for every pool, Calico's
 * design) may grant it, since it still never hands out one address twice. So a
 * granted overlapping pool is probed: the addresses held in the other pool are
 * asked for in the new one, and automatic addresses of the new one are asked for
 * in the other pool. Only an address that really comes out twice is a violation.
 */
import type { AsyncCommand } from 'fast-check';
import { type Cidr, contains, formatCidr, formatIp, overlaps, parseCidr, parseCidrWithAddress, sameCidr } from '../../cidr.js';
import { innerOf, outerOf } from '../../pools.js';
import { IpamIds } from '../ids.js';
import { type IpamModel, describePool } from '../model.js';
import type { IpamSystem } from '../system.js';

/** How many held addresses / automatic addresses the probe tries. */
const PROBE = 4;

export class RequestOverlappingPoolCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(
    readonly poolIndex: number,
    readonly shape: 'inner' | 'outer',
  ) {}

  check(m: Readonly<IpamModel>): boolean {
    return m.pools.length > 0 && !m.auto;
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const held = m.pools[this.poolIndex % m.pools.length]!;
    const probe: Cidr | null = this.shape === 'inner' ? innerOf(held.cidr) : outerOf(held.cidr);
    if (!probe || m.pools.some((p) => sameCidr(p.cidr, probe))) return;
    r.steps.push(`${this.toString()} -> ${formatCidr(probe)} over ${formatCidr(held.cidr)}`);
    const req = r.poolRequest(probe, null);
    const out = await r.call('RequestPool', req);
    r.checked(IpamIds.overlap);
    if (!out.ok) return;
    const newId = out.value.PoolID;
    r.resources.trackPool(r.caller, newId, req);
    const got = parseCidr(out.value.Pool) ?? probe;
    const others = m.pools.filter((p) => overlaps(p.cidr, got));
    const fresh = `${formatCidr(got)} [PoolID ${newId}]`;
    r.ctx.note('overlapping pools are granted (a per-address allocator?): each grant is probed for an address handed out twice');
    const taken: { poolId: string; address: string }[] = [];
    const bare = (text: string): string | null => {
      const p = parseCidrWithAddress(text);
      return p ? formatIp(p.cidr.family, p.addr) : null;
    };
    let twice: string | null = null;
    // 1. Addresses allocated in the other pools, asked for in the new one: must be refused.
    probeHeld: for (const p of others) {
      for (const a of [...p.held].slice(0, PROBE)) {
        if (!contains(got, p.cidr.family, a)) continue;
        const text = formatIp(p.cidr.family, a);
        const res = await r.call('RequestAddress', { PoolID: newId, Address: text, Options: null });
        if (!res.ok) continue;
        const b = bare(res.value.Address);
        if (b) taken.push({ poolId: newId, address: b });
        if (b === text) {
          twice = `RequestAddress ${text} (preferred) on the new pool ${fresh} was granted while ${text} is allocated in ${describePool(p)}`;
          break probeHeld;
        }
      }
    }
    // 2. Automatic addresses of the new pool: never one held elsewhere, and refused when asked for in the other pool.
    for (let i = 0; i < PROBE && twice === null; i++) {
      const res = await r.call('RequestAddress', { PoolID: newId, Address: '', Options: null });
      if (!res.ok) break;
      const parsed = parseCidrWithAddress(res.value.Address);
      if (!parsed) break;
      const text = formatIp(parsed.cidr.family, parsed.addr);
      taken.push({ poolId: newId, address: text });
      for (const p of others) {
        if (p.held.has(parsed.addr)) {
          twice = `RequestAddress (automatic) on the new pool ${fresh} returned ${text}, allocated in ${describePool(p)}`;
          break;
        }
        if (!contains(p.cidr, parsed.cidr.family, parsed.addr)) continue;
        const again = await r.call('RequestAddress', { PoolID: p.poolId, Address: text, Options: null });
        if (!again.ok) continue;
        const b = bare(again.value.Address);
        if (b) taken.push({ poolId: p.poolId, address: b });
        if (b === text) {
          twice = `RequestAddress (automatic) on the new pool ${fresh} returned ${text}, then RequestAddress ${text} (preferred) on ${describePool(p)} was granted too`;
          break;
        }
      }
    }
    // Give everything back at once so the rest of the run is not disturbed.
    for (const t of taken.reverse()) await r.call('ReleaseAddress', { PoolID: t.poolId, Address: t.address });
    await r.call('ReleasePool', { PoolID: newId });
    r.resources.forget('pool', newId);
    if (twice !== null) {
      r.violate(IpamIds.overlap, `RequestPool ${formatCidr(probe)} was granted (PoolID ${newId}) while the overlapping pool ${others.map((p) => describePool(p)).join(', ')} is held, and ${twice}: two networks get the same address`);
    }
  }

  toString(): string {
    return `RequestOverlappingPool(pool ${this.poolIndex}, ${this.shape})`;
  }
}
