/**
 * reconcile: make the backend match the driver's state after a restart or a
 * crash. Missing bridges are made again (gateways, MTU, up) and so are missing
 * veth pairs of endpoints not joined to a sandbox; existing links are adopted
 * and repaired; firewall rules are resynced. Returns one line per action.
 */
import type { Firewall } from '../backend/firewall.js';
import type { LinkInfo } from '../backend/backend.js';
import { backendFailure, firewallTag, gateways, type DriverLinks } from './links.js';
import type { NetworkRecord } from './state.js';

export async function reconcileLinks(links: DriverLinks, networks: Iterable<NetworkRecord>): Promise<string[]> {
  const { backend, ns } = links;
  const done: string[] = [];
  const nets = [...networks];
  for (const net of nets) {
    const bridge = await links.findLink(net.bridge);
    if (bridge === null) {
      await links.createBridge(net, `reconcile network ${net.id}`);
      done.push(`created bridge ${net.bridge} of network ${net.id}`);
    } else {
      await repairBridge(links, net, bridge, done);
    }
    for (const ep of Object.values(net.endpoints)) {
      const host = await links.findLink(ep.hostVeth);
      if (host === null) {
        // Joined endpoints whose pair is gone are left alone: the daemon tears them down.
        if (ep.sandboxKey !== null) continue;
        await links.createVeth(net, ep, `reconcile endpoint ${ep.id}`);
        done.push(`created veth ${ep.hostVeth}/${ep.srcName} of endpoint ${ep.id}`);
        continue;
      }
      const what = `reconcile endpoint ${ep.id}`;
      if (host.master !== net.bridge) {
        await backend.setMaster(ns, ep.hostVeth, net.bridge).catch((e: unknown) => Promise.reject(backendFailure(what, e)));
        done.push(`attached ${ep.hostVeth} to ${net.bridge}`);
      }
      if (!host.up) {
        await backend.setLinkUp(ns, ep.hostVeth).catch((e: unknown) => Promise.reject(backendFailure(what, e)));
        done.push(`set ${ep.hostVeth} up`);
      }
    }
  }
  if (links.firewall !== undefined) await reconcileFirewall(links.firewall, nets, done);
  return done;
}

/** Rules for every network (idempotent), none for networks the state does not know. */
async function reconcileFirewall(fw: Firewall, nets: readonly NetworkRecord[], done: string[]): Promise<void> {
  try {
    const wanted = new Map(nets.map((n) => [firewallTag(n.id), n]));
    for (const have of await fw.listNetworks()) {
      if (wanted.has(have.network)) continue;
      await fw.removeNetwork(have.network);
      done.push(`removed firewall rules of unknown network ${have.network}`);
    }
    for (const [tag, n] of wanted) await fw.allowNetwork({ network: tag, bridge: n.bridge, internal: n.internal });
  } catch (e) {
    throw backendFailure('reconcile firewall', e);
  }
}

/** Adopts an existing bridge: MTU, gateway addresses and up state as the network wants them. */
async function repairBridge(links: DriverLinks, net: NetworkRecord, bridge: LinkInfo, done: string[]): Promise<void> {
  const { backend, ns } = links;
  const what = `reconcile network ${net.id}`;
  try {
    if (bridge.mtu !== net.mtu) {
      await backend.setMtu(ns, net.bridge, net.mtu);
      done.push(`set MTU ${net.mtu} on ${net.bridge}`);
    }
    const have = new Set((await backend.listAddresses(ns, net.bridge)).map((a) => a.cidr));
    for (const gw of gateways(net.ipv4).concat(gateways(net.ipv6))) {
      if (have.has(gw)) continue;
      await backend.addAddress(ns, net.bridge, gw);
      done.push(`added ${gw} to ${net.bridge}`);
    }
    if (!bridge.up) {
      await backend.setLinkUp(ns, net.bridge);
      done.push(`set ${net.bridge} up`);
    }
  } catch (e) {
    throw backendFailure(what, e);
  }
}
