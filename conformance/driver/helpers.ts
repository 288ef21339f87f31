/** Small shared steps of the deterministic driver checks: a network and endpoints as dockerd creates them. */
import type { PluginCaller } from '../../src/client/types.js';
import type { ResponseOf } from '../../src/protocol/methods.js';
import { type Cidr, formatIp } from '../cidr.js';
import type { CheckContext } from '../types.js';
import { IdSource, networkRequest, sandboxOptions } from './system.js';

export interface OpenNetwork {
  readonly id: string;
  readonly pool: Cidr;
  readonly gateway: string;
  readonly ids: IdSource;
}

export function hostOf(pool: Cidr, offset: number): string {
  return formatIp(4, pool.base + BigInt(offset));
}

/** Create a network on a fresh /28 (a refusal skips: driver.lifecycle-accepted owns that). */
export async function openNetwork(ctx: CheckContext, ids = new IdSource(ctx.seed), caller: PluginCaller = ctx.caller): Promise<OpenNetwork> {
  const pool = ctx.pools.next().v4[0];
  if (!pool) ctx.skip('no IPv4 pool to test with (give an IPv4 --subnet)');
  const id = ids.next('net');
  const gateway = hostOf(pool, 1);
  const out = await caller.tryCall('CreateNetwork', networkRequest(ctx, id, pool, gateway), { timeoutMs: ctx.config.timeoutMs });
  if (!out.ok) ctx.skip(`precondition: CreateNetwork refused (${out.error.message}); see driver.lifecycle-accepted`);
  ctx.resources.trackNetwork(caller, id);
  return { id, pool, gateway, ids };
}

export interface OpenEndpoint {
  readonly id: string;
  readonly address: string;
  readonly mac: string | null;
}

/** CreateEndpoint at host `offset`; returns null (with the error text) when refused. */
export async function openEndpoint(ctx: CheckContext, net: OpenNetwork, offset: number, caller: PluginCaller = ctx.caller): Promise<OpenEndpoint | string> {
  const id = net.ids.next('ep');
  const address = `${hostOf(net.pool, offset)}/${net.pool.prefix}`;
  const out = await caller.tryCall('CreateEndpoint', { NetworkID: net.id, EndpointID: id, Interface: { Address: address, AddressIPv6: '', MacAddress: '' }, Options: sandboxOptions() }, { timeoutMs: ctx.config.timeoutMs });
  if (!out.ok) return out.error.message;
  ctx.resources.trackEndpoint(caller, net.id, id);
  return { id, address, mac: out.value.Interface?.MacAddress ? out.value.Interface.MacAddress.toLowerCase() : null };
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

/** Leave + DeleteEndpoint as container stop does (errors returned, resources forgotten). */
export async function teardown(ctx: CheckContext, net: OpenNetwork, ep: OpenEndpoint, caller: PluginCaller = ctx.caller): Promise<string | null> {
  const l = await caller.tryCall('Leave', { NetworkID: net.id, EndpointID: ep.id }, { timeoutMs: ctx.config.timeoutMs });
  ctx.resources.forget('join', ep.id);
  const d = await caller.tryCall('DeleteEndpoint', { NetworkID: net.id, EndpointID: ep.id }, { timeoutMs: ctx.config.timeoutMs });
  ctx.resources.forget('endpoint', ep.id);
  if (!l.ok) return `Leave: ${l.error.message}`;
  if (!d.ok) return `DeleteEndpoint: ${d.error.message}`;
  return null;
}
