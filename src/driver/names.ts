/**
 * Link names the driver creates. Every one starts with OWNED_LINK_PREFIX
 * (`cnm-`) and is exactly 15 bytes (IFNAMSIZ - 1):
 * - bridge: `cnm-` + 11 characters of the network id,
 * - veth host end (stays on the bridge): `cnm-h` + 10 of the endpoint id,
 * - veth container end (Join's SrcName, moved by the daemon): `cnm-c` + 10.
 * Ids that are not lower-case hex (swarm ids, test ids) are hashed first, so
 * names stay valid; a collision is resolved with a second, salted hash.
 */
import { createHash } from 'node:crypto';
import { OWNED_LINK_PREFIX } from '../backend/backend.js';

const HEX_ID = /^[0-9a-f]+$/;

function idChars(id: string, n: number, salt: number): string {
  if (salt === 0 && id.length >= n && HEX_ID.test(id.slice(0, n))) return id.slice(0, n);
  return createHash('sha256').update(`${salt}:${id}`).digest('hex').slice(0, n);
}

/** Candidate bridge name for a network id; `attempt` > 0 gives alternatives. */
export function bridgeName(networkId: string, attempt = 0): string {
  return `${OWNED_LINK_PREFIX}${idChars(networkId, 11, attempt)}`;
}

/** Candidate [host end, container end] names for an endpoint id. */
export function vethNames(endpointId: string, attempt = 0): [string, string] {
  const tail = idChars(endpointId, 10, attempt);
  return [`${OWNED_LINK_PREFIX}h${tail}`, `${OWNED_LINK_PREFIX}c${tail}`];
}
