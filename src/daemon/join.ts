/**
 * Join, Leave and the sandbox (libnetwork sbJoin / sbLeave, the remote
 * proxy's reading of Join's reply, the OCI hook): the endpoint heap, the
 * gateway endpoint and its Program / Revoke, and the daemon's own netns work
 * (populate on join or at the hook, clear on leave).
 */
import type { CallOutcome } from '../client/types.js';
import { Options } from '../protocol/constants.js';
import type { JoinResponse } from '../protocol/messages.js';
import type { ResponseOf } from '../protocol/methods.js';
import { resolveDriver, quietResolve } from './activation.js';
import { formatIp, parseIp, parseIpPrefix } from '../net/index.js';
import { invalidCidr } from './addr.js';
import { heapPush, heapRemove } from './heap.js';
import type { ContainerRec, EndpointRec, JoinRec, SandboxRec, StaticRouteRec } from './model.js';
import { SandboxFailure, addInterface, addStaticRoute, goErr, removeInterface, removeStaticRoute, updateGateway } from './sandbox.js';
import { logged, warn, type DaemonState, type Op } from './state.js';

/** The remote driver proxy's Join: the call, then the reply read into join info. */
async function driverJoin(op: Op, sb: SandboxRec, ep: EndpointRec): Promise<JoinRec> {
  const d = op.d;
  const n = ep.network;
  const r = await d.driver.tryCall('Join', { NetworkID: n.id, EndpointID: ep.id, SandboxKey: sb.key, Options: sb.labels });
  if (!r.ok) op.fail('Join', r.error.message, { callError: r.error });
  const res: JoinResponse = r.value;
  const bad = async (msg: string): Promise<never> => {
    if (d.profile === 'docker-20.10') op.fail('Join', msg);
    // moby 27+: a reply the proxy cannot apply is rolled back with Leave.
    const l = await d.driver.tryCall('Leave', { NetworkID: n.id, EndpointID: ep.id });
    op.fail('Join', l.ok ? `${msg}; rolled back` : `${msg}; failed to roll back: ${l.error.message}`);
  };
  const join: JoinRec = { srcName: '', dstPrefix: '', gw: null, gw6: null, staticRoutes: [], ifaceRoutes: [], disableGatewayService: false };
  if (res.InterfaceName !== undefined && res.InterfaceName !== null) {
    join.srcName = res.InterfaceName.SrcName ?? '';
    join.dstPrefix = res.InterfaceName.DstPrefix ?? '';
  }
  if (res.Gateway !== undefined && res.Gateway !== '') {
    const g = parseIp(res.Gateway);
    if (g === null) await bad(`unable to parse Gateway "${res.Gateway}"`);
    join.gw = formatIp(g!);
  }
  if (res.GatewayIPv6 !== undefined && res.GatewayIPv6 !== '') {
    const g = parseIp(res.GatewayIPv6);
    if (g === null) await bad(`unable to parse GatewayIPv6 "${res.GatewayIPv6}"`);
    join.gw6 = formatIp(g!);
  }
  const routes: StaticRouteRec[] = [];
  for (const sr of res.StaticRoutes ?? []) {
    let dest = '0.0.0.0/0';
    if (sr.Destination !== '') {
      const dn = parseIpPrefix(sr.Destination);
      if (dn === null) await bad(invalidCidr(sr.Destination));
      dest = dn!.text;
    }
    let nh: string | null = null;
    if (sr.NextHop !== undefined && sr.NextHop !== '') {
      const ip = parseIp(sr.NextHop);
      if (ip === null) await bad(`failed to parse nexthop IP ${sr.NextHop}`);
      nh = formatIp(ip!);
    }
    routes.push({ destination: dest, routeType: sr.RouteType, nextHop: nh });
  }
  for (const rt of routes) {
    if (rt.routeType === 0) join.staticRoutes.push(rt);
    else join.ifaceRoutes.push(rt.destination);
  }
  join.disableGatewayService = res.DisableGatewayService === true;
  return join;
}

/** Endpoints that provide external connectivity (get ProgramExternalConnectivity). */
function gatewaySet(d: DaemonState, sb: SandboxRec): EndpointRec[] {
  const v4 = sb.endpoints.find((e) => e.join !== null && e.join.gw !== null) ?? null;
  if (d.profile === 'docker-20.10') return v4 === null ? [] : [v4];
  // moby 29: the IPv4 and the IPv6 gateway endpoints are chosen separately.
  const v6 = sb.endpoints.find((e) => e.join !== null && e.join.gw6 !== null) ?? null;
  const out = v4 === null ? [] : [v4];
  if (v6 !== null && v6 !== v4) out.push(v6);
  return out;
}

