/**
 * The swarm manager's network allocator (swarmkit / moby cnmallocator), over
 * the manager node's state record: protocol.md §2.2 (AllocateNetwork /
 * FreeNetwork) and §4.9.
 *
 * - Network create, global-scope driver: GetDefaultAddressSpaces, then per
 *   IPv4 configuration RequestPool in the GLOBAL address space (Options: the
 *   network's IPAM options, null without) and, unless the pool's Data gave one
 *   and no gateway was asked for, the gateway RequestAddress with
 *   `RequestAddressType` and `com.docker.network.ipam.serial`; then
 *   AllocateNetwork (Options: the `--opt` map merged with the earlier driver
 *   state, IPv4Data entries with AddressSpace "", IPv6Data null). Its answer is
 *   the network's driver state, the generic map of every node's CreateNetwork.
 *   A failure releases what was taken (gateways, then every pool).
 * - A local-scope (node-local) driver: nothing is allocated, no plugin call.
 * - A task's address: RequestAddress (serial option) on the first pool.
 * - Network rm: FreeNetwork, then the gateways and pools are released. A
 *   FreeNetwork error stops there: the pools are never released (logged and
 *   reported as leaks, as swarmkit leaves them).
 *
 * Simplifications (documented): IPv4 only (swarmkit's RequestPool never sets
 * V6); one manager, no leader change; pools are tried in configuration order.
 */
import { Options } from '../protocol/constants.js';
import { formatIp, parseIp, parseIpPrefix, type IpPrefix } from '../net/index.js';
import { resolveDriver, resolveIpam } from './activation.js';
import { invalidCidr } from './addr.js';
import { leak, logged, warn, type DaemonState, type Op } from './state.js';
import type { IpamConfigSpec } from './types.js';

/** swarmkit's `ipamapi.AllocSerialPrefix`: allocate addresses serially (protocol.md §2.3 RequestAddress). */
export const SERIAL_OPTION = 'com.docker.network.ipam.serial';

export interface SwarmNetworkCreateSpec {
  readonly name: string;
  /** `--opt k=v`. */
  readonly driverOpts?: Readonly<Record<string, string>>;
  /** `--ipam-opt k=v`. */
  readonly ipamOpts?: Readonly<Record<string, string>>;
  /** IPv4 `--subnet` groups (subnet, ip-range, gateway); none = one pool the IPAM chooses. */
  readonly ipv4?: readonly IpamConfigSpec[];
  readonly internal?: boolean;
}

/** One allocated pool on the manager. */
export interface SwarmPool {
  readonly poolId: string;
  readonly pool: IpPrefix;
  /** The gateway address (bare) and whether the manager requested it (then it is released on rm). */
  readonly gateway: string;
  readonly subnet: string;
  readonly ipRange: string;
}

/** The manager's record of a swarm network. */
export interface SwarmNetworkRec {
  readonly id: string;
  readonly name: string;
  /** The driver is local-scope: the manager allocated nothing, every node uses its own IPAM. */
  readonly nodeLocal: boolean;
  readonly spec: SwarmNetworkCreateSpec;
  /** IPAM options as swarm passes them: null when none were given. */
  readonly ipamOptions: Readonly<Record<string, string>> | null;
  readonly pools: readonly SwarmPool[];
  /** AllocateNetwork's answer: every node's CreateNetwork generic map. */
  readonly driverState: Readonly<Record<string, string>>;
}

