/** RequestPool for a subnet overlapping a held pool (inside or around it): must be refused. */
import type { AsyncCommand } from 'fast-check';
import { type Cidr, formatCidr, overlaps, sameCidr } from '../../cidr.js';
import { innerOf, outerOf } from '../../pools.js';
import { IpamIds } from '../ids.js';
import type { IpamModel } from '../model.js';
import type { IpamSystem } from '../system.js';

export class RequestOverlappingPoolCommand implements AsyncCommand<IpamModel, IpamSystem> {
  constructor(
    readonly poolIndex: number,
    readonly shape: 'inner' | 'outer',
  ) {}

  check(m: Readonly<IpamModel>): boolean {
    return m.pools.length > 0;
  }

  async run(m: IpamModel, r: IpamSystem): Promise<void> {
    const held = m.pools[this.poolIndex % m.pools.length]!;
    const probe: Cidr | null = this.shape === 'inner' ? innerOf(held.cidr) : outerOf(held.cidr);
    if (!probe || m.pools.some((p) => sameCidr(p.cidr, probe))) return;
    r.steps.push(`${this.toString()} -> ${formatCidr(probe)} over ${formatCidr(held.cidr)}`);
    const out = await r.call('RequestPool', r.poolRequest(probe, null));
    if (!out.ok) return;
    // Accepted: give it back at once so the rest of the run is not disturbed.
    await r.call('ReleasePool', { PoolID: out.value.PoolID });
    const others = m.pools.filter((p) => overlaps(p.cidr, probe)).map((p) => formatCidr(p.cidr));
    r.violate(
      IpamIds.overlap,
      `RequestPool ${formatCidr(probe)} was granted (PoolID ${JSON.stringify(out.value.PoolID)}) while the overlapping pool ${others.join(', ')} is held: two networks would get the same addresses`,
    );
  }

  toString(): string {
    return `RequestOverlappingPool(pool ${this.poolIndex}, ${this.shape})`;
  }
}
