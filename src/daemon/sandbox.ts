/**
 * The daemon's own work on a container's network namespace, as libnetwork's
 * `osl` package does it, on the Backend: move the plugin's interface in under
 * DstPrefix+index, configure it, add routes and the default gateway; move it
 * back on leave. Error texts are libnetwork's.
 */
import { HOST_NAMESPACE, isBackendError, ERRNO_TEXT, type Backend } from '../backend/backend.js';
import { netContains, parseCidr, parseIp } from '../net/index.js';
import type { IfaceRec, EndpointRec, SandboxRec, StaticRouteRec } from './model.js';

/** Go's text of a netlink errno (`syscall.Errno.Error()`): strerror in lower case. */
export function goErr(e: unknown): string {
  if (isBackendError(e)) {
    const t = ERRNO_TEXT[e.errno];
    return t.charAt(0).toLowerCase() + t.slice(1);
  }
  return e instanceof Error ? e.message : String(e);
}

/** A failure of the daemon's sandbox work; `message` is libnetwork's text. */
export class SandboxFailure extends Error {}

/**
 * osl AddInterface: the link SrcName (host namespace) becomes DstPrefix+N in
 * the sandbox, down, renamed, MAC, addresses, up, connected routes.
 * Throws SandboxFailure with `failed to add interface ...` texts.
 */
export async function addInterface(backend: Backend, sb: SandboxRec, ep: EndpointRec): Promise<void> {
  const join = ep.join!;
  const src = join.srcName;
  const prefix = join.dstPrefix;
  // The index is taken before anything can fail, as osl does: a failed add still uses it up.
  const idx = sb.nextIfIndex.get(prefix) ?? 0;
  sb.nextIfIndex.set(prefix, idx + 1);
  const dst = `${prefix}${idx}`;
  const fail = (msg: string): never => {
    throw new SandboxFailure(`failed to add interface ${src} to sandbox: ${msg}`);
  };
  try {
    await backend.getLink(HOST_NAMESPACE, src);
  } catch (e) {
    fail(`failed to get link by name "${src}": ${isBackendError(e, 'ENODEV') ? 'Link not found' : goErr(e)}`);
  }
  try {
    await backend.moveLink(HOST_NAMESPACE, src, sb.key);
  } catch (e) {
    fail(`failed to set namespace on link "${src}": ${goErr(e)}`);
  }
  try {
    await backend.setLinkDown(sb.key, src);
  } catch (e) {
    fail(`failed to set link down: ${goErr(e)}`);
  }
  // configureInterface: on failure the link goes back to the host under its source name.
  let current = src;
  const configure = async (): Promise<void> => {
    try {
      await backend.renameLink(sb.key, src, dst);
      current = dst;
    } catch (e) {
      throw new SandboxFailure(`error renaming interface "${src}" to "${dst}": ${goErr(e)}`);
    }
    if (ep.mac !== null) {
      try {
        await backend.setMac(sb.key, dst, ep.mac);
      } catch (e) {
        throw new SandboxFailure(`error setting interface "${src}" MAC to "${ep.mac}": ${goErr(e)}`);
      }
    }
    if (ep.v4 !== null) {
      try {
        await backend.addAddress(sb.key, dst, ep.v4.addr.text);
      } catch (e) {
        throw new SandboxFailure(`error setting interface "${src}" IP to ${ep.v4.addr.text}: ${goErr(e)}`);
      }
    }
    if (ep.v6 !== null) {
      try {
        await backend.addAddress(sb.key, dst, ep.v6.addr.text);
      } catch (e) {
        throw new SandboxFailure(`error setting interface "${src}" IPv6 to ${ep.v6.addr.text}: ${goErr(e)}`);
      }
    }
  };
  try {
    await configure();
  } catch (e) {
    // osl moves it back to the host under its source name (best effort; what stays is the kernel's).
    let back = current === src;
    if (!back) back = await backend.renameLink(sb.key, current, src).then(() => true, () => false);
    const out = back && (await backend.moveLink(sb.key, src, HOST_NAMESPACE).then(() => true, () => false));
    if (!out) sb.stray.add(back ? src : current);
    fail((e as Error).message);
  }
  try {
    await backend.setLinkUp(sb.key, dst);
  } catch (e) {
    // Moved in but never recorded: dockerd forgets it in the netns.
    sb.stray.add(dst);
    fail(`failed to set link up: ${goErr(e)}`);
  }
  for (const r of join.ifaceRoutes) {
    try {
      await backend.addRoute(sb.key, { destination: r, dev: dst });
    } catch (e) {
      sb.stray.add(dst);
      fail(`error setting interface "${dst}" routes to [${join.ifaceRoutes.map((x) => JSON.stringify(x)).join(' ')}]: ${goErr(e)}`);
    }
  }
  sb.ifaces.push({ ep, srcName: src, dstName: dst });
}

/** osl nwIface.Remove: down, renamed back to SrcName, moved to the host. Throws on the first failure (callers log it). */
export async function removeInterface(backend: Backend, sb: SandboxRec, iface: IfaceRec): Promise<void> {
  await backend.setLinkDown(sb.key, iface.dstName);
  await backend.renameLink(sb.key, iface.dstName, iface.srcName);
  await backend.moveLink(sb.key, iface.srcName, HOST_NAMESPACE);
  const i = sb.ifaces.indexOf(iface);
  if (i >= 0) sb.ifaces.splice(i, 1);
}

/** A failed netlink RouteGet: the kernel has no route to the address. */
class NoRoute extends Error {}

