/**
 * Endpoints (daemon connectToNetwork, libnetwork network.createEndpoint and
 * endpoint.Delete, protocol.md §4.3-§4.5): addresses from the IPAM,
 * CreateEndpoint and the proxy's reply checks, the sandbox made on first
 * connect, Join (join.ts), EndpointOperInfo; teardown in the reverse order.
 */
import { Options } from '../protocol/constants.js';
import { ipamCaps, quietResolve, resolveDriver, resolveIpam } from './activation.js';
import { canonicalGoMac, formatIp, type IpPrefix, isGlobalUnicast6, macBase64, netContains, parseIp, parseIpPrefix } from '../net/index.js';
import { invalidCidr } from './addr.js';
import type { DaemonStep } from './errors.js';
import { sbJoin, sbLeave } from './join.js';
import type { AddrRec, AttachRec, ContainerRec, EndpointRec, NetworkRec, SandboxRec } from './model.js';
import { goErr } from './sandbox.js';
import { leak, logged, needNetwork, warn, type DaemonState, type Op } from './state.js';
import type { IpamConfigSpec, NetworkAttachSpec } from './types.js';

/** Where dockerd creates sandbox namespaces (the key is this + 12 id characters). */
export const NETNS_DIR = '/var/run/docker/netns/';
const PROTO: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };
const NO_SUBNET_IP = 'user specified IP address is supported only when connecting to networks with user configured subnets';

/** `--ip` / `--ip6` need a user-configured subnet of that family. */
export function checkSubnetForIp(op: Op, n: NetworkRec, a: NetworkAttachSpec): void {
  const has = (confs: IpamConfigSpec[]) => confs.some((c) => c.subnet !== undefined && c.subnet !== '');
  if ((a.ip !== undefined && a.ip !== '' && !has(n.v4Conf)) || (a.ip6 !== undefined && a.ip6 !== '' && !has(n.v6Conf))) {
    op.fail('validate', NO_SUBNET_IP, { status: 400 });
  }
}

function sandboxLabels(c: ContainerRec): Record<string, unknown> {
  return {
    [Options.ExposedPorts]: c.ports.map((p) => ({ Proto: PROTO[p.proto ?? 'tcp'], Port: p.port })),
    [Options.PortMap]: c.ports
      .filter((p) => p.hostPort !== undefined)
      .map((p) => ({ Proto: PROTO[p.proto ?? 'tcp'], IP: '', Port: p.port, HostIP: p.hostIp ?? '', HostPort: p.hostPort, HostPortEnd: p.hostPort })),
  };
}

/** daemon connectToNetwork: CreateEndpoint with its address, the sandbox, sbJoin, updateJoinInfo, getPortMapInfo. */
export async function connectToNetwork(op: Op, c: ContainerRec, a: AttachRec): Promise<void> {
  const d = op.d;
  const n = d.networks.get(a.networkId) ?? needNetwork(op, a.network);
  checkSubnetForIp(op, n, a);
  let sb = c.sandbox;
  // buildCreateEndpointOptions looks at the sandbox's port mappings first.
  if (sb !== null) await portMapInfo(d, sb);
  const epOptions: Record<string, unknown> = {};
  if (!n.internal) {
    const labels = sandboxLabels(c);
    epOptions[Options.ExposedPorts] = labels[Options.ExposedPorts];
    epOptions[Options.PortMap] = labels[Options.PortMap];
  }
  const mac = a.mac !== undefined && a.mac !== '' ? canonicalGoMac(a.mac) : null;
  if (mac !== null) epOptions[Options.MacAddress] = macBase64(mac);
  for (const [k, v] of Object.entries(a.driverOpts ?? {})) epOptions[k] = v;
  if (n.endpointNames.has(c.name)) op.fail('validate', `endpoint with name ${c.name} already exists in network ${n.name}`, { status: 403 });
  const ep = await createEndpoint(op, n, c, a, mac, epOptions);
  try {
    if (sb === null) {
      const id = d.ids.id();
      sb = {
        id,
        key: NETNS_DIR + id.slice(0, 12),
        container: c,
        endpoints: [],
        osCreated: false,
        ifaces: [],
        nextIfIndex: new Map(),
        programmedRoutes: new Map(),
        defaultRoute4: null,
        defaultRoute6: null,
        inDelete: false,
        gwBridge: false,
        stray: new Set(),
        gatewayStale: false,
        labels: sandboxLabels(c),
      };
      c.sandbox = sb;
    }
    await sbJoin(op, sb, ep);
    // updateJoinInfo: fatal in 20.10 (and moby < 28.0.2), ignored later.
    const info = await d.driver.tryCall('EndpointOperInfo', { NetworkID: n.id, EndpointID: ep.id });
    if (!info.ok) {
      if (d.profile === 'docker-20.10') op.fail('EndpointOperInfo', `Updating join info failed: ${info.error.message}`, { callError: info.error });
      warn(d, `EndpointOperInfo: ${info.error.message}`);
    }
    await portMapInfo(d, sb);
  } catch (e) {
    await endpointDelete(d, ep);
    throw e;
  }
}

