/** Join (container start: the sandbox gets the interface, then EndpointOperInfo twice) and Leave (container stop). */
import type { ResponseOf } from '../../../src/protocol/methods.js';
import { DriverIds } from '../ids.js';
import { type DriverModel, type ModelEndpoint, type ModelNetwork, freeOffset, liveEndpoints } from '../model.js';
import { createEndpoint, newEndpoint } from './endpoint.js';
import { gatewayProblem, interfaceNameProblem, routeProblem, subnetOf } from '../rules.js';
import { type DriverSystem, sandboxOptions, sharingExactly } from '../system.js';
import { EndpointCommand } from './endpoint-command.js';

let sandboxCounter = 0;

/** Check a Join reply against every rule; returns the SrcName ('' = no interface). */
export function checkJoinReply(m: Readonly<DriverModel>, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint, reply: ResponseOf<'Join'>): string {
  const src = reply.InterfaceName?.SrcName ?? '';
  const prefix = reply.InterfaceName?.DstPrefix ?? '';
  const who = `Join of ${ep.id.slice(0, 12)} (${ep.assigned || 'no address'})`;
  if (src !== '') {
    const problem = interfaceNameProblem(src, prefix);
    if (problem !== null) r.violate(DriverIds.ifName, `${who}: ${problem}; the daemon cannot move or rename the interface and container start fails`);
    const clash = liveEndpoints(m).find((x) => x.ep !== ep && x.ep.joined === src);
    if (clash) r.violate(DriverIds.ifNameUnique, `${who} answered SrcName ${src}, already the SrcName of joined endpoint ${clash.ep.id.slice(0, 12)}; two sandboxes cannot get one host link`);
  }
  // The container interface gets the endpoint's address with its prefix: that is "the subnet" the kernel knows.
  const subnet = subnetOf(ep.assigned);
  const own = ep.assigned.split('/')[0]!;
  const routes = reply.StaticRoutes ?? [];
  if (reply.Gateway && src === '') r.violate(DriverIds.gateway, `${who}: Gateway ${reply.Gateway} but no SrcName: the container gets no interface on the endpoint subnet, so the default route cannot be set (container start fails: "route for the gateway ${reply.Gateway} could not be found")`);
  else if (reply.Gateway) {
    const problem = gatewayProblem(reply.Gateway, subnet, own, routes, 4);
    if (problem !== null) r.violate(DriverIds.gateway, `${who}: ${problem}`);
  }
  if (reply.GatewayIPv6) {
    // No IPv6 address here: only a link-local gateway or one behind a connected route of the reply is reachable.
    const problem = gatewayProblem(reply.GatewayIPv6, null, '', routes, 6);
    if (problem !== null) r.violate(DriverIds.gateway, `${who}: ${problem} (IPv4-only endpoint: the daemon cannot add the IPv6 default route and container start fails)`);
  }
  for (const route of routes) {
    const problem = routeProblem(route, subnet, routes);
    if (problem !== null) r.violate(DriverIds.routes, `${who}: ${problem}`);
  }
  return src;
}

/** Join `ep` (never joined before) and check the reply and the EndpointOperInfo calls that follow. */
async function joinEndpoint(m: DriverModel, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint): Promise<void> {
    const key = `/var/run/docker/netns/${(sandboxCounter++).toString(16).padStart(12, '0')}`;
    ep.everJoined = true;
    const out = await r.call('Join', { NetworkID: net.id, EndpointID: ep.id, SandboxKey: key, Options: sandboxOptions(ep.ports) });
    if (!out.ok) {
      r.refused(`Join of a created endpoint ${ep.id.slice(0, 12)}`, out);
      return;
    }
    r.trackJoin(net, ep);
    ep.joined = checkJoinReply(m, r, net, ep, out.value);
    // dockerd 20.10 (to v28.0.1) asks EndpointOperInfo twice right after a successful Join and rolls the start back on an error.
    for (let i = 0; i < 2; i++) {
      const info = await r.call('EndpointOperInfo', { NetworkID: net.id, EndpointID: ep.id });
      if (info.ok) continue;
      if (info.error.kind === 'not-implemented' && r.ctx.config.profile !== 'docker-20.10') break; // newer daemons ignore a 404 here
      r.violate(DriverIds.operInfo, `EndpointOperInfo of ${ep.id.slice(0, 12)} right after its Join failed (${info.error.message}); dockerd 20.10 rolls the container start back on any error here, 404 included (protocol.md §1.6, §4.3)`);
      break;
    }
}

export class JoinCommand extends EndpointCommand {
  constructor(index: number) {
    super(index, 'Join', 'fresh');
  }
  protected act(m: DriverModel, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint): Promise<void> {
    return joinEndpoint(m, r, net, ep);
  }
}

/**
 * `docker run` of a container whose endpoint id shares its first `k` (5 or 7)
 * characters with a joined endpoint's: random 64-hex ids do once a host has
 * run enough containers (20 and 28 bits), so a plugin naming host links by a
 * short id prefix gives two sandboxes one link. (12 shared characters, 48
 * bits, practically never happen: dockerd itself names things by 12-character
 * prefixes, as Calico (11) and docker-net-dhcp (12) do.)
 */
export class TwinRunCommand extends EndpointCommand {
  constructor(
    index: number,
    readonly shared: 5 | 7,
  ) {
    super(index, `TwinRun${shared}`, 'joined');
  }
  protected async act(m: DriverModel, r: DriverSystem, net: ModelNetwork, twin: ModelEndpoint): Promise<void> {
    if (freeOffset(net) === null) return;
    const fresh = r.ids.next('ep');
    const ep = await newEndpoint(r, net, sharingExactly(twin.id, fresh, this.shared), 'plain');
    if (ep === null) return;
    r.steps.push(`  CreateEndpoint + Join ${ep.id.slice(0, 12)} (shares ${this.shared} characters with ${twin.id.slice(0, 12)})`);
    if (await createEndpoint(m, r, net, ep, false)) await joinEndpoint(m, r, net, ep);
  }
}

export class LeaveCommand extends EndpointCommand {
  constructor(index: number) {
    super(index, 'Leave', 'joined');
  }
  protected async act(m: DriverModel, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint): Promise<void> {
    const out = await r.call('Leave', { NetworkID: net.id, EndpointID: ep.id });
    ep.joined = null; // dockerd leaves whatever the answer
    if (!out.ok) {
      r.violate(DriverIds.deleteUndoes, `Leave of joined endpoint ${ep.id.slice(0, 12)} was refused: ${out.error.message}; dockerd goes on and the plugin keeps the sandbox's link`);
      return;
    }
    r.resources.forget('join', ep.id);
  }
}
