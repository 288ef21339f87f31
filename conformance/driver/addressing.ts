/**
 * Where a driver check gets a network's pool, gateway and endpoint addresses,
 * as `docker network create --ipam-driver` chooses (config.ipamDriver):
 * - `default`: Docker's built-in IPAM, played here (the arena's /28, gateway .1);
 * - `plugin`: the plugin's own IpamDriver, called exactly as dockerd calls it
 *   (RequestPool [explicit arena subnet; if refused, automatic], a gateway
 *   RequestAddress unless the pool's Data carries one, endpoint RequestAddress,
 *   ReleaseAddress after DeleteEndpoint, releases + ReleasePool before DeleteNetwork);
 * - `null`: Docker's null IPAM: IPv4Data {AddressSpace "null", Pool "0.0.0.0/0"},
 *   no gateway, empty Interface.Address: the driver supplies addresses (docker-net-dhcp).
 * In `auto` the plugin's IPAM is used when it is one; otherwise the default
 * IPAM, or the null IPAM when the driver refuses the default addressing but
 * takes the null IPAM's.
 *
 * The design probe also learns, from one real Join, whether the driver is
 * routed (point-to-point links: /32 addresses, a link-local or
 * connected-route gateway) or puts endpoints on a shared L2 segment.
 */
import type { CallOutcome, PluginCaller } from '../../src/client/types.js';
import { Options } from '../../src/protocol/constants.js';
import type { MethodKey, RequestOf, ResponseOf } from '../../src/protocol/methods.js';
import type { IPAMData } from '../../src/protocol/messages.js';
import { type Cidr, type Family, formatCidr, formatIp, parseCidr, parseCidrWithAddress } from '../cidr.js';
import type { Resources } from '../resources.js';
import type { CheckContext } from '../types.js';
import { looksRouted } from './rules.js';
import { IdSource, endpointOptions, networkRequest, sandboxOptions } from './system.js';

export type AddressingMode = 'default' | 'plugin' | 'null';

/** What an addressing step needs: a call path and the resource list that cleanup releases. */
export interface AddressingPort {
  readonly ctx: CheckContext;
  readonly caller: PluginCaller;
  readonly resources: Resources;
  call<K extends MethodKey>(key: K, req: RequestOf<K>): Promise<CallOutcome<ResponseOf<K>>>;
}

/** A port on the check's own connection and resources (deterministic checks). */
export function ctxPort(ctx: CheckContext, caller: PluginCaller = ctx.caller): AddressingPort {
  return { ctx, caller, resources: ctx.resources, call: (key, req) => caller.tryCall(key, req, { timeoutMs: ctx.config.timeoutMs }) };
}

/** One family of a network's addressing: what CreateNetwork gets and what endpoints draw from. */
export interface PoolAddressing {
  readonly mode: AddressingMode;
  readonly family: Family;
  /** The pool (arena slot, the plugin's pool, or 0.0.0.0/0 / ::/0 for the null IPAM). */
  readonly pool: Cidr;
  /** Bare gateway address, or null when there is none (null IPAM, a 0.0.0.0/0 marker gateway). */
  readonly gateway: string | null;
  /** The IPv4Data / IPv6Data entry of CreateNetwork. */
  readonly data: IPAMData;
  /** Plugin IPAM: the pool id, and the gateway address to release (bare), if one was requested. */
  readonly poolId: string | null;
  readonly requestedGateway: string | null;
  /** For messages: `pool 10.199.0.16/28` or `plugin pool 0.0.0.0/0 [PoolID CalicoPoolIPv4]`. */
  readonly label: string;
}

export function hostOf(pool: Cidr, offset: number): string {
  return formatIp(pool.family, pool.base + BigInt(offset));
}