/** Allocator.Allocate: pools and gateways in the global space, then AllocateNetwork. */
export async function allocateNetwork(op: Op, id: string, spec: SwarmNetworkCreateSpec): Promise<SwarmNetworkRec> {
  const d = op.d;
  const drv = await resolveDriver(op);
  if (drv.driverCapabilities!.Scope !== 'global') {
    return { id, name: spec.name, nodeLocal: true, spec, ipamOptions: null, pools: [], driverState: { ...(spec.driverOpts ?? {}) } };
  }
  await resolveIpam(op);
  const ipamOptions = spec.ipamOpts !== undefined && Object.keys(spec.ipamOpts).length > 0 ? { ...spec.ipamOpts } : null;
  const spaces = await d.ipam.tryCall('GetDefaultAddressSpaces', undefined);
  if (!spaces.ok) op.fail('RequestPool', spaces.error.message, { callError: spaces.error });
  const configs: IpamConfigSpec[] = spec.ipv4 !== undefined && spec.ipv4.length > 0 ? spec.ipv4.map((c) => ({ ...c })) : [{}];
  const pools: SwarmPool[] = [];
  // allocatePool rolls back everything taken so far when it fails.
  for (const cfg of configs) pools.push(await allocatePool(op, spec.name, spaces.value.GlobalDefaultAddressSpace, cfg, ipamOptions, pools));
  const r = await d.driver.tryCall('AllocateNetwork', {
    NetworkID: id,
    Options: { ...(spec.driverOpts ?? {}) },
    IPv4Data: pools.map((p) => ({ AddressSpace: '', Gateway: `${p.gateway}/${p.pool.prefix}`, Pool: p.pool.net.text })),
    IPv6Data: null,
  });
  if (!r.ok) {
    await releasePools(d, spec.name, pools);
    op.fail('AllocateNetwork', `failed while allocating driver state for network ${id}: ${r.error.message}`, { callError: r.error });
  }
  return { id, name: spec.name, nodeLocal: false, spec, ipamOptions, pools, driverState: { ...(r.value.Options ?? {}) } };
}

async function allocatePool(op: Op, name: string, space: string, cfg: IpamConfigSpec, ipamOptions: Readonly<Record<string, string>> | null, taken: readonly SwarmPool[]): Promise<SwarmPool> {
  const d = op.d;
  if (d.profile === 'moby') {
    // moby 27+: the remote IPAM proxy asks for the address spaces before every RequestPool.
    const s = await d.ipam.tryCall('GetDefaultAddressSpaces', undefined);
    if (!s.ok) op.fail('RequestPool', s.error.message, { callError: s.error });
  }
  const r = await d.ipam.tryCall('RequestPool', { AddressSpace: space, Pool: cfg.subnet ?? '', SubPool: cfg.ipRange ?? '', Options: ipamOptions === null ? null : { ...ipamOptions }, V6: false });
  if (!r.ok) {
    await releasePools(d, name, taken);
    op.fail('RequestPool', `failed allocating pools and gateway IP: ${r.error.message}`, { callError: r.error });
  }
  const pool = parseIpPrefix(r.value.Pool);
  if (pool === null) {
    await releasePools(d, name, taken);
    leak(d, { kind: 'pool', poolId: r.value.PoolID, detail: `RequestPool answered an invalid pool ${JSON.stringify(r.value.Pool)}; the pool is never released` });
    op.fail('RequestPool', invalidCidr(r.value.Pool));
  }
  const rec = { poolId: r.value.PoolID, pool, subnet: cfg.subnet ?? '', ipRange: cfg.ipRange ?? '' };
  let gateway: string | null = null;
  const metaGw = r.value.Data?.[Options.Gateway];
  if (metaGw !== undefined) {
    const g = parseIpPrefix(metaGw);
    if (g === null) {
      // swarmkit returns here without releasing anything: every pool taken so far stays allocated.
      for (const p of [...taken, rec]) leak(d, { kind: 'pool', poolId: p.poolId, detail: `pool ${p.pool.text} never released (the IPAM's gateway ${JSON.stringify(metaGw)} did not parse)` });
      op.fail('GatewayAddress', `failed to parse gateway address (${metaGw}) returned by ipam driver: ${invalidCidr(metaGw)}`);
    }
    gateway = formatIp(g.ip);
  }
  const userGw = cfg.gateway ?? '';
  if (userGw !== '' || gateway === null) {
    const g = await d.ipam.tryCall('RequestAddress', { PoolID: rec.poolId, Address: userGw, Options: { ...(ipamOptions ?? {}), [Options.RequestAddressType]: Options.Gateway, [SERIAL_OPTION]: 'true' } });
    const a = g.ok ? parseIpPrefix(g.value.Address) : null;
    if (!g.ok || a === null) {
      // releasePools(configs[:i]): gateways of the earlier pools, then every pool, this one included.
      await releasePools(d, name, [...taken, { ...rec, gateway: '' }]);
      op.fail('GatewayAddress', g.ok ? invalidCidr(g.value.Address) : g.error.message, g.ok ? {} : { callError: g.error });
    }
    gateway = formatIp(a.ip);
  }
  return { ...rec, gateway };
}

