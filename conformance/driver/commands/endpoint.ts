/** CreateEndpoint (`docker run`), DeleteEndpoint (container stop) and re-creating a deleted endpoint's id. */
import type { AsyncCommand } from 'fast-check';
import type { RequestOf } from '../../../src/protocol/methods.js';
import { formatCidr, parseCidrWithAddress } from '../../cidr.js';
import { allocateAddress, releaseAddress } from '../addressing.js';
import { DriverIds } from '../ids.js';
import { type DriverModel, type ModelEndpoint, type ModelNetwork, freeOffset } from '../model.js';
import { macProblem, normalMac } from '../rules.js';
import { type DriverSystem, endpointOptions } from '../system.js';
import { EndpointCommand } from './endpoint-command.js';

/** `plain`: as dockerd sends it; `mac`: with `--mac-address`; `ports`: a container publishing ports (and `--dns`). */
export type EndpointVariant = 'plain' | 'mac' | 'ports';

/** True when two live endpoints with one MAC would share an L2 segment (routed point-to-point links do not). */
function sharedSegment(r: DriverSystem, ep: ModelEndpoint): boolean {
  if (r.design.routed) return false;
  const sub = parseCidrWithAddress(ep.assigned)?.cidr;
  return !(sub !== undefined && sub.prefix === (sub.family === 4 ? 32 : 128));
}

/** Judge the Address a driver supplied because the IPAM gave none (null IPAM); returns the address the container gets. */
function suppliedAddress(r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint, answered: string | undefined): string {
  const who = `CreateEndpoint ${ep.id.slice(0, 12)} on ${net.addressing.label} (Interface.Address "")`;
  if (!answered) {
    r.ctx.note(`${who} answered no Address: the container gets no IPv4 address on this network`);
    return '';
  }
  const parsed = parseCidrWithAddress(answered);
  if (parsed === null || parsed.cidr.family !== 4) {
    r.violate(DriverIds.endpointAddress, `${who} answered Address ${JSON.stringify(answered)}, not an IPv4 CIDR; dockerd parses it and fails the call (protocol.md §2.2)`);
    return '';
  }
  const clash = net.endpoints.find((x) => x.assigned !== '' && parseCidrWithAddress(x.assigned)?.addr === parsed.addr);
  if (clash) r.violate(DriverIds.endpointAddress, `${who} answered Address ${answered}, already the address of live endpoint ${clash.id.slice(0, 12)} (${clash.assigned}) on the same network; two containers with one address`);
  return answered;
}

/** Send CreateEndpoint for `ep` and check the reply; returns true when the endpoint now exists. */
export async function createEndpoint(m: DriverModel, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint, again: boolean): Promise<boolean> {
  const req: RequestOf<'CreateEndpoint'> = {
    NetworkID: net.id,
    EndpointID: ep.id,
    Interface: { Address: ep.address, AddressIPv6: '', MacAddress: ep.suppliedMac ?? '' },
    Options: endpointOptions(ep.ports),
  };
  const out = await r.call('CreateEndpoint', req);
  if (!out.ok) {
    // dockerd rolls back: the address goes back to the IPAM.
    await releaseAddress(r, net.addressing, ep.address);
    if (again) r.violate(DriverIds.deleteUndoes, `CreateEndpoint of ${ep.id.slice(0, 12)} (${ep.address || 'no address'}) after its DeleteEndpoint was refused: ${out.error.message}; the delete left the endpoint behind`);
    else r.refused(`CreateEndpoint ${ep.address || '(no address: null IPAM)'} on ${net.addressing.label}${ep.suppliedMac !== null ? ` with MacAddress ${ep.suppliedMac}` : ep.ports ? ' with published ports' : ''}`, out);
    return false;
  }
  r.trackEndpoint(net, ep);
  const iface = out.value.Interface ?? {};
  if (ep.address !== '') {
    if (iface.Address) r.violate(DriverIds.noEcho, `CreateEndpoint was given Interface.Address ${ep.address} and answered Address ${JSON.stringify(iface.Address)}; dockerd fails with "driver modified interface address" and rolls back (protocol.md §2.2, even an identical value)`);
    ep.assigned = ep.address;
  } else {
    ep.assigned = suppliedAddress(r, net, ep, iface.Address);
  }
  if (iface.MacAddress && ep.suppliedMac !== null) r.violate(DriverIds.noEcho, `CreateEndpoint was given Interface.MacAddress ${ep.suppliedMac} and answered MacAddress ${JSON.stringify(iface.MacAddress)}; dockerd refuses a modified MAC and rolls back (protocol.md §2.2)`);
  let mac = ep.suppliedMac;
  if (iface.MacAddress && ep.suppliedMac === null) {
    const problem = macProblem(iface.MacAddress);
    if (problem !== null) r.violate(DriverIds.macValid, `CreateEndpoint ${ep.id.slice(0, 12)}: ${problem}`);
    else mac = normalMac(iface.MacAddress);
  }
  if (mac !== null && sharedSegment(r, ep)) {
    // One L2 segment per network: MACs must differ within it (Docker's own MACs repeat across networks).
    const clash = net.endpoints.find((x) => x.mac === mac && sharedSegment(r, x));
    if (clash) r.violate(DriverIds.macUnique, `CreateEndpoint ${ep.id.slice(0, 12)} (${ep.assigned || 'no address'}) got MAC ${mac}, already the MAC of live endpoint ${clash.id.slice(0, 12)} (${clash.assigned || 'no address'}) on the same network, which puts its endpoints on one L2 segment (${net.addressing.label}, not a routed design); two containers with one MAC cannot talk on it`);
  }
  ep.mac = mac;
  net.endpoints.push(ep);
  return true;
}

