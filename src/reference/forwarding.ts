/**
 * Forwarding rules for the reference driver's networks: after a successful
 * CreateNetwork the network's bridge gets its `Firewall` rules, DeleteNetwork
 * removes them (even when the driver call fails), and at start the rules are
 * made to match the driver's (restored) networks: stale tags go, known
 * networks are (re)allowed. Without durable state a start first removes
 * whatever a crashed run left (links with the ownership prefix, all rules).
 */
import { createHash } from 'node:crypto';
import { OWNED_LINK_PREFIX, type Backend } from '../backend/backend.js';
import type { Firewall } from '../backend/firewall.js';
import type { ReferenceDriver } from '../driver/index.js';
import type { CallContext } from '../protocol/api.js';
import type * as m from '../protocol/messages.js';

/** The firewall tag of a network: its id when usable as a tag, else a hash of it. */
export function networkTag(id: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(id) ? id : createHash('sha256').update(id).digest('hex');
}

async function allow(driver: ReferenceDriver, firewall: Firewall, id: string): Promise<void> {
  const net = driver.getNetwork(id);
  if (net === undefined) return;
  await firewall.allowNetwork({ network: networkTag(id), bridge: net.bridge, internal: net.internal });
}

/** Hooks the firewall into the driver's network lifecycle (in place) and syncs it once. */
export async function attachForwarding(driver: ReferenceDriver, firewall: Firewall): Promise<void> {
  const create = driver.createNetwork.bind(driver);
  const remove = driver.deleteNetwork.bind(driver);
  driver.createNetwork = async (req: m.CreateNetworkRequest, ctx: CallContext) => {
    const r = await create(req, ctx);
    try {
      await allow(driver, firewall, req.NetworkID);
    } catch (e) {
      // No network without its rules: undo the create, report the firewall failure.
      await Promise.resolve(remove({ NetworkID: req.NetworkID }, ctx)).catch(() => undefined);
      throw e;
    }
    return r;
  };
  driver.deleteNetwork = async (req: m.NetworkIdRequest, ctx: CallContext) => {
    try {
      return await remove(req, ctx);
    } finally {
      await firewall.removeNetwork(networkTag(req.NetworkID));
    }
  };
  const known = new Set(driver.networkIds().map(networkTag));
  for (const f of await firewall.listNetworks()) if (!known.has(f.network)) await firewall.removeNetwork(f.network);
  for (const id of driver.networkIds()) await allow(driver, firewall, id);
}

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
