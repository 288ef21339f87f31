/**
 * What the simulated daemon shows: `docker inspect`-like views of networks
 * and containers, and `verifySandboxes`, which compares every sandbox with
 * the backend (links, MACs, addresses, routes, stale namespaces).
 */
import { HOST_NAMESPACE } from '../backend/backend.js';
import { parseCidr } from '../net/index.js';
import { NETNS_DIR } from './endpoints.js';
import { gatewayEndpoint } from './join.js';
import type { ContainerRec, EndpointRec, NetworkRec, PoolRec } from './model.js';
import type { DaemonState } from './state.js';
import type { ContainerView, DaemonView, EndpointView, NetworkView, PoolView } from './types.js';

export function inspect(d: DaemonState): DaemonView {
  return {
    profile: d.profile,
    networks: [...d.networks.values()].map((n) => networkView(d, n)),
    containers: [...d.containers.values()].map((c) => containerView(d, c)),
  };
}

function poolView(p: PoolRec): PoolView {
  return { poolId: p.poolId, pool: p.pool.text, gateway: p.gateway?.text ?? null, auxAddresses: Object.fromEntries(p.aux.map(([k, v]) => [k, v.text])) };
}

function endpointView(ep: EndpointRec): EndpointView {
  return {
    id: ep.id,
    name: ep.name,
    network: ep.network.name,
    ipv4: ep.v4?.addr.text ?? null,
    ipv6: ep.v6?.addr.text ?? null,
    mac: ep.mac,
    join:
      ep.join === null
        ? null
        : { srcName: ep.join.srcName, dstPrefix: ep.join.dstPrefix, gateway: ep.join.gw, gatewayIPv6: ep.join.gw6, disableGatewayService: ep.join.disableGatewayService },
  };
}

export function networkView(d: DaemonState, n: NetworkRec): NetworkView {
  return {
    id: n.id,
    name: n.name,
    driver: d.driverName,
    ipamDriver: d.ipamName,
    internal: n.internal,
    enableIPv6: n.enableIPv6,
    ipv4: n.v4.map(poolView),
    ipv6: n.v6.map(poolView),
    endpoints: [...n.endpoints.values()].map(endpointView),
  };
}

export function containerView(d: DaemonState, c: ContainerRec): ContainerView {
  const sb = c.sandbox;
  return {
    id: c.id,
    name: c.name,
    running: c.running,
    networks: c.attachments.map((a) => d.networks.get(a.networkId)?.name ?? a.network),
    sandbox:
      sb === null
        ? null
        : {
            id: sb.id,
            key: sb.key,
            endpoints: sb.endpoints.map(endpointView),
            interfaces: sb.ifaces.map((f) => ({ endpoint: f.ep.id, network: f.ep.network.name, name: f.dstName, srcName: f.srcName })),
            gatewayEndpoint: gatewayEndpoint(sb)?.id ?? null,
            defaultGatewayBridge: sb.gwBridge,
          },
  };
}

/** Every sandbox against the backend: exactly lo plus the daemon's interfaces and the expected routes. */
export async function verifySandboxes(d: DaemonState): Promise<string[]> {
  const backend = d.backend;
  const problems: string[] = [];
  const namespaces = new Set(await backend.listNamespaces());
  const expectedNs = new Set<string>([HOST_NAMESPACE]);
  for (const c of d.containers.values()) {
    const sb = c.sandbox;
    if (sb === null || !sb.osCreated) continue;
    expectedNs.add(sb.key);
    const where = `container ${c.name} (${sb.key})`;
    if (!namespaces.has(sb.key)) {
      problems.push(`${where}: namespace missing`);
      continue;
    }
    const links = await backend.listLinks(sb.key);
    const want = new Map(sb.ifaces.map((f) => [f.dstName, f]));
    for (const l of links) {
      if (l.name === 'lo') continue;
      const f = want.get(l.name);
      if (f === undefined) {
        if (!sb.stray.has(l.name)) problems.push(`${where}: unexpected link ${l.name}`);
        continue;
      }
      want.delete(l.name);
      if (!l.up) problems.push(`${where}: ${l.name} is down`);
      if (f.ep.mac !== null && l.mac !== f.ep.mac) problems.push(`${where}: ${l.name} has MAC ${l.mac}, expected ${f.ep.mac}`);
      const addrs = (await backend.listAddresses(sb.key, l.name)).map((a) => a.cidr).sort();
      const expAddrs = [f.ep.v4?.addr.text, f.ep.v6?.addr.text].filter((x): x is string => x !== undefined).sort();
      if (JSON.stringify(addrs) !== JSON.stringify(expAddrs)) problems.push(`${where}: ${l.name} has addresses [${addrs.join(', ')}], expected [${expAddrs.join(', ')}]`);
    }
    for (const name of want.keys()) problems.push(`${where}: interface ${name} missing`);
    const routes = await backend.listRoutes(sb.key);
    for (const f of sb.ifaces) {
      for (const r of f.ep.join?.ifaceRoutes ?? []) {
        if (!routes.some((x) => x.destination === (parseCidr(r)?.text ?? r) && x.dev === f.dstName && x.gateway === null)) problems.push(`${where}: connected route ${r} dev ${f.dstName} missing`);
      }
    }
    for (const ep of sb.endpoints) {
      for (const r of sb.programmedRoutes.get(ep.id) ?? []) {
        if (!routes.some((x) => x.destination === (parseCidr(r.destination)?.text ?? r.destination) && x.gateway === r.nextHop)) problems.push(`${where}: route ${r.destination} via ${r.nextHop} missing`);
      }
    }
    // Every joined endpoint with a SrcName has its interface.
    for (const ep of sb.endpoints) {
      if (ep.join !== null && ep.join.srcName !== '' && !sb.ifaces.some((f) => f.ep === ep)) problems.push(`${where}: endpoint ${ep.id} has no interface`);
    }
    const gwEp = gatewayEndpoint(sb);
    const defaults4 = routes.filter((r) => r.family === 4 && r.destination === '0.0.0.0/0');
    const defaults6 = routes.filter((r) => r.family === 6 && r.destination === '::/0');
    const exp4 = gwEp?.join?.gw ?? null;
    const exp6 = gwEp?.join?.gw6 ?? null;
    const fromStatic4 = sb.endpoints.some((e) => e.join?.staticRoutes.some((r) => r.destination === '0.0.0.0/0'));
    if (sb.gatewayStale) continue;
    if (!fromStatic4) {
      if (exp4 === null && defaults4.length > 0) problems.push(`${where}: unexpected default route via ${defaults4[0]!.gateway ?? defaults4[0]!.dev}`);
      if (exp4 !== null && (defaults4.length !== 1 || defaults4[0]!.gateway !== exp4)) problems.push(`${where}: default route ${defaults4.map((r) => r.gateway).join(',') || 'none'}, expected via ${exp4}`);
    }
    if (exp6 !== null && (defaults6.length !== 1 || defaults6[0]!.gateway !== exp6)) problems.push(`${where}: IPv6 default route ${defaults6.map((r) => r.gateway).join(',') || 'none'}, expected via ${exp6}`);
    if (exp6 === null && defaults6.length > 0) problems.push(`${where}: unexpected IPv6 default route`);
  }
  for (const ns of namespaces) {
    if (!expectedNs.has(ns) && ns.startsWith(NETNS_DIR) && !d.leakedNamespaces.has(ns)) problems.push(`stale sandbox namespace ${ns}`);
  }
  return problems;
}