/** getPortMapInfo: EndpointOperInfo for each endpoint of the sandbox, errors ignored. */
export async function portMapInfo(d: DaemonState, sb: SandboxRec): Promise<void> {
  for (const ep of [...sb.endpoints]) {
    await d.driver.tryCall('EndpointOperInfo', { NetworkID: ep.network.id, EndpointID: ep.id });
  }
}

/** libnetwork network.createEndpoint: addresses, then the driver's CreateEndpoint. */
async function createEndpoint(op: Op, n: NetworkRec, c: ContainerRec, a: NetworkAttachSpec, mac: string | null, epOptions: Record<string, unknown>): Promise<EndpointRec> {
  const d = op.d;
  await resolveIpam(op);
  const ep: EndpointRec = { id: d.ids.id(), name: c.name, network: n, v4: null, v6: null, mac, ipamOptions: null, join: null, sandbox: null };
  if (ipamCaps(d).mac) {
    if (ep.mac === null) ep.mac = d.ids.mac();
    ep.ipamOptions = { [Options.MacAddress]: ep.mac };
  }
  if (d.profile === 'moby') ep.ipamOptions = { ...(ep.ipamOptions ?? {}), [Options.EndpointName]: c.name };
  const pref4 = a.ip !== undefined && a.ip !== '' ? parseIp(a.ip) : null;
  const pref6 = a.ip6 !== undefined && a.ip6 !== '' ? parseIp(a.ip6) : null;
  await assignAddressVersion(op, ep, 4, pref4);
  if (n.enableIPv6) {
    try {
      await assignAddressVersion(op, ep, 6, pref6);
    } catch (e) {
      // dockerd returns without releasing the IPv4 address (still so in HEAD).
      if (ep.v4 !== null) leak(d, { kind: 'address', poolId: ep.v4.poolId, address: formatIp(ep.v4.addr.ip), detail: 'IPv4 address of an endpoint whose IPv6 allocation failed is never released' });
      throw e;
    }
  }
  try {
    await resolveDriver(op);
  } catch (e) {
    await releaseAddress(d, ep);
    throw e;
  }
  const r = await d.driver.tryCall('CreateEndpoint', {
    NetworkID: n.id,
    EndpointID: ep.id,
    Interface: { Address: ep.v4?.addr.text ?? '', AddressIPv6: ep.v6?.addr.text ?? '', MacAddress: ep.mac ?? '' },
    Options: epOptions,
  });
  if (!r.ok) {
    await releaseAddress(d, ep);
    op.fail('CreateEndpoint', r.error.message, { callError: r.error });
  }
  const problem = await applyCreateEndpointReply(d, ep, r.value.Interface ?? null);
  if (problem !== null) {
    await releaseAddress(d, ep);
    op.fail('CreateEndpoint', problem);
  }
  n.endpoints.set(ep.id, ep);
  n.endpointNames.add(ep.name);
  return ep;
}

/** The remote driver proxy's reading of CreateEndpoint's reply; returns the error text or null. */
async function applyCreateEndpointReply(d: DaemonState, ep: EndpointRec, iface: { Address?: string; AddressIPv6?: string; MacAddress?: string } | null): Promise<string | null> {
  if (iface === null) return null;
  let addr: IpPrefix | null = null;
  let addr6: IpPrefix | null = null;
  let mac: string | null = null;
  if (iface.Address !== undefined && iface.Address !== '') {
    addr = parseIpPrefix(iface.Address);
    if (addr === null) return invalidCidr(iface.Address);
  }
  if (iface.AddressIPv6 !== undefined && iface.AddressIPv6 !== '') {
    addr6 = parseIpPrefix(iface.AddressIPv6);
    if (addr6 === null) return invalidCidr(iface.AddressIPv6);
  }
  if (iface.MacAddress !== undefined && iface.MacAddress !== '') {
    mac = canonicalGoMac(iface.MacAddress);
    if (mac === null) return `address ${iface.MacAddress}: invalid MAC address`;
  }
  const rollback = async (msg: string): Promise<string> => {
    const r = await d.driver.tryCall('DeleteEndpoint', { NetworkID: ep.network.id, EndpointID: ep.id });
    if (!r.ok) leak(d, { kind: 'endpoint', detail: `DeleteEndpoint rollback of ${ep.id} failed` });
    if (d.profile === 'docker-20.10') return msg;
    return r.ok ? `${msg}; rolled back` : `${msg}; failed to roll back: ${r.error.message}`;
  };
  if (mac !== null) {
    if (ep.mac !== null) return rollback(`driver modified interface MAC address: endpoint interface MAC address present (${ep.mac}). Cannot be modified with ${mac}.`);
    ep.mac = mac;
  }
  for (const a of [addr, addr6]) {
    if (a === null) continue;
    const slot = a.ip.family === 4 ? 'v4' : 'v6';
    const cur = ep[slot];
    if (cur !== null) return rollback(`driver modified interface address: endpoint interface IP present (${cur.addr.text}). Cannot be modified with (${a.text}).`);
    // The driver chose the address (IPAM gave none): it has no pool, nothing is released later.
    ep[slot] = { poolId: '', addr: a };
  }
  return null;
}

