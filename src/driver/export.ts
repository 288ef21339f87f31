/**
 * The driver's in-memory state to and from its JSON form (`DriverState`):
 * deep copies both ways, so neither side can change the other's records.
 */
import { DriverError } from './errors.js';
import { DRIVER_STATE_VERSION, checkState, type DriverState, type NetworkRecord, type NodeRecord } from './state.js';

export function exportDriverState(networks: Iterable<NetworkRecord>, nodes: Iterable<NodeRecord>): DriverState {
  return structuredClone({ version: DRIVER_STATE_VERSION, networks: [...networks], nodes: [...nodes] });
}

/** The maps a DriverState describes; E_DRIVER_STATE when malformed. */
export function importDriverState(state: DriverState): { networks: Map<string, NetworkRecord>; nodes: Map<string, NodeRecord> } {
  const s = checkState(state, 'importState');
  const networks = new Map<string, NetworkRecord>();
  for (const n of structuredClone(s.networks) as NetworkRecord[]) {
    if (networks.has(n.id)) throw new DriverError('E_DRIVER_STATE', `importState: network ${n.id} appears twice`);
    networks.set(n.id, n);
  }
  return { networks, nodes: new Map(s.nodes.map((n) => [n.address, { ...n }])) };
}