/** The endpoint that provides the IPv4 default route, or null. */
export function gatewayEndpoint(sb: SandboxRec): EndpointRec | null {
  return sb.endpoints.find((e) => e.join !== null && e.join.gw !== null) ?? null;
}

function needDefaultGW(sb: SandboxRec): boolean {
  let need = false;
  for (const ep of sb.endpoints) {
    if (ep.network.internal) continue;
    if (ep.join !== null && ep.join.disableGatewayService) continue;
    if (ep.join !== null && ep.join.gw !== null) return false;
    if (ep.join !== null && ep.join.staticRoutes.some((r) => r.destination === '0.0.0.0/0')) return false;
    need = true;
  }
  return need;
}

/** libnetwork's epHeap Less (no gateway network, no priorities). */
function less(a: EndpointRec, b: EndpointRec): boolean {
  if (a.network.internal) return false;
  if (b.network.internal) return true;
  if (a.join !== null && b.join !== null) {
    const full = (e: EndpointRec) => e.join!.gw !== null && e.join!.gw6 !== null;
    if (full(a) && !full(b)) return true;
    if (full(b) && !full(a)) return false;
  }
  return a.network.name < b.network.name;
}

async function program(d: DaemonState, sb: SandboxRec, ep: EndpointRec): Promise<CallOutcome<ResponseOf<'ProgramExternalConnectivity'>>> {
  let options: Record<string, unknown> = sb.labels;
  if (d.profile === 'moby') {
    // moby 29: the IPv4 gateway endpoint is told not to proxy 6to4 when another endpoint is the IPv6 gateway.
    const v6 = sb.endpoints.find((e) => e.join !== null && e.join.gw6 !== null) ?? null;
    if (v6 !== null && v6 !== ep && gatewayEndpoint(sb) === ep) options = { ...sb.labels, [Options.NoProxy6to4]: true };
  }
  return d.driver.tryCall('ProgramExternalConnectivity', { NetworkID: ep.network.id, EndpointID: ep.id, Options: options });
}

/** sbJoin: Join, heap insert, populate if the netns exists, Revoke / Program when the gateway endpoint changes. */
export async function sbJoin(op: Op, sb: SandboxRec, ep: EndpointRec): Promise<void> {
  const d = op.d;
  await resolveDriver(op);
  ep.sandbox = sb;
  try {
    ep.join = await driverJoin(op, sb, ep);
  } catch (e) {
    ep.sandbox = null;
    throw e;
  }
  const before = gatewaySet(d, sb);
  heapPush(sb.endpoints, ep, less);
  const revoked: EndpointRec[] = [];
  try {
    if (sb.osCreated) await populate(op, sb, ep);
    if (needDefaultGW(sb)) {
      // docker_gwbridge would be attached here; Program is skipped (dockerd returns early).
      sb.gwBridge = true;
      return;
    }
    const after = gatewaySet(d, sb);
    for (const old of before) {
      if (after.includes(old)) continue;
      const r = await d.driver.tryCall('RevokeExternalConnectivity', { NetworkID: old.network.id, EndpointID: old.id });
      if (!r.ok && r.error.kind !== 'not-implemented') op.fail('RevokeExternalConnectivity', `driver failed revoking external connectivity on endpoint ${old.name} (${old.id}): ${r.error.message}`, { callError: r.error });
      revoked.push(old);
    }
    for (const nw of after) {
      if (before.includes(nw) || nw.network.internal) continue;
      const r = await program(d, sb, nw);
      if (!r.ok && r.error.kind !== 'not-implemented') op.fail('ProgramExternalConnectivity', `driver failed programming external connectivity on endpoint ${nw.name} (${nw.id}): ${r.error.message}`, { callError: r.error });
    }
    if (!needDefaultGW(sb)) sb.gwBridge = false;
  } catch (e) {
    for (const old of revoked.reverse()) {
      const r = await program(d, sb, old);
      if (!r.ok && r.error.kind !== 'not-implemented') warn(d, `Failed to roll-back external connectivity on endpoint ${old.name} (${old.id}): ${r.error.message}`);
    }
    const i = sb.endpoints.indexOf(ep);
    if (i >= 0) heapRemove(sb.endpoints, i, less);
    // dockerd does not move a populated interface back here, nor restore the default route.
    for (const f of sb.ifaces.filter((x) => x.ep === ep)) {
      sb.ifaces.splice(sb.ifaces.indexOf(f), 1);
      sb.stray.add(f.dstName);
      sb.gatewayStale = true;
    }
    sb.programmedRoutes.delete(ep.id);
    await logged(d, d.driver, 'Leave', { NetworkID: ep.network.id, EndpointID: ep.id }, 'driver leave failed while rolling back join');
    ep.sandbox = null;
    throw e;
  }
}

