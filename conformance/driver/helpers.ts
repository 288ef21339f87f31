/** Small shared steps of the deterministic driver checks: a network and endpoints as dockerd creates them. */
import type { PluginCaller } from '../../src/client/types.js';
import type { ResponseOf } from '../../src/protocol/methods.js';
import type { Cidr } from '../cidr.js';
import type { CheckContext } from '../types.js';
import { type AddressingMode, type AddressingPort, type Design, type PoolAddressing, allocateAddress, allocatePool, ctxPort, hostOf, releaseAddress, releasePool, requireDesign, trackNetwork } from './addressing.js';
import { subnetOf } from './rules.js';
import { IdSource, endpointOptions, networkRequest, sandboxOptions } from './system.js';

export interface OpenNetwork {
  readonly id: string;
  /** The pool CreateNetwork got (the arena slot, the plugin's pool, or 0.0.0.0/0 for the null IPAM). */
  readonly pool: Cidr;
  /** The IPAM's gateway (bare), or null when there is none. */
  readonly gateway: string | null;
  readonly ids: IdSource;
  readonly addressing: PoolAddressing;
  readonly design: Design;
}

export { hostOf };

/** Pool addressing as `mode` uses it on the next IPv4 arena slot, through `caller`; no slot or a refused pool skips. */
export async function slotAddressing(ctx: CheckContext, mode: AddressingMode, caller: PluginCaller = ctx.caller): Promise<{ port: AddressingPort; addressing: PoolAddressing }> {
  const slot = ctx.pools.next().v4[0];
  if (!slot) ctx.skip('no IPv4 pool to test with (give an IPv4 --subnet)');
  const port = ctxPort(ctx, caller);
  const addressing = await allocatePool(port, mode, slot);
  if (typeof addressing === 'string') ctx.skip(`precondition: ${addressing}`);
  return { port, addressing };
}

/**
 * Create a network as `docker network create` does, with the addressing the
 * design probe chose (a refusal skips: driver.lifecycle-accepted owns that).
 */
export async function openNetwork(ctx: CheckContext, ids = new IdSource(ctx.seed), caller: PluginCaller = ctx.caller): Promise<OpenNetwork> {
  const design = await requireDesign(ctx);
  const { port, addressing } = await slotAddressing(ctx, design.mode, caller);
  const id = ids.next('net');
  const out = await port.call('CreateNetwork', networkRequest(ctx, id, addressing));
  if (!out.ok) {
    await releasePool(port, addressing);
    ctx.skip(`precondition: CreateNetwork on ${addressing.label} refused (${out.error.message}); see driver.lifecycle-accepted`);
  }
  trackNetwork(port, id, addressing);
  return { id, pool: addressing.pool, gateway: addressing.gateway, ids, addressing, design };
}

/** What dockerd does on `docker network rm`: IPAM releases, then DeleteNetwork (its error, or null). */
export async function closeNetwork(ctx: CheckContext, net: OpenNetwork, caller: PluginCaller = ctx.caller): Promise<string | null> {
  await releasePool(ctxPort(ctx, caller), net.addressing);
  const del = await caller.tryCall('DeleteNetwork', { NetworkID: net.id }, { timeoutMs: ctx.config.timeoutMs });
  ctx.resources.forget('network', net.id);
  return del.ok ? null : del.error.message;
}

export interface OpenEndpoint {
  readonly id: string;
  /** The Interface.Address sent ('' with the null IPAM). */
  readonly sent: string;
  /** The address the container gets (sent, or the one the driver answered). */
  readonly address: string;
  readonly mac: string | null;
  /** Joined (a Leave is due before DeleteEndpoint). */
  joined: boolean;
}

/** True when endpoints of this network are point-to-point (routed design or a host-prefix address): MACs may repeat. */
export function routedEndpoint(net: OpenNetwork, ep: OpenEndpoint): boolean {
  if (net.design.routed) return true;
  const sub = subnetOf(ep.address);
  return sub !== null && sub.prefix === (sub.family === 4 ? 32 : 128);
}