/** releasePools: the gateway of every pool, then every pool; errors only logged. */
async function releasePools(d: DaemonState, name: string, pools: readonly SwarmPool[]): Promise<void> {
  for (const p of pools) {
    // '' = the gateway was never allocated (the failed pool of a rollback).
    if (p.gateway === '') continue;
    const ok = await logged(d, d.ipam, 'ReleaseAddress', { PoolID: p.poolId, Address: p.gateway }, `Failed to release address ${p.pool.text}`);
    if (!ok) leak(d, { kind: 'address', poolId: p.poolId, address: p.gateway, detail: `gateway of swarm network ${name} not released (ReleaseAddress failed)` });
  }
  for (const p of pools) {
    const ok = await logged(d, d.ipam, 'ReleasePool', { PoolID: p.poolId }, `Failed to release pool ${p.pool.text}`);
    if (!ok) leak(d, { kind: 'pool', poolId: p.poolId, detail: `pool ${p.pool.text} of swarm network ${name} not released (ReleasePool failed)` });
  }
}

/** allocateNetworkIPs: a task's address on the network (a preferred one, or any), serially. */
export async function allocateTaskAddress(op: Op, n: SwarmNetworkRec, preferred: string | null): Promise<{ poolId: string; address: IpPrefix } | null> {
  if (n.nodeLocal) return null;
  const d = op.d;
  await resolveIpam(op);
  if (preferred !== null && parseIp(preferred) === null) op.fail('validate', `could not parse address string ${preferred}`, { status: 400 });
  // Remote IPAM errors never match the allocator's "no more addresses" sentinels: the first pool's answer is final.
  const p = n.pools[0]!;
  const r = await d.ipam.tryCall('RequestAddress', { PoolID: p.poolId, Address: preferred ?? '', Options: { ...(n.ipamOptions ?? {}), [SERIAL_OPTION]: 'true' } });
  if (!r.ok) op.fail('RequestAddress', `could not allocate IP from IPAM: ${r.error.message}`, { callError: r.error });
  const a = parseIpPrefix(r.value.Address);
  if (a === null) op.fail('RequestAddress', invalidCidr(r.value.Address));
  return { poolId: p.poolId, address: a };
}

/** releaseEndpoints: a task's address goes back; errors only logged. */
export async function releaseTaskAddress(d: DaemonState, n: SwarmNetworkRec, a: { poolId: string; address: IpPrefix }): Promise<void> {
  const ip = formatIp(a.address.ip);
  const ok = await logged(d, d.ipam, 'ReleaseAddress', { PoolID: a.poolId, Address: ip }, `IPAM failure while releasing IP address ${a.address.text}`);
  if (!ok) leak(d, { kind: 'address', poolId: a.poolId, address: ip, detail: `task address on swarm network ${n.name} not released (ReleaseAddress failed)` });
}

/** Allocator.Deallocate: FreeNetwork, then the gateways and pools. A FreeNetwork failure leaves the pools allocated. */
export async function freeNetwork(d: DaemonState, n: SwarmNetworkRec): Promise<void> {
  if (n.nodeLocal) return;
  const r = await d.driver.tryCall('FreeNetwork', { NetworkID: n.id });
  if (!r.ok) {
    warn(d, `failed to free driver state for network ${n.id}: ${r.error.message}`);
    for (const p of n.pools) leak(d, { kind: 'pool', poolId: p.poolId, detail: `FreeNetwork of ${n.name} failed: swarm never releases pool ${p.pool.text}` });
    return;
  }
  await releasePools(d, n.name, n.pools);
}
