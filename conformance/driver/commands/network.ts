/** CreateNetwork (`docker network create`), DeleteNetwork (`docker network rm`) and re-creating a deleted network's id. */
import type { AsyncCommand } from 'fast-check';
import { formatCidr } from '../../cidr.js';
import { allocatePool, releasePool, trackNetwork } from '../addressing.js';
import { DriverIds } from '../ids.js';
import { type DriverModel, type ModelNetwork, slotInUse } from '../model.js';
import { type DriverSystem, networkRequest } from '../system.js';

async function create(m: DriverModel, r: DriverSystem, id: string, slot: number, again: boolean): Promise<void> {
  // The IPAM step first, as dockerd does; an IPAM refusal is the IPAM's business (the ipam suite judges it).
  const addressing = await allocatePool(r, r.design.mode, r.pool(slot));
  if (typeof addressing === 'string') {
    r.steps.push(`  (no network: ${addressing})`);
    return;
  }
  const net: ModelNetwork = { id, slot, pool: addressing.pool, addressing, endpoints: [], deleted: [] };
  const out = await r.call('CreateNetwork', networkRequest(r.ctx, id, addressing));
  if (!out.ok) {
    await releasePool(r, addressing);
    if (again) r.violate(DriverIds.deleteUndoes, `CreateNetwork of ${id.slice(0, 12)} (${addressing.label}) after its DeleteNetwork was refused: ${out.error.message}; the delete left the network behind`);
    else r.refused(`CreateNetwork on ${addressing.label}`, out);
    return;
  }
  trackNetwork(r, id, addressing);
  m.networks.push(net);
}

export class CreateNetworkCommand implements AsyncCommand<DriverModel, DriverSystem> {
  constructor(readonly slot: number) {}
  check(m: Readonly<DriverModel>): boolean {
    return !slotInUse(m, this.slot);
  }
  async run(m: DriverModel, r: DriverSystem): Promise<void> {
    r.steps.push(`${this.toString()} -> ${formatCidr(r.pool(this.slot))}`);
    await create(m, r, r.ids.next('net'), this.slot % r.slots, false);
  }
  toString(): string {
    return `CreateNetwork(slot ${this.slot})`;
  }
}

export class RecreateNetworkCommand implements AsyncCommand<DriverModel, DriverSystem> {
  constructor(readonly index: number) {}
  check(m: Readonly<DriverModel>): boolean {
    return m.deletedNetworks.some((d) => !slotInUse(m, d.slot));
  }
  async run(m: DriverModel, r: DriverSystem): Promise<void> {
    const free = m.deletedNetworks.filter((d) => !slotInUse(m, d.slot));
    const d = free[this.index % free.length]!;
    m.deletedNetworks.splice(m.deletedNetworks.indexOf(d), 1);
    r.steps.push(`${this.toString()} -> ${d.id.slice(0, 12)}`);
    await create(m, r, d.id, d.slot, true);
  }
  toString(): string {
    return `RecreateNetwork(${this.index})`;
  }
}

export class DeleteNetworkCommand implements AsyncCommand<DriverModel, DriverSystem> {
  constructor(readonly index: number) {}
  check(m: Readonly<DriverModel>): boolean {
    // dockerd refuses `network rm` while endpoints exist: no call is made.
    return m.networks.some((n) => n.endpoints.length === 0);
  }
  async run(m: DriverModel, r: DriverSystem): Promise<void> {
    const empty = m.networks.filter((n) => n.endpoints.length === 0);
    const net = empty[this.index % empty.length]!;
    r.steps.push(`${this.toString()} -> ${net.id.slice(0, 12)}`);
    // dockerd releases the gateway address and the pool before DeleteNetwork (protocol.md §0).
    await releasePool(r, net.addressing);
    const out = await r.call('DeleteNetwork', { NetworkID: net.id });
    // dockerd forgets the network whatever the answer (errors are only logged).
    m.networks.splice(m.networks.indexOf(net), 1);
    if (!out.ok) {
      r.violate(DriverIds.deleteUndoes, `DeleteNetwork of ${net.id.slice(0, 12)} without endpoints was refused: ${out.error.message}; dockerd deletes the network anyway and the plugin keeps it`);
      return;
    }
    r.resources.forget('network', net.id);
    m.deletedNetworks.push({ id: net.id, slot: net.slot });
  }
  toString(): string {
    return `DeleteNetwork(${this.index})`;
  }
}