/** The IPAM half of `docker network create` for one family; a refusal (IPAM's own business) is returned as text. */
export async function allocatePool(port: AddressingPort, mode: AddressingMode, slot: Cidr): Promise<PoolAddressing | string> {
  const ctx = port.ctx;
  const family = slot.family;
  if (mode === 'default') {
    const gateway = hostOf(slot, 1);
    return {
      mode,
      family,
      pool: slot,
      gateway,
      data: { AddressSpace: ctx.addressSpaces.local, Gateway: `${gateway}/${slot.prefix}`, Pool: formatCidr(slot) },
      poolId: null,
      requestedGateway: null,
      label: `pool ${formatCidr(slot)}`,
    };
  }
  if (mode === 'null') {
    const any = family === 4 ? '0.0.0.0/0' : '::/0';
    return { mode, family, pool: parseCidr(any)!, gateway: null, data: { AddressSpace: 'null', Pool: any }, poolId: null, requestedGateway: null, label: `null IPAM pool ${any}` };
  }
  const base = { AddressSpace: ctx.addressSpaces.local, SubPool: '', Options: { ...ctx.config.ipamOpts }, V6: family === 6 };
  let request: RequestOf<'RequestPool'> = { ...base, Pool: formatCidr(slot) };
  let got = await port.call('RequestPool', request);
  if (!got.ok) {
    // Like `docker network create` without --subnet: the IPAM picks the pool.
    const explicit = got.error.message;
    request = { ...base, Pool: '' };
    got = await port.call('RequestPool', request);
    if (!got.ok) return `RequestPool ${formatCidr(slot)} was refused (${explicit}) and so was an automatic RequestPool (${got.error.message})`;
  }
  const { PoolID: poolId, Pool: poolText } = got.value;
  port.resources.trackPool(port.caller, poolId, request);
  // dockerd gives the pool back when the rest of `network create` fails.
  const giveBack = async (why: string): Promise<string> => {
    await port.call('ReleasePool', { PoolID: poolId });
    port.resources.forget('pool', poolId);
    return why;
  };
  const pool = parseCidr(poolText);
  if (pool === null || pool.family !== family) return giveBack(`RequestPool answered Pool ${JSON.stringify(poolText)} [PoolID ${poolId}], not an IPv${family} CIDR`);
  const label = `plugin pool ${poolText} [PoolID ${poolId}]`;
  const fromData = got.value.Data?.[Options.Gateway];
  if (fromData !== undefined && fromData !== '') {
    // dockerd takes the pool's Data gateway as it is (Calico: "0.0.0.0/0", a marker, not an address).
    const parsed = parseCidrWithAddress(fromData);
    const gateway = parsed !== null && parsed.addr !== 0n ? formatIp(family, parsed.addr) : null;
    return { mode, family, pool, gateway, data: { AddressSpace: ctx.addressSpaces.local, Gateway: fromData, Pool: poolText }, poolId, requestedGateway: null, label };
  }
  const gw = await port.call('RequestAddress', { PoolID: poolId, Address: '', Options: { [Options.RequestAddressType]: Options.Gateway } });
  if (!gw.ok) return giveBack(`the gateway RequestAddress on ${label} was refused: ${gw.error.message}`);
  const parsed = parseCidrWithAddress(gw.value.Address);
  if (parsed === null) return giveBack(`the gateway RequestAddress on ${label} answered ${JSON.stringify(gw.value.Address)}, not a CIDR`);
  const bare = formatIp(family, parsed.addr);
  port.resources.trackAddress(port.caller, poolId, bare);
  return { mode, family, pool, gateway: bare, data: { AddressSpace: ctx.addressSpaces.local, Gateway: gw.value.Address, Pool: poolText }, poolId, requestedGateway: bare, label };
}

/** What dockerd does before DeleteNetwork: release the gateway address, then the pool. */
export async function releasePool(port: AddressingPort, p: PoolAddressing): Promise<void> {
  if (p.poolId === null) return;
  if (p.requestedGateway !== null) {
    await port.call('ReleaseAddress', { PoolID: p.poolId, Address: p.requestedGateway });
    port.resources.forget('address', `${p.poolId} ${p.requestedGateway}`);
  }
  await port.call('ReleasePool', { PoolID: p.poolId });
  port.resources.forget('pool', p.poolId);
}

