/**
 * The driver's in-memory state to and from its JSON form (`DriverState`):
 * deep copies both ways, so neither side can change the other's records.
 */
import { DriverError } from './errors.js';
import { DRIVER_STATE_VERSION, checkState, type AllocationRecord, type DriverState, type NetworkRecord, type NodeRecord } from './state.js';

export function exportDriverState(networks: Iterable<NetworkRecord>, nodes: Iterable<NodeRecord>, allocations: Iterable<AllocationRecord>): DriverState {
  const allocs = [...allocations];
  // Written only when there are some: states of local-scope drivers stay as they were.
  return structuredClone({ version: DRIVER_STATE_VERSION, networks: [...networks], nodes: [...nodes], ...(allocs.length > 0 ? { allocations: allocs } : {}) });
}

/** The maps a DriverState describes; E_DRIVER_STATE when malformed. */
export function importDriverState(state: DriverState): { networks: Map<string, NetworkRecord>; nodes: Map<string, NodeRecord>; allocations: Map<string, AllocationRecord> } {
  const s = checkState(state, 'importState');
  const networks = new Map<string, NetworkRecord>();
  for (const n of structuredClone(s.networks) as NetworkRecord[]) {
    if (networks.has(n.id)) throw new DriverError('E_DRIVER_STATE', `importState: network ${n.id} appears twice`);
    networks.set(n.id, n);
  }
  const allocations = new Map<string, AllocationRecord>();
  for (const a of s.allocations ?? []) {
    if (allocations.has(a.network) || [...allocations.values()].some((b) => b.segment === a.segment)) throw new DriverError('E_DRIVER_STATE', `importState: allocation of ${a.network} (segment ${a.segment}) appears twice`);
    allocations.set(a.network, { ...a });
  }
  return { networks, nodes: new Map(s.nodes.map((n) => [n.address, { ...n }])), allocations };
}
