/**
 * Networks and their IPAM (protocol.md §4.1, §4.2, §4.6): `docker network
 * create` = the daemon's checks, libnetwork's ipamAllocate (RequestPool with
 * the overlap loop, gateway, aux; deferred ReleasePool) then CreateNetwork
 * (failure: ipamRelease); `docker network rm` = ipamRelease then DeleteNetwork.
 */
import { Options } from '../protocol/constants.js';
import { resolveDriver, resolveIpam, quietResolve } from './activation.js';
import { formatIp, type IpPrefix, type Net, netContains, netsOverlap, parseCidr, parseIp, parseIpPrefix } from '../net/index.js';
import { invalidCidr } from './addr.js';
import { DaemonUsageError } from './errors.js';
import type { NetworkRec, PoolRec } from './model.js';
import { findNetworkByName, leak, logged, needNetwork, type DaemonState, type Op } from './state.js';
import type { IpamConfigSpec, NetworkCreateSpec } from './types.js';

const GATEWAY_OPTS: Readonly<Record<string, string>> = { [Options.RequestAddressType]: Options.Gateway };

/** The CLI's and the daemon's checks of the `--subnet` groups, before any plugin call. */
function checkIpamConfs(op: Op, confs: readonly IpamConfigSpec[], family: 4 | 6): void {
  const subnets: Net[] = [];
  for (const c of confs) {
    let subnet: Net | null = null;
    if (c.subnet !== undefined && c.subnet !== '') {
      subnet = parseCidr(c.subnet);
      if (subnet === null) op.fail('validate', invalidCidr(c.subnet), { status: 400 });
      if (subnet.family !== family) op.fail('validate', `invalid ${family === 4 ? 'IPv4' : 'IPv6'} subnet ${c.subnet}`, { status: 400 });
      for (const o of subnets) if (netsOverlap(o, subnet)) op.fail('validate', 'multiple overlapping subnet configuration is not supported', { status: 400 });
      subnets.push(subnet);
    }
    if (c.ipRange !== undefined && c.ipRange !== '') {
      const r = parseCidr(c.ipRange);
      if (r === null) op.fail('validate', invalidCidr(c.ipRange), { status: 400 });
      if (subnet === null || r.family !== subnet.family || r.prefix < subnet.prefix || !netContains(subnet, { family: r.family, value: r.base })) op.fail('validate', `no matching subnet for range ${c.ipRange}`, { status: 400 });
    }
    if (c.gateway !== undefined && c.gateway !== '') {
      const g = parseIp(c.gateway);
      if (g === null) op.fail('validate', `invalid gateway address ${c.gateway} in Ipam configuration`, { status: 400 });
      if (subnet === null || !netContains(subnet, g)) op.fail('validate', `no matching subnet for gateway ${c.gateway}`, { status: 400 });
    }
    for (const [, v] of Object.entries(c.auxAddresses ?? {})) {
      const a = parseIp(v);
      if (a === null || subnet === null || !netContains(subnet, a)) op.fail('validate', `no matching subnet for aux-address ${v}`, { status: 400 });
    }
  }
}

/** A checked `docker network create` spec: name, IPAM configurations, flags. */
export interface CheckedNetworkSpec {
  readonly name: string;
  readonly v4Conf: IpamConfigSpec[];
  readonly v6Conf: IpamConfigSpec[];
  readonly enableIPv6: boolean;
  readonly internal: boolean;
}

/** The daemon's checks of a network spec (name unused, configurations well formed). */
export function checkNetworkSpec(op: Op, spec: NetworkCreateSpec): CheckedNetworkSpec {
  if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string') throw new DaemonUsageError('networkCreate: a spec with a name is required');
  const name = spec.name;
  if (name.trim() === '') op.fail('validate', `invalid name: ${JSON.stringify(name)}`, { status: 400 });
  if (findNetworkByName(op.d, name) !== undefined) op.fail('validate', `network with name ${name} already exists`, { status: 409 });
  const v4Conf = [...(spec.ipv4 ?? [])];
  const v6Conf = spec.ipv6 === true ? [] : spec.ipv6 === false || spec.ipv6 === undefined ? [] : [...spec.ipv6];
  // `ipv6: true` or a list (an empty list = one automatic IPv6 pool, like `--ipv6` alone).
  const enableIPv6 = spec.ipv6 === true || Array.isArray(spec.ipv6);
  checkIpamConfs(op, v4Conf, 4);
  checkIpamConfs(op, v6Conf, 6);
  return { name, v4Conf, v6Conf, enableIPv6, internal: spec.internal === true };
}