/**
 * After a successful CreateNetwork: one cleanup item that undoes the network
 * as `docker network rm` does (gateway address, pool, then DeleteNetwork),
 * replacing the separate pool and gateway items.
 */
export function trackNetwork(port: AddressingPort, netId: string, ...pools: PoolAddressing[]): void {
  const { caller } = port;
  const timeoutMs = port.ctx.config.timeoutMs;
  for (const p of pools) {
    if (p.poolId === null) continue;
    if (p.requestedGateway !== null) port.resources.forget('address', `${p.poolId} ${p.requestedGateway}`);
    port.resources.forget('pool', p.poolId);
  }
  port.resources.add({
    kind: 'network',
    id: netId,
    release: async () => {
      for (const p of pools) {
        if (p.poolId === null) continue;
        if (p.requestedGateway !== null) await caller.tryCall('ReleaseAddress', { PoolID: p.poolId, Address: p.requestedGateway }, { timeoutMs });
        await caller.tryCall('ReleasePool', { PoolID: p.poolId }, { timeoutMs });
      }
      const d = await caller.tryCall('DeleteNetwork', { NetworkID: netId }, { timeoutMs });
      return d.ok ? null : d.error.message;
    },
  });
}

/**
 * The Interface.Address dockerd sends for a new endpoint: the default IPAM's
 * host at `offset`, the plugin's RequestAddress answer, or '' (null IPAM).
 * A refusal (an exhausted pool: the IPAM's business) is returned as `{ refused }`.
 */
export async function allocateAddress(port: AddressingPort, p: PoolAddressing, offset: number): Promise<{ address: string } | { refused: string }> {
  if (p.mode === 'default') return { address: `${hostOf(p.pool, offset)}/${p.pool.prefix}` };
  if (p.mode === 'null' || p.poolId === null) return { address: '' };
  const out = await port.call('RequestAddress', { PoolID: p.poolId, Address: '' });
  if (!out.ok) return { refused: `RequestAddress on ${p.label} was refused: ${out.error.message}` };
  const parsed = parseCidrWithAddress(out.value.Address);
  if (parsed === null || parsed.cidr.family !== p.family) return { refused: `RequestAddress on ${p.label} answered ${JSON.stringify(out.value.Address)}, not an IPv${p.family} CIDR` };
  port.resources.trackAddress(port.caller, p.poolId, formatIp(p.family, parsed.addr));
  return { address: out.value.Address };
}

/** ReleaseAddress after DeleteEndpoint (plugin IPAM only). */
export async function releaseAddress(port: AddressingPort, p: PoolAddressing, address: string): Promise<void> {
  if (p.mode !== 'plugin' || p.poolId === null || address === '') return;
  const parsed = parseCidrWithAddress(address);
  if (parsed === null) return;
  const bare = formatIp(p.family, parsed.addr);
  await port.call('ReleaseAddress', { PoolID: p.poolId, Address: bare });
  port.resources.forget('address', `${p.poolId} ${bare}`);
}

export interface Design {
  readonly mode: AddressingMode;
  /** Point-to-point links (routed): MACs need not differ. */
  readonly routed: boolean;
  /** Set when CreateNetwork was refused with every addressing tried (messages). */
  readonly refusedAll: string | null;
  /** What was learnt, for the check's notes. */
  readonly notes: readonly string[];
}

const designs = new WeakMap<CheckContext, Promise<Design>>();
const noted = new WeakSet<CheckContext>();

/** The design of the driver, probed once per check (one network, one endpoint, one Join, all undone). */
export function driverDesign(ctx: CheckContext): Promise<Design> {
  let d = designs.get(ctx);
  if (d === undefined) {
    d = probeDesign(ctx);
    designs.set(ctx, d);
  }
  return d;
}

/**
 * The design, or a skip: a driver that refuses every CreateNetwork while no
 * --driver-opt was given most likely needs options (docker-net-dhcp: -o bridge=...).
 */
