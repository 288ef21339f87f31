/** CreateEndpoint (`docker run`), DeleteEndpoint (container stop) and re-creating a deleted endpoint's id and address. */
import type { AsyncCommand } from 'fast-check';
import type { RequestOf } from '../../../src/protocol/methods.js';
import { DriverIds } from '../ids.js';
import { type DriverModel, type ModelEndpoint, type ModelNetwork, freeOffset } from '../model.js';
import { macProblem, normalMac } from '../rules.js';
import { type DriverSystem, sandboxOptions } from '../system.js';
import { EndpointCommand } from './endpoint-command.js';

/** `plain`: as dockerd sends it; `mac`: with `--mac-address`; `null-options`: Options null (Go's nil map). */
export type EndpointVariant = 'plain' | 'mac' | 'null-options';

function hostsOf(net: ModelNetwork): number {
  return 2 ** (32 - net.pool.prefix) - 2;
}

/** Send CreateEndpoint for `ep` and check the reply; returns true when the endpoint now exists. */
async function createEndpoint(m: DriverModel, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint, variant: EndpointVariant, again: boolean): Promise<boolean> {
  const req: RequestOf<'CreateEndpoint'> = {
    NetworkID: net.id,
    EndpointID: ep.id,
    Interface: { Address: ep.address, AddressIPv6: '', MacAddress: ep.suppliedMac ?? '' },
    // Go marshals a nil map as null.
    Options: variant === 'null-options' ? (null as unknown as undefined) : sandboxOptions(),
  };
  const out = await r.call('CreateEndpoint', req);
  if (!out.ok) {
    if (again) r.violate(DriverIds.deleteUndoes, `CreateEndpoint of ${ep.id.slice(0, 12)} (${ep.address}) after its DeleteEndpoint was refused: ${out.error.message}; the delete left the endpoint behind`);
    else r.refused(`CreateEndpoint ${ep.address}${variant === 'null-options' ? ' with Options null' : variant === 'mac' ? ` with MacAddress ${ep.suppliedMac}` : ''}`, out);
    return false;
  }
  r.trackEndpoint(net, ep);
  const iface = out.value.Interface ?? {};
  if (iface.Address) r.violate(DriverIds.noEcho, `CreateEndpoint was given Interface.Address ${ep.address} and answered Address ${JSON.stringify(iface.Address)}; dockerd fails with "driver modified interface address" and rolls back (protocol.md §2.2, even an identical value)`);
  if (iface.MacAddress && ep.suppliedMac !== null) r.violate(DriverIds.noEcho, `CreateEndpoint was given Interface.MacAddress ${ep.suppliedMac} and answered MacAddress ${JSON.stringify(iface.MacAddress)}; dockerd refuses a modified MAC and rolls back (protocol.md §2.2)`);
  let mac = ep.suppliedMac;
  if (iface.MacAddress && ep.suppliedMac === null) {
    const problem = macProblem(iface.MacAddress);
    if (problem !== null) r.violate(DriverIds.macValid, `CreateEndpoint ${ep.id.slice(0, 12)}: ${problem}`);
    else mac = normalMac(iface.MacAddress);
  }
  if (mac !== null) {
    // One L2 segment per network: MACs must differ within it (Docker's own MACs repeat across networks).
    const clash = net.endpoints.find((x) => x.mac === mac);
    if (clash) r.violate(DriverIds.macUnique, `CreateEndpoint ${ep.id.slice(0, 12)} got MAC ${mac}, already the MAC of live endpoint ${clash.id.slice(0, 12)} on the same network; two containers with one MAC cannot talk on it`);
  }
  ep.mac = mac;
  net.endpoints.push(ep);
  return true;
}

export class CreateEndpointCommand implements AsyncCommand<DriverModel, DriverSystem> {
  constructor(
    readonly netIndex: number,
    readonly variant: EndpointVariant,
  ) {}
  check(m: Readonly<DriverModel>): boolean {
    return m.networks.some((n) => freeOffset(n, hostsOf(n)) !== null);
  }
  async run(m: DriverModel, r: DriverSystem): Promise<void> {
    const open = m.networks.filter((n) => freeOffset(n, hostsOf(n)) !== null);
    const net = open[this.netIndex % open.length]!;
    const offset = freeOffset(net, hostsOf(net))!;
    const ep: ModelEndpoint = {
      id: r.ids.next('ep'),
      address: `${r.hostAddress(net.pool, offset)}/${net.pool.prefix}`,
      offset,
      suppliedMac: this.variant === 'mac' ? r.nextMac() : null,
      mac: null,
      joined: null,
    };
    r.steps.push(`${this.toString()} -> ${ep.address} on ${net.id.slice(0, 12)}`);
    await createEndpoint(m, r, net, ep, this.variant, false);
  }
  toString(): string {
    return `CreateEndpoint(net ${this.netIndex}${this.variant === 'plain' ? '' : `, ${this.variant}`})`;
  }
}

export class RecreateEndpointCommand implements AsyncCommand<DriverModel, DriverSystem> {
  constructor(readonly index: number) {}
  private candidates(m: Readonly<DriverModel>): { net: ModelNetwork; ep: ModelEndpoint }[] {
    const out: { net: ModelNetwork; ep: ModelEndpoint }[] = [];
    for (const net of m.networks) for (const ep of net.deleted) if (!net.endpoints.some((e) => e.offset === ep.offset)) out.push({ net, ep });
    return out;
  }
  check(m: Readonly<DriverModel>): boolean {
    return this.candidates(m).length > 0;
  }
  async run(m: DriverModel, r: DriverSystem): Promise<void> {
    const c = this.candidates(m);
    const { net, ep: old } = c[this.index % c.length]!;
    net.deleted.splice(net.deleted.indexOf(old), 1);
    const ep: ModelEndpoint = { ...old, mac: null, joined: null };
    r.steps.push(`${this.toString()} -> ${ep.id.slice(0, 12)} ${ep.address}`);
    await createEndpoint(m, r, net, ep, 'plain', true);
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
    // dockerd forgets the endpoint whatever the answer (errors are only logged).
    net.endpoints.splice(net.endpoints.indexOf(ep), 1);
    if (!out.ok) {
      r.violate(DriverIds.deleteUndoes, `DeleteEndpoint of live endpoint ${ep.id.slice(0, 12)} was refused: ${out.error.message}; dockerd forgets it and the plugin keeps it`);
      return;
    }
    r.resources.forget('endpoint', ep.id);
    net.deleted.push(ep);
  }
}