/** CreateEndpoint at host `offset` (default IPAM; other IPAMs choose); returns the error text when refused. */
export async function openEndpoint(ctx: CheckContext, net: OpenNetwork, offset: number, caller: PluginCaller = ctx.caller): Promise<OpenEndpoint | string> {
  const port = ctxPort(ctx, caller);
  const a = await allocateAddress(port, net.addressing, offset);
  if ('refused' in a) ctx.skip(`precondition: ${a.refused}`);
  const id = net.ids.next('ep');
  const out = await port.call('CreateEndpoint', { NetworkID: net.id, EndpointID: id, Interface: { Address: a.address, AddressIPv6: '', MacAddress: '' }, Options: endpointOptions(false) });
  if (!out.ok) {
    await releaseAddress(port, net.addressing, a.address);
    return out.error.message;
  }
  ctx.resources.trackEndpoint(caller, net.id, id);
  const iface = out.value.Interface ?? {};
  const address = a.address !== '' ? a.address : (iface.Address ?? '');
  return { id, sent: a.address, address, mac: iface.MacAddress ? iface.MacAddress.toLowerCase() : null, joined: false };
}

/** CreateEndpoint at host `offset`; a refusal skips the check (driver.lifecycle-accepted owns that). */
export async function requireEndpoint(ctx: CheckContext, net: OpenNetwork, offset: number): Promise<OpenEndpoint> {
  const ep = await openEndpoint(ctx, net, offset);
  if (typeof ep === 'string') ctx.skip(`precondition: CreateEndpoint refused (${ep}); see driver.lifecycle-accepted`);
  return ep;
}

/** CreateEndpoint and Join at host `offset`; a refusal of either skips the check. */
export async function requireJoined(ctx: CheckContext, net: OpenNetwork, offset: number): Promise<{ ep: OpenEndpoint; reply: ResponseOf<'Join'> }> {
  const ep = await requireEndpoint(ctx, net, offset);
  const reply = await join(ctx, net, ep);
  if (typeof reply === 'string') ctx.skip(`precondition: Join refused (${reply}); see driver.lifecycle-accepted`);
  return { ep, reply };
}

let sandboxes = 0;

/** Join with a fresh sandbox key; the Leave is registered for cleanup. */
export async function join(ctx: CheckContext, net: OpenNetwork, ep: OpenEndpoint, caller: PluginCaller = ctx.caller): Promise<ResponseOf<'Join'> | string> {
  const key = `/var/run/docker/netns/c${(sandboxes++).toString(16).padStart(11, '0')}`;
  const out = await caller.tryCall('Join', { NetworkID: net.id, EndpointID: ep.id, SandboxKey: key, Options: sandboxOptions() }, { timeoutMs: ctx.config.timeoutMs });
  if (!out.ok) return out.error.message;
  ep.joined = true;
  const timeoutMs = ctx.config.timeoutMs;
  ctx.resources.add({
    kind: 'join',
    id: ep.id,
    release: async () => {
      const r = await caller.tryCall('Leave', { NetworkID: net.id, EndpointID: ep.id }, { timeoutMs });
      return r.ok ? null : r.error.message;
    },
  });
  return out.value;
}

/** Leave (when joined) + DeleteEndpoint + ReleaseAddress as container stop does (errors returned, resources forgotten). */
export async function teardown(ctx: CheckContext, net: OpenNetwork, ep: OpenEndpoint, caller: PluginCaller = ctx.caller): Promise<string | null> {
  const t = { timeoutMs: ctx.config.timeoutMs };
  // dockerd never sends Leave for an endpoint that did not join (a refused Join is rolled back with DeleteEndpoint only).
  const l = ep.joined ? await caller.tryCall('Leave', { NetworkID: net.id, EndpointID: ep.id }, t) : null;
  ep.joined = false;
  ctx.resources.forget('join', ep.id);
  const d = await caller.tryCall('DeleteEndpoint', { NetworkID: net.id, EndpointID: ep.id }, t);
  ctx.resources.forget('endpoint', ep.id);
  await releaseAddress(ctxPort(ctx, caller), net.addressing, ep.sent);
  if (l !== null && !l.ok) return `Leave: ${l.error.message}`;
  if (!d.ok) return `DeleteEndpoint: ${d.error.message}`;
  return null;
}