/** populateNetworkResources: interface, static routes, gateway (when this is the gateway endpoint). */
async function populate(op: Op, sb: SandboxRec, ep: EndpointRec): Promise<void> {
  const backend = op.d.backend;
  try {
    if (ep.join !== null && ep.join.srcName !== '') await addInterface(backend, sb, ep);
    const programmed: StaticRouteRec[] = [];
    sb.programmedRoutes.set(ep.id, programmed);
    for (const r of ep.join?.staticRoutes ?? []) {
      await addStaticRoute(backend, sb, r, ep);
      programmed.push(r);
    }
    if (ep === gatewayEndpoint(sb)) await updateGateway(backend, sb, ep);
  } catch (e) {
    if (e instanceof SandboxFailure) op.fail('sandbox', e.message, { status: 500 });
    throw e;
  }
}

/** The OCI prestart hook (libnetwork-setkey): the netns appears, every endpoint is populated. */
export async function ociHook(op: Op, c: ContainerRec): Promise<void> {
  const sb = c.sandbox;
  if (sb === null) return;
  try {
    await op.d.backend.createNamespace(sb.key);
  } catch (e) {
    op.fail('sandbox', `failed to create network namespace ${sb.key}: ${goErr(e)}`);
  }
  sb.osCreated = true;
  for (const ep of [...sb.endpoints]) await populate(op, sb, ep);
}

/** sbLeave: Revoke (gateway endpoint) and Leave, the netns cleared, the next gateway endpoint programmed. Errors only logged. */
export async function sbLeave(d: DaemonState, sb: SandboxRec, ep: EndpointRec): Promise<void> {
  const haveDriver = await quietResolve(d, 'driver');
  ep.sandbox = null;
  const before = gatewaySet(d, sb);
  if (haveDriver) {
    if (before.includes(ep)) await logged(d, d.driver, 'RevokeExternalConnectivity', { NetworkID: ep.network.id, EndpointID: ep.id }, `driver failed revoking external connectivity on endpoint ${ep.name} (${ep.id})`, true);
    await logged(d, d.driver, 'Leave', { NetworkID: ep.network.id, EndpointID: ep.id }, `driver error disconnecting container ${ep.name}`);
  }
  await clearNetworkResources(d, sb, ep);
  if (!sb.inDelete && needDefaultGW(sb)) {
    sb.gwBridge = true;
    return;
  }
  if (before.includes(ep)) {
    for (const nw of gatewaySet(d, sb)) {
      // 20.10's sbLeave programs the new gateway endpoint without looking at --internal.
      if (before.includes(nw) || (d.profile === 'moby' && nw.network.internal)) continue;
      const r = await program(d, sb, nw);
      if (!r.ok && r.error.kind !== 'not-implemented') warn(d, `driver failed programming external connectivity on endpoint ${nw.name}: (${nw.id}) ${r.error.message}`);
    }
  }
  if (!needDefaultGW(sb)) sb.gwBridge = false;
}

/** Move the endpoint's interface out, drop its routes, take it out of the heap, move the default route on. */
async function clearNetworkResources(d: DaemonState, sb: SandboxRec, ep: EndpointRec): Promise<void> {
  const backend = d.backend;
  let linkGone = true;
  if (sb.osCreated) {
    for (const f of sb.ifaces.filter((x) => x.ep === ep)) {
      try {
        await removeInterface(backend, sb, f);
      } catch (e) {
        linkGone = false;
        // osl keeps it; nothing will touch it again until the netns goes.
        sb.ifaces.splice(sb.ifaces.indexOf(f), 1);
        sb.stray.add(f.dstName).add(f.srcName);
        sb.gatewayStale = true;
        warn(d, `Remove interface ${f.srcName} failed: ${goErr(e)}`);
      }
    }
    for (const r of sb.programmedRoutes.get(ep.id) ?? []) {
      // Usually gone with the link already; dockerd ignores the error.
      await removeStaticRoute(backend, sb, r).catch(() => undefined);
    }
    sb.programmedRoutes.delete(ep.id);
  }
  const gwBefore = gatewayEndpoint(sb);
  const i = sb.endpoints.indexOf(ep);
  if (i < 0) return;
  heapRemove(sb.endpoints, i, less);
  const gwAfter = gatewayEndpoint(sb);
  if (sb.osCreated && gwAfter !== null && gwAfter !== gwBefore) {
    await updateGateway(backend, sb, gwAfter).catch((e: unknown) => warn(d, `updating gateway: ${goErr(e)}`));
  } else if (sb.osCreated && gwAfter === null && gwBefore === ep) {
    if (linkGone) {
      // The kernel dropped the default route with the link.
      sb.defaultRoute4 = null;
      sb.defaultRoute6 = null;
    } else await updateGateway(backend, sb, null);
  }
}
