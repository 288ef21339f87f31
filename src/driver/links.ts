/**
 * The driver's backend work on links: a network's bridge (gateways, MTU, up,
 * firewall rules) and an endpoint's veth pair, each undone when it fails
 * half-way, plus lookups that read "no such link" as absent.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_MTU, isBackendError, type Backend, type LinkInfo, type NamespaceKey } from '../backend/backend.js';
import type { Firewall } from '../backend/firewall.js';
import { DriverError } from './errors.js';
import type { PoolConfig } from './options.js';
import type { EndpointRecord, NetworkRecord } from './state.js';

/** The firewall's tag of a network: the id when it is a valid tag (64-hex, swarm ids), else a hash. */
export function firewallTag(id: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(id) ? id : createHash('sha256').update(id).digest('hex');
}

export function backendFailure(what: string, e: unknown, note?: string): DriverError {
  const text = `${what}: ${(e as Error)?.message ?? String(e)}${note === undefined ? '' : ` (${note})`}`;
  return new DriverError('E_DRIVER_BACKEND', text, { cause: e });
}

export function gateways(pools: readonly PoolConfig[]): string[] {
  return pools.flatMap((p) => (p.gateway === null ? [] : [p.gateway]));
}

export class DriverLinks {
  constructor(
    readonly backend: Backend,
    readonly ns: NamespaceKey,
    readonly firewall: Firewall | undefined,
  ) {}

  /** Bridge with gateways, up, firewall rules; on failure removes what it made. */
  async createBridge(net: NetworkRecord, what: string): Promise<void> {
    try {
      await this.backend.createBridge(this.ns, net.bridge, net.bridgeMac === undefined ? {} : { mac: net.bridgeMac });
    } catch (e) {
      if (isBackendError(e, 'EEXIST')) {
        throw new DriverError('E_DRIVER_CONFLICT', `${what}: a link named ${net.bridge} already exists (not made by this network); choose another bridge name`, { cause: e });
      }
      throw backendFailure(what, e);
    }
    try {
      // Set after creation so the kernel pins it: a bridge whose MTU was only given at
      // creation falls back to 1500 when its last port leaves (br_mtu_auto_adjust).
      if (net.mtu !== DEFAULT_MTU) await this.backend.setMtu(this.ns, net.bridge, net.mtu);
      for (const gw of gateways(net.ipv4).concat(gateways(net.ipv6))) await this.backend.addAddress(this.ns, net.bridge, gw);
      await this.backend.setLinkUp(this.ns, net.bridge);
    } catch (e) {
      throw backendFailure(what, e, await this.undo(net.bridge));
    }
    if (this.firewall === undefined) return;
    try {
      await this.firewall.allowNetwork({ network: firewallTag(net.id), bridge: net.bridge, internal: net.internal });
    } catch (e) {
      throw backendFailure(`${what}: firewall`, e, await this.undo(net.bridge));
    }
  }

  /** Veth pair, host end on the bridge and up; on failure removes what it made. */
  async createVeth(net: NetworkRecord, ep: EndpointRecord, what: string): Promise<void> {
    try {
      await this.backend.createVethPair(this.ns, ep.hostVeth, ep.srcName, { mtu: net.mtu, peerMac: ep.mac });
    } catch (e) {
      if (isBackendError(e, 'EEXIST')) {
        throw new DriverError('E_DRIVER_CONFLICT', `${what}: a link named ${ep.hostVeth} or ${ep.srcName} already exists`, { cause: e });
      }
      throw backendFailure(what, e);
    }
    try {
      await this.backend.setMaster(this.ns, ep.hostVeth, net.bridge);
      await this.backend.setLinkUp(this.ns, ep.hostVeth);
    } catch (e) {
      throw backendFailure(what, e, await this.undo(ep.hostVeth));
    }
  }

  /** Deletes a link made by a failing call; returns a note when even that fails (the link is left behind). */
  private async undo(name: string): Promise<string | undefined> {
    try {
      await this.backend.deleteLink(this.ns, name);
      return undefined;
    } catch (e) {
      return `cleanup failed too, ${name} is left behind: ${(e as Error)?.message ?? String(e)}`;
    }
  }

  async deleteLinkIfPresent(name: string, what: string): Promise<void> {
    try {
      await this.backend.deleteLink(this.ns, name);
    } catch (e) {
      if (isBackendError(e, 'ENODEV')) return;
      throw backendFailure(what, e);
    }
  }

  async linkExists(name: string): Promise<boolean> {
    return (await this.findLink(name)) !== null;
  }

  async findLink(name: string): Promise<LinkInfo | null> {
    try {
      return await this.backend.getLink(this.ns, name);
    } catch (e) {
      if (isBackendError(e, 'ENODEV')) return null;
      throw backendFailure(`looking up ${name}`, e);
    }
  }
}
