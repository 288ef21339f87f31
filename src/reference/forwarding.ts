/**
 * What a start of the reference plugin does about leftovers of an earlier run
 * on the real kernel. (Forwarding rules themselves follow the driver's networks
 * inside the driver: it is given the `Firewall`.)
 */
import { OWNED_LINK_PREFIX, type Backend } from '../backend/backend.js';
import type { ReferenceDriver } from '../driver/index.js';

/** A backend that can sweep what it owns (the Linux one). */
export function canRemoveOwned(b: Backend): b is Backend & { removeOwned(): Promise<unknown> } {
  return typeof (b as { removeOwned?: unknown }).removeOwned === 'function';
}

/**
 * After a restart with durable state: deletes host links with the ownership
 * prefix that the restored driver state does not know (made by a run that
 * crashed before saving). Assumes one cnmkit per host. Returns their names.
 */
export async function sweepUnknownLinks(driver: ReferenceDriver, backend: Backend, ns: string): Promise<string[]> {
  const known = new Set<string>();
  for (const net of driver.exportState().networks) {
    known.add(net.bridge);
    for (const ep of Object.values(net.endpoints)) known.add(ep.hostVeth).add(ep.srcName);
  }
  const gone: string[] = [];
  for (const l of await backend.listLinks(ns)) {
    if (!l.name.startsWith(OWNED_LINK_PREFIX) || known.has(l.name)) continue;
    // A veth end takes its peer along; the peer may already be gone.
    try {
      await backend.deleteLink(ns, l.name);
      gone.push(l.name);
    } catch {
      /* already removed with its peer */
    }
  }
  return gone;
}