/** CreateNetwork's `Options` (protocol.md §2.2): the generic map, IPv6 (and IPv4 on moby), internal. */
export function createNetworkOptions(d: DaemonState, generic: Readonly<Record<string, string>>, enableIPv6: boolean, internal: boolean): Record<string, unknown> {
  const options: Record<string, unknown> = { [Options.Generic]: { ...generic }, [Options.EnableIPv6]: enableIPv6 };
  if (d.profile === 'moby') options[Options.EnableIPv4] = true;
  if (internal) options[Options.Internal] = true;
  return options;
}

/** IPvXData of CreateNetwork: one entry per pool, keys as Go emits them. */
export function ipamData(addrSpace: string, pools: readonly PoolRec[]): Array<{ AddressSpace: string; AuxAddresses?: Record<string, string>; Gateway?: string; Pool: string }> {
  return pools.map((p) => ({
    AddressSpace: addrSpace,
    ...(p.aux.length > 0 ? { AuxAddresses: Object.fromEntries(p.aux.map(([k, v]) => [k, v.text])) } : {}),
    ...(p.gateway !== null ? { Gateway: p.gateway.text } : {}),
    Pool: p.pool.text,
  }));
}

export async function networkCreate(op: Op, spec: NetworkCreateSpec): Promise<NetworkRec> {
  const d = op.d;
  const { name, v4Conf, v6Conf, enableIPv6, internal } = checkNetworkSpec(op, spec);

  const drv = await resolveDriver(op);
  const scope = drv.driverCapabilities!.Scope === 'global' ? 'global' : 'local';
  const ipamAct = await resolveIpam(op);
  const spaces = ipamAct.addressSpaces!;
  const addrSpace = scope === 'global' ? spaces.GlobalDefaultAddressSpace : spaces.LocalDefaultAddressSpace;

  const id = d.ids.id();
  const options = createNetworkOptions(d, spec.driverOpts ?? {}, enableIPv6, internal);

  let skip4 = false;
  let skip6 = false;
  if (d.profile === 'moby' && drv.driverCapabilities!.GwAllocChecker === true) {
    const r = await d.driver.tryCall('GwAllocCheck', { Options: options });
    if (!r.ok) op.fail('GwAllocCheck', r.error.message, { callError: r.error });
    skip4 = r.value.SkipIPv4 === true;
    skip6 = r.value.SkipIPv6 === true;
  }

  const n: NetworkRec = {
    id,
    name,
    internal,
    enableIPv6,
    scope,
    addrSpace,
    driverOpts: { ...(spec.driverOpts ?? {}) },
    ipamOpts: { ...(spec.ipamOpts ?? {}) },
    v4Conf,
    v6Conf,
    v4: [],
    v6: [],
    endpoints: new Map(),
    endpointNames: new Set(),
  };
  await ipamAllocate(op, n, skip4, skip6);

  const created = await d.driver.tryCall('CreateNetwork', { NetworkID: id, Options: options, IPv4Data: ipamData(addrSpace, n.v4), IPv6Data: ipamData(addrSpace, n.v6) });
  if (!created.ok) {
    await ipamRelease(d, n);
    op.fail('CreateNetwork', created.error.message, { callError: created.error });
  }
  if (scope === 'global') {
    // A global-scope driver outside swarm: the store refuses it after CreateNetwork.
    await logged(d, d.driver, 'DeleteNetwork', { NetworkID: id }, `driver error deleting network ${name}`);
    await ipamRelease(d, n);
    op.fail('scope', 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.', { status: 503 });
  }
  d.networks.set(id, n);
  return n;
}

/** A swarm network as the manager allocated it, created on a worker when its first task lands there. */
export interface SwarmNetworkSpec {
  /** The swarm network id (25 characters). */
  readonly id: string;
  readonly name: string;
  /** The AllocateNetwork answer (the network's driver state): CreateNetwork's generic map. */
  readonly driverOptions: Readonly<Record<string, string>>;
  /** The network's IPAM options (null when none were given, as swarm sends them). */
  readonly ipamOptions: Readonly<Record<string, string>> | null;
  /** The manager's subnets, ranges and gateways. */
  readonly ipv4: readonly IpamConfigSpec[];
  readonly internal?: boolean;
}

/**
 * The worker's side of a swarm network (protocol.md §4.9): the cluster
 * executor creates it with the manager's subnets and gateways as explicit
 * configuration, so the worker's own IPAM gets RequestPool(local space,
 * Pool=subnet) and the gateway RequestAddress(Address=gateway); then
 * CreateNetwork with the swarm id and the AllocateNetwork options as generic
 * map. No scope refusal: this node is in a swarm.
 */
export async function swarmNetworkCreate(op: Op, spec: SwarmNetworkSpec): Promise<NetworkRec> {
  const d = op.d;
  if (d.networks.has(spec.id)) op.fail('validate', `network with name ${spec.name} already exists`, { status: 409 });
  const v4Conf = spec.ipv4.map((c) => ({ ...c }));
  checkIpamConfs(op, v4Conf, 4);
  const internal = spec.internal === true;
  await resolveDriver(op);
  const ipamAct = await resolveIpam(op);
  const addrSpace = ipamAct.addressSpaces!.LocalDefaultAddressSpace;
  const options = createNetworkOptions(d, spec.driverOptions, false, internal);
  const n: NetworkRec = {
    id: spec.id,
    name: spec.name,
    internal,
    enableIPv6: false,
    scope: 'swarm',
    addrSpace,
    driverOpts: { ...spec.driverOptions },
    ipamOpts: spec.ipamOptions === null ? null : { ...spec.ipamOptions },
    v4Conf,
    v6Conf: [],
    v4: [],
    v6: [],
    endpoints: new Map(),
    endpointNames: new Set(),
  };
  await ipamAllocate(op, n);
  const created = await d.driver.tryCall('CreateNetwork', { NetworkID: n.id, Options: options, IPv4Data: ipamData(addrSpace, n.v4), IPv6Data: [] });
  if (!created.ok) {
    await ipamRelease(d, n);
    op.fail('CreateNetwork', created.error.message, { callError: created.error });
  }
  d.networks.set(n.id, n);
  return n;
}

/** libnetwork ipamAllocate: IPv4 pools, then IPv6 (if enabled); an IPv6 failure releases IPv4 entirely. */
export async function ipamAllocate(op: Op, n: NetworkRec, skip4 = false, skip6 = false): Promise<void> {
  n.v4 = await ipamAllocateVersion(op, n, 4, skip4);
  if (!n.enableIPv6) return;
  try {
    n.v6 = await ipamAllocateVersion(op, n, 6, skip6);
  } catch (e) {
    await ipamReleaseVersion(op.d, n, 4);
    throw e;
  }
}

async function ipamAllocateVersion(op: Op, n: NetworkRec, v: 4 | 6, skipGateway: boolean): Promise<PoolRec[]> {
  const d = op.d;
  const confs: IpamConfigSpec[] = (v === 4 ? n.v4Conf : n.v6Conf).length === 0 ? [{}] : v === 4 ? n.v4Conf : n.v6Conf;
  const out: PoolRec[] = [];
  try {
    for (const cfg of confs) {
      const req = await requestPool(op, n, cfg, v === 6);
      const rec: PoolRec = { poolId: req.poolId, pool: req.pool, meta: req.meta, gateway: null, aux: [] };
      out.push(rec);
      const metaGw = rec.meta[Options.Gateway];
      if (metaGw !== undefined) {
        const g = parseIpPrefix(metaGw);
        if (g === null) op.fail('GatewayAddress', `failed to parse gateway address (${metaGw}) returned by ipam driver: ${invalidCidr(metaGw)}`, { status: 400 });
        rec.gateway = g;
      }
      const userGw = cfg.gateway ?? '';
      if (userGw !== '' || (rec.gateway === null && !skipGateway)) {
        const r = await d.ipam.tryCall('RequestAddress', { PoolID: rec.poolId, Address: userGw, Options: { ...GATEWAY_OPTS } });
        let inner: string | null = null;
        if (!r.ok) inner = r.error.message;
        else if (r.value.Address === '' && d.nullIpam) {
          // The built-in null IPAM answers nil without an error: the network has no gateway.
        } else if (r.value.Address === '') inner = 'No address returned';
        else {
          const g = parseIpPrefix(r.value.Address);
          if (g === null) inner = invalidCidr(r.value.Address);
          else rec.gateway = g;
        }
        if (inner !== null) op.fail('GatewayAddress', `failed to allocate gateway (${userGw}): ${inner}`, r.ok ? {} : { callError: r.error });
      }
      for (const [k, val] of Object.entries(cfg.auxAddresses ?? {})) {
        const ip = parseIp(val);
        if (ip === null) op.fail('AuxAddress', `non parsable secondary ip address (${k}:${val}) passed for network ${n.name}`, { status: 400 });
        if (!netContains(rec.pool.net, ip)) op.fail('AuxAddress', `auxiliary address: (${k}:${val}) must belong to the master pool: ${rec.pool.text}`, { status: 403 });
        const r = await d.ipam.tryCall('RequestAddress', { PoolID: rec.poolId, Address: val, Options: null });
        let inner: string | null = null;
        if (!r.ok) inner = r.error.message;
        else if (r.value.Address === '') inner = 'No address returned';
        else {
          const a = parseIpPrefix(r.value.Address);
          if (a === null) inner = invalidCidr(r.value.Address);
          else rec.aux.push([k, a]);
        }
        if (inner !== null) op.fail('AuxAddress', `failed to allocate secondary ip address (${k}:${val}): ${inner}`, r.ok ? {} : { callError: r.error });
      }
    }
  } catch (e) {
    // The deferred ReleasePool of every pool of this version, last first; gateways and aux stay (dockerd's behaviour).
    for (const p of [...out].reverse()) {
      const ok = await logged(d, d.ipam, 'ReleasePool', { PoolID: p.poolId }, `Failed to release address pool ${p.poolId} after failure to create network ${n.name} (${n.id})`);
      if (!ok) leak(d, { kind: 'pool', poolId: p.poolId, detail: `pool ${p.pool.text} not released (ReleasePool failed)` });
    }
    throw e;
  }
  return out;
}

/** requestPoolHelper: the overlap loop for automatic local pools (protocol.md §2.3). */
async function requestPool(op: Op, n: NetworkRec, cfg: IpamConfigSpec, v6: boolean): Promise<{ poolId: string; pool: IpPrefix; meta: Record<string, string> }> {
  const d = op.d;
  const held: string[] = [];
  const preferred = cfg.subnet ?? '';
  try {
    for (;;) {
      if (d.profile === 'moby') {
        // moby 27+: the remote IPAM proxy asks for the address spaces before every RequestPool.
        const s = await d.ipam.tryCall('GetDefaultAddressSpaces', undefined);
        if (!s.ok) op.fail('RequestPool', s.error.message, { callError: s.error });
      }
      const r = await d.ipam.tryCall('RequestPool', { AddressSpace: n.addrSpace, Pool: preferred, SubPool: cfg.ipRange ?? '', Options: n.ipamOpts === null ? null : { ...n.ipamOpts }, V6: v6 });
      if (!r.ok) op.fail('RequestPool', r.error.message, { callError: r.error });
      const pool = parseIpPrefix(r.value.Pool);
      if (pool === null) {
        // The pool id is lost with the error: dockerd never releases it.
        leak(d, { kind: 'pool', poolId: r.value.PoolID, detail: `RequestPool answered an invalid pool ${JSON.stringify(r.value.Pool)}; the pool is never released` });
        op.fail('RequestPool', invalidCidr(r.value.Pool));
      }
      const meta = r.value.Data ?? {};
      const unspecified = (pool.ip.value === 0 || pool.ip.value === 0n) && pool.prefix === 0;
      if (n.scope !== 'local' || preferred !== '' || unspecified || !d.hostRoutes.some((h) => netsOverlap(h, pool.net))) {
        return { poolId: r.value.PoolID, pool, meta };
      }
      held.push(r.value.PoolID);
      if (held.length > d.maxOverlap) {
        op.fail('RequestPool', `the IPAM returned ${held.length} pools overlapping host routes in a row (dockerd would keep asking forever)`);
      }
    }
  } finally {
    for (const id of held) {
      const ok = await logged(d, d.ipam, 'ReleasePool', { PoolID: id }, `Failed to release overlapping pool ${id} while returning from pool request helper for network ${n.name}`);
      if (!ok) leak(d, { kind: 'pool', poolId: id, detail: 'overlapping pool not released (ReleasePool failed)' });
    }
  }
}

export async function ipamRelease(d: DaemonState, n: NetworkRec): Promise<void> {
  await ipamReleaseVersion(d, n, 4);
  await ipamReleaseVersion(d, n, 6);
}

/** Per pool: gateway, aux addresses inside the pool, the pool. Errors are only logged. */
async function ipamReleaseVersion(d: DaemonState, n: NetworkRec, v: 4 | 6): Promise<void> {
  const pools = v === 4 ? n.v4 : n.v6;
  for (const p of pools) {
    if (p.gateway !== null) {
      const ok = await logged(d, d.ipam, 'ReleaseAddress', { PoolID: p.poolId, Address: formatIp(p.gateway.ip) }, `Failed to release gateway ip address ${formatIp(p.gateway.ip)} on delete of network ${n.name} (${n.id})`);
      if (!ok) leak(d, { kind: 'address', poolId: p.poolId, address: formatIp(p.gateway.ip), detail: 'gateway not released (ReleaseAddress failed)' });
    }
    for (const [k, a] of p.aux) {
      if (!netContains(p.pool.net, a.ip)) continue;
      const ok = await logged(d, d.ipam, 'ReleaseAddress', { PoolID: p.poolId, Address: formatIp(a.ip) }, `Failed to release secondary ip address ${k} (${formatIp(a.ip)}) on delete of network ${n.name} (${n.id})`);
      if (!ok) leak(d, { kind: 'address', poolId: p.poolId, address: formatIp(a.ip), detail: `aux address ${k} not released (ReleaseAddress failed)` });
    }
    const ok = await logged(d, d.ipam, 'ReleasePool', { PoolID: p.poolId }, `Failed to release address pool ${p.poolId} on delete of network ${n.name} (${n.id})`);
    if (!ok) leak(d, { kind: 'pool', poolId: p.poolId, detail: `pool ${p.pool.text} not released (ReleasePool failed)` });
  }
  if (v === 4) n.v4 = [];
  else n.v6 = [];
}

/** `docker network rm` (§4.6): refused with endpoints; IPAM release, then DeleteNetwork; errors only logged. */
export async function networkRm(op: Op, name: string): Promise<void> {
  const d = op.d;
  const n = needNetwork(op, name);
  if (n.endpoints.size > 0) op.fail('validate', `error while removing network: network ${n.name} id ${n.id} has active endpoints`, { status: 403 });
  await resolveDriver(op);
  if (await quietResolve(d, 'ipam')) await ipamRelease(d, n);
  else leak(d, { kind: 'pool', detail: `IPAM not resolvable: pools of network ${n.name} not released` });
  const ok = await logged(d, d.driver, 'DeleteNetwork', { NetworkID: n.id }, `driver error deleting network ${n.name}`);
  if (!ok) leak(d, { kind: 'network', detail: `DeleteNetwork of ${n.name} (${n.id}) failed; the driver may keep its state` });
  d.networks.delete(n.id);
}