/**
 * netlink RouteGet(ip) as osl calls it before programming a gateway or a next
 * hop: the kernel's best route to `ip` (longest prefix, then lowest metric).
 * Returns its device and whether it is direct (no gateway). A link-local IPv6
 * address no route covers is on `linkLocalDev`: the kernel has fe80::/64 on
 * every IPv6 link, which the virtual backend does not model (no autoconf).
 */
async function routeGet(backend: Backend, sb: SandboxRec, ipText: string, linkLocalDev: string | null): Promise<{ dev: string; direct: boolean }> {
  const ip = parseIp(ipText);
  if (ip === null) throw new NoRoute('invalid argument');
  const routes = await backend.listRoutes(sb.key, ip.family);
  let best: { prefix: number; metric: number; dev: string; direct: boolean } | null = null;
  for (const r of routes) {
    const net = parseCidr(r.destination);
    if (net === null || !netContains(net, ip)) continue;
    if (best === null || net.prefix > best.prefix || (net.prefix === best.prefix && r.metric < best.metric)) best = { prefix: net.prefix, metric: r.metric, dev: r.dev, direct: r.gateway === null };
  }
  const linkLocal = ip.family === 6 && (ip.value as bigint) >> 118n === 0x3fan;
  // fe80::/64 (metric 256) loses to any longer on-link route but wins over a default route.
  if (linkLocal && linkLocalDev !== null && (best === null || best.prefix < 64)) return { dev: linkLocalDev, direct: true };
  if (best === null) throw new NoRoute(ip.family === 4 ? 'network is unreachable' : 'no route to host');
  return best;
}

/** The device of the interface `ep` has in the sandbox (the kernel's fe80::/64 is there). */
function ifaceOf(sb: SandboxRec, ep: EndpointRec | null): string | null {
  return sb.ifaces.find((f) => f.ep === ep)?.dstName ?? null;
}

/** osl AddStaticRoute (RouteType 0): RouteGet(next hop), then the route through that route's device. Throws SandboxFailure. */
export async function addStaticRoute(backend: Backend, sb: SandboxRec, r: StaticRouteRec, ep: EndpointRec | null = null): Promise<void> {
  let dev: string | undefined;
  if (r.nextHop !== null) {
    try {
      dev = (await routeGet(backend, sb, r.nextHop, ifaceOf(sb, ep))).dev;
    } catch (e) {
      if (!(e instanceof NoRoute)) throw e;
      throw new SandboxFailure(`failed to add static route ${r.destination}: route for the next hop ${r.nextHop} could not be found: ${e.message}`);
    }
  }
  try {
    await backend.addRoute(sb.key, { destination: r.destination, ...(r.nextHop !== null ? { gateway: r.nextHop } : {}), ...(dev !== undefined ? { dev } : {}) });
  } catch (e) {
    const why = isBackendError(e, 'ENETUNREACH') ? `route for the next hop ${r.nextHop ?? '<nil>'} could not be found: ${goErr(e)}` : goErr(e);
    throw new SandboxFailure(`failed to add static route ${r.destination}: ${why}`);
  }
}

export async function removeStaticRoute(backend: Backend, sb: SandboxRec, r: StaticRouteRec): Promise<void> {
  await backend.deleteRoute(sb.key, { destination: r.destination, ...(r.nextHop !== null ? { gateway: r.nextHop } : {}) });
}

/**
 * sandbox.updateGateway: drop the default routes the daemon set, then set
 * the ones of `ep` (null: just drop). Throws SandboxFailure.
 */
export async function updateGateway(backend: Backend, sb: SandboxRec, ep: EndpointRec | null): Promise<void> {
  if (sb.defaultRoute4 !== null) {
    await backend.deleteRoute(sb.key, { destination: '0.0.0.0/0', gateway: sb.defaultRoute4 }).catch(() => undefined);
    sb.defaultRoute4 = null;
  }
  if (sb.defaultRoute6 !== null) {
    await backend.deleteRoute(sb.key, { destination: '::/0', gateway: sb.defaultRoute6 }).catch(() => undefined);
    sb.defaultRoute6 = null;
  }
  if (ep === null || ep.join === null) return;
  // osl programGateway: RouteGet(gw) must find a direct route; the default route goes through its device
  // (which is what lets a link-local IPv6 gateway or Calico's 169.254.1.1 behind a /32 connected route work).
  const set = async (gw: string, dest: string, what: string): Promise<void> => {
    let dev: string;
    try {
      const got = await routeGet(backend, sb, gw, ifaceOf(sb, ep));
      if (!got.direct) throw new SandboxFailure(`failed to set ${what} while updating gateway: Direct route for the gateway ${gw} could not be found`);
      dev = got.dev;
    } catch (e) {
      if (!(e instanceof NoRoute)) throw e;
      throw new SandboxFailure(`failed to set ${what} while updating gateway: route for the gateway ${gw} could not be found: ${e.message}`);
    }
    try {
      await backend.addRoute(sb.key, { destination: dest, gateway: gw, dev });
    } catch (e) {
      const why = isBackendError(e, 'ENETUNREACH') ? `route for the gateway ${gw} could not be found: ${goErr(e)}` : goErr(e);
      throw new SandboxFailure(`failed to set ${what} while updating gateway: ${why}`);
    }
  };
  try {
    if (ep.join.gw !== null) {
      await set(ep.join.gw, '0.0.0.0/0', 'gateway');
      sb.defaultRoute4 = ep.join.gw;
    }
    if (ep.join.gw6 !== null) {
      await set(ep.join.gw6, '::/0', 'IPv6 gateway');
      sb.defaultRoute6 = ep.join.gw6;
    }
    sb.gatewayStale = false;
  } catch (e) {
    sb.gatewayStale = true;
    throw e;
  }
}