/** endpoint.assignAddressVersion with a remote IPAM: the first pool's answer is final. */
async function assignAddressVersion(op: Op, ep: EndpointRec, v: 4 | 6, pref: ReturnType<typeof parseIp>): Promise<void> {
  const d = op.d;
  const pools = v === 4 ? ep.network.v4 : ep.network.v6;
  if (pools.length === 0 && v === 6) return;
  const step: DaemonStep = v === 4 ? 'RequestAddress' : 'RequestAddressIPv6';
  for (const p of pools) {
    if (pref !== null && !netContains(p.pool.net, pref)) continue;
    const r = await d.ipam.tryCall('RequestAddress', { PoolID: p.poolId, Address: pref === null ? '' : formatIp(pref), Options: ep.ipamOptions === null ? null : { ...ep.ipamOptions } });
    if (!r.ok) op.fail(step, r.error.message, { callError: r.error });
    // The built-in null IPAM gives no address and no error: the driver's CreateEndpoint reply may supply one.
    if (r.value.Address === '' && d.nullIpam) return;
    if (r.value.Address === '') op.fail(step, 'No address returned');
    const a = parseIpPrefix(r.value.Address);
    if (a === null) op.fail(step, invalidCidr(r.value.Address));
    const rec: AddrRec = { poolId: p.poolId, addr: a };
    if (v === 4) ep.v4 = rec;
    else ep.v6 = rec;
    return;
  }
  if (pref !== null) op.fail(step, `Invalid address ${formatIp(pref)}: It does not belong to any of this network's subnets`, { status: 400 });
  op.fail(step, `no available IPv${v} addresses on this network's address pools: ${ep.network.name} (${ep.network.id})`);
}

async function releaseAddress(d: DaemonState, ep: EndpointRec): Promise<void> {
  if (!(await quietResolve(d, 'ipam'))) {
    for (const a of [ep.v4, ep.v6]) {
      if (a !== null && a.poolId !== '') leak(d, { kind: 'address', poolId: a.poolId, address: formatIp(a.addr.ip), detail: `IPAM not resolvable: address of endpoint ${ep.id} not released` });
    }
    return;
  }
  const rel = async (a: AddrRec | null): Promise<void> => {
    if (a === null || a.poolId === '') return;
    if (a.addr.ip.family === 6 && !isGlobalUnicast6(a.addr.ip)) return;
    const ip = formatIp(a.addr.ip);
    const ok = await logged(d, d.ipam, 'ReleaseAddress', { PoolID: a.poolId, Address: ip }, `Failed to release ip address ${ip} on delete of endpoint ${ep.name} (${ep.id})`);
    if (!ok) leak(d, { kind: 'address', poolId: a.poolId, address: ip, detail: 'endpoint address not released (ReleaseAddress failed)' });
  };
  await rel(ep.v4);
  await rel(ep.v6);
}

/** endpoint.Delete(false): leave if still joined, DeleteEndpoint, release the addresses. */
export async function endpointDelete(d: DaemonState, ep: EndpointRec): Promise<void> {
  if (ep.sandbox !== null) await sbLeave(d, ep.sandbox, ep);
  ep.network.endpoints.delete(ep.id);
  ep.network.endpointNames.delete(ep.name);
  if (await quietResolve(d, 'driver')) {
    const ok = await logged(d, d.driver, 'DeleteEndpoint', { NetworkID: ep.network.id, EndpointID: ep.id }, `driver error deleting endpoint ${ep.name}`);
    if (!ok) leak(d, { kind: 'endpoint', detail: `DeleteEndpoint of ${ep.id} failed; the driver may keep its state` });
  } else {
    // dockerd keeps such an endpoint in its store; cnmkit forgets it and reports the driver-side leftover.
    leak(d, { kind: 'endpoint', detail: `driver not resolvable: endpoint ${ep.id} never deleted in the driver` });
  }
  await releaseAddress(d, ep);
}

/** releaseNetwork / sandbox.delete: every endpoint leaves and is deleted, then the netns goes. */
export async function releaseNetwork(d: DaemonState, c: ContainerRec): Promise<void> {
  const sb = c.sandbox;
  if (sb === null) return;
  sb.inDelete = true;
  for (const ep of [...sb.endpoints]) {
    await sbLeave(d, sb, ep);
    await endpointDelete(d, ep);
  }
  if (sb.osCreated) {
    try {
      await d.backend.deleteNamespace(sb.key);
    } catch (e) {
      warn(d, `failed to delete sandbox ${sb.key}: ${goErr(e)}`);
      d.leakedNamespaces.add(sb.key);
      leak(d, { kind: 'sandbox', namespace: sb.key, detail: `netns ${sb.key} not deleted (${goErr(e)})` });
    }
  }
  c.sandbox = null;
}