/** A new endpoint's address from the network's IPAM; null when the IPAM refused (the command then does nothing). */
export async function newEndpoint(r: DriverSystem, net: ModelNetwork, id: string, variant: EndpointVariant): Promise<ModelEndpoint | null> {
  const offset = freeOffset(net)!;
  const a = await allocateAddress(r, net.addressing, offset);
  if ('refused' in a) {
    r.steps.push(`  (no endpoint: ${a.refused})`);
    return null;
  }
  return { id, address: a.address, assigned: a.address, offset, ports: variant === 'ports', everJoined: false, suppliedMac: variant === 'mac' ? r.nextMac() : null, mac: null, joined: null };
}

export class CreateEndpointCommand implements AsyncCommand<DriverModel, DriverSystem> {
  constructor(
    readonly netIndex: number,
    readonly variant: EndpointVariant,
  ) {}
  check(m: Readonly<DriverModel>): boolean {
    return m.networks.some((n) => freeOffset(n) !== null);
  }
  async run(m: DriverModel, r: DriverSystem): Promise<void> {
    const open = m.networks.filter((n) => freeOffset(n) !== null);
    const net = open[this.netIndex % open.length]!;
    const ep = await newEndpoint(r, net, r.ids.next('ep'), this.variant);
    r.steps.push(`${this.toString()} -> ${ep?.address || '(driver-supplied address)'} on ${net.id.slice(0, 12)} (${net.addressing.mode === 'default' ? formatCidr(net.pool) : net.addressing.label})`);
    if (ep !== null) await createEndpoint(m, r, net, ep, false);
  }
  toString(): string {
    return `CreateEndpoint(net ${this.netIndex}${this.variant === 'plain' ? '' : `, ${this.variant}`})`;
  }
}

export class RecreateEndpointCommand implements AsyncCommand<DriverModel, DriverSystem> {
  constructor(readonly index: number) {}
  private candidates(m: Readonly<DriverModel>): { net: ModelNetwork; ep: ModelEndpoint }[] {
    const out: { net: ModelNetwork; ep: ModelEndpoint }[] = [];
    for (const net of m.networks) {
      if (freeOffset(net) === null) continue;
      for (const ep of net.deleted) if (net.addressing.mode !== 'default' || !net.endpoints.some((e) => e.offset === ep.offset)) out.push({ net, ep });
    }
    return out;
  }
  check(m: Readonly<DriverModel>): boolean {
    return this.candidates(m).length > 0;
  }
  async run(m: DriverModel, r: DriverSystem): Promise<void> {
    const c = this.candidates(m);
    const { net, ep: old } = c[this.index % c.length]!;
    net.deleted.splice(net.deleted.indexOf(old), 1);
    // Same id; with the default IPAM the same address too, else whatever the IPAM gives now.
    const ep: ModelEndpoint | null =
      net.addressing.mode === 'default' ? { ...old, assigned: old.address, mac: null, joined: null, everJoined: false } : await newEndpoint(r, net, old.id, old.ports ? 'ports' : 'plain');
    r.steps.push(`${this.toString()} -> ${old.id.slice(0, 12)} ${ep?.address ?? ''}`);
    if (ep !== null) await createEndpoint(m, r, net, ep, true);
  }
  toString(): string {
    return `RecreateEndpoint(${this.index})`;
  }
}

export class DeleteEndpointCommand extends EndpointCommand {
  // dockerd always sends Leave before DeleteEndpoint.
  constructor(index: number) {
    super(index, 'DeleteEndpoint', 'unjoined');
  }
  protected async act(m: DriverModel, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint): Promise<void> {
    const out = await r.call('DeleteEndpoint', { NetworkID: net.id, EndpointID: ep.id });
    // dockerd forgets the endpoint whatever the answer (errors are only logged), then releases its address.
    net.endpoints.splice(net.endpoints.indexOf(ep), 1);
    if (out.ok) r.resources.forget('endpoint', ep.id);
    await releaseAddress(r, net.addressing, ep.address);
    if (!out.ok) {
      r.violate(DriverIds.deleteUndoes, `DeleteEndpoint of live endpoint ${ep.id.slice(0, 12)} was refused: ${out.error.message}; dockerd forgets it and the plugin keeps it`);
      return;
    }
    net.deleted.push(ep);
  }
}

/**
 * `docker compose up` recreating a container: the old endpoint is deleted and
 * a new one created on the same network at once (a plugin that derives MACs
 * or names from what is live reuses them here).
 */
export class ReplaceEndpointCommand extends DeleteEndpointCommand {
  override toString(): string {
    return `ReplaceEndpoint(${this.index})`;
  }
  protected override async act(m: DriverModel, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint): Promise<void> {
    await super.act(m, r, net, ep);
    if (freeOffset(net) === null) return;
    const fresh = await newEndpoint(r, net, r.ids.next('ep'), 'plain');
    if (fresh === null) return;
    r.steps.push(`  CreateEndpoint ${fresh.address || '(driver-supplied address)'} on ${net.id.slice(0, 12)}`);
    await createEndpoint(m, r, net, fresh, false);
  }
}