export async function requireDesign(ctx: CheckContext): Promise<Design> {
  const d = await driverDesign(ctx);
  if (d.refusedAll !== null && Object.keys(ctx.config.driverOpts).length === 0) {
    const ipam = d.mode === 'plugin' ? ', or --ipam-opt K=V for its IPAM' : '';
    ctx.skip(`CreateNetwork was refused with every addressing dockerd could send (${d.refusedAll}); if the driver needs options, give them with --driver-opt K=V (docker network create -o K=V)${ipam}`);
  }
  if (!noted.has(ctx)) {
    noted.add(ctx);
    for (const n of d.notes) ctx.note(n);
  }
  return d;
}

async function probeDesign(ctx: CheckContext): Promise<Design> {
  const cfg = ctx.config.ipamDriver;
  const isIpam = ctx.capabilities.has('ipam');
  if (cfg === 'plugin' && !isIpam) ctx.skip('--ipam-driver plugin: the plugin is not an IpamDriver');
  const slot = ctx.pools.next().v4[0];
  if (!slot) ctx.skip('no IPv4 pool to test with (give an IPv4 --subnet)');
  const order: AddressingMode[] = cfg === 'default' ? ['default'] : cfg === 'null' ? ['null'] : cfg === 'plugin' || isIpam ? ['plugin'] : ['default', 'null'];
  const ids = new IdSource(ctx.seed ^ 0x5eed);
  const port = ctxPort(ctx);
  const refusals: string[] = [];
  const notes: string[] = [];
  for (const mode of order) {
    const p = await allocatePool(port, mode, slot);
    if (typeof p === 'string') {
      refusals.push(`${mode} IPAM: ${p}`);
      continue;
    }
    const netId = ids.next('probe-net');
    const created = await port.call('CreateNetwork', networkRequest(ctx, netId, p));
    if (!created.ok) {
      refusals.push(`${mode === 'default' ? "Docker's default IPAM" : mode === 'null' ? 'the null IPAM' : "the plugin's own IPAM"} (${p.label}): ${created.error.message}`);
      await releasePool(port, p);
      continue;
    }
    trackNetwork(port, netId, p);
    if (mode === 'null' && order.length > 1) notes.push(`the driver refused Docker's default addressing (${refusals.join('; ')}) and took the null IPAM's (--ipam-driver null): endpoints get their addresses from the driver`);
    if (mode === 'plugin') notes.push(`addressing from the plugin's own IPAM (--ipam-driver <this plugin>): ${p.label}${p.gateway === null ? ', no gateway address' : `, gateway ${p.gateway}`}`);
    const routed = await probeJoin(port, p, netId, ids);
    if (routed) notes.push('routed design (point-to-point links: a /32 address or a gateway reached link-local / through a connected route): MACs may repeat across endpoints');
    await releasePool(port, p);
    await port.call('DeleteNetwork', { NetworkID: netId });
    ctx.resources.forget('network', netId);
    return { mode, routed, refusedAll: null, notes };
  }
  return { mode: order[0]!, routed: false, refusedAll: refusals.join('; '), notes };
}

/** One container start and stop on the probe network; true when its Join shows a routed design. */
async function probeJoin(port: AddressingPort, p: PoolAddressing, netId: string, ids: IdSource): Promise<boolean> {
  const a = await allocateAddress(port, p, 2);
  if ('refused' in a) return false;
  const epId = ids.next('probe-ep');
  const ce = await port.call('CreateEndpoint', { NetworkID: netId, EndpointID: epId, Interface: { Address: a.address, AddressIPv6: '', MacAddress: '' }, Options: endpointOptions(true) });
  let routed = false;
  if (ce.ok) {
    const address = a.address !== '' ? a.address : (ce.value.Interface?.Address ?? '');
    const j = await port.call('Join', { NetworkID: netId, EndpointID: epId, SandboxKey: '/var/run/docker/netns/0badc0ffee00', Options: sandboxOptions(true) });
    if (j.ok) {
      routed = looksRouted(address, j.value);
      await port.call('Leave', { NetworkID: netId, EndpointID: epId });
    } else routed = looksRouted(address, null);
    await port.call('DeleteEndpoint', { NetworkID: netId, EndpointID: epId });
  }
  await releaseAddress(port, p, a.address);
  return routed;
}
