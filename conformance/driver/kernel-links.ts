/**
 * The checker's own view of links on the real kernel, for driver.netns-linux.
 * It is NOT cnmkit's Linux backend: that backend's safety filter (only `cnm-*`
 * host links exist for it) protects the reference plugin's writes, and would
 * hide every link a third-party driver makes (cali…, dh-…, tap…, veth…). Here
 * looking is read-only and sees every link, any name; the only writes are the
 * daemon's sandbox work on a link the plugin handed over in Join (move it into
 * a `cnmt-<hex>` namespace the checker created, rename, MAC, address, up,
 * routes) and moving it back. Every command is `ip` with an argv array.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A namespace: an `ip netns` name, or null for this process's own namespace. */
export type Netns = string | null;

export interface KernelLink {
  readonly index: number;
  readonly name: string;
  /** `veth`, `bridge`, `dummy`, … (null for a plain device). */
  readonly kind: string | null;
  /** Bridge/bond the link is enslaved to, if any. */
  readonly master: string | null;
  /** The link it is tied to in the same namespace: a veth's peer, a macvlan/vlan's parent. */
  readonly parent: string | null;
  readonly mac: string | null;
}

export interface IpOutcome {
  readonly ok: boolean;
  readonly out: string;
  /** stderr text (or the exec error) when !ok. */
  readonly err: string;
}

const IP_TIMEOUT_MS = 10_000;

/** `ip [-n ns] args…` (no shell). */
export function ip(ns: Netns, args: readonly string[], timeoutMs = IP_TIMEOUT_MS): Promise<IpOutcome> {
  const argv = ns === null ? [...args] : ['-n', ns, ...args];
  return new Promise((resolve) => {
    execFile('ip', argv, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ ok: err === null, out: stdout, err: err === null ? '' : stderr.trim() || err.message });
    });
  });
}

export class KernelError extends Error {
  constructor(
    readonly what: string,
    readonly detail: string,
  ) {
    super(`${what}: ${detail}`);
  }
}

async function must(ns: Netns, args: readonly string[], what: string): Promise<string> {
  const r = await ip(ns, args);
  if (!r.ok) throw new KernelError(what, r.err);
  return r.out;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** Parse `ip -j -d link show` output. */
export function parseLinks(json: string): KernelLink[] {
  const text = json.trim();
  if (text === '') return [];
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) return [];
  const out: KernelLink[] = [];
  for (const item of parsed as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const o = item as Record<string, unknown>;
    const name = str(o['ifname']);
    if (name === null || typeof o['ifindex'] !== 'number') continue;
    const info = o['linkinfo'];
    const kind = typeof info === 'object' && info !== null ? str((info as Record<string, unknown>)['info_kind']) : null;
    out.push({ index: o['ifindex'], name, kind, master: str(o['master']), parent: str(o['link']), mac: str(o['address']) });
  }
  return out;
}

/** Every link in `ns`, any name. */
export async function listLinks(ns: Netns): Promise<KernelLink[]> {
  return parseLinks(await must(ns, ['-j', '-d', 'link', 'show'], `list links in ${nsLabel(ns)}`));
}

/** The link, or the kernel's reason it is not there ("Device \"x\" does not exist."). */
export async function findLink(ns: Netns, name: string): Promise<KernelLink | string> {
  const r = await ip(ns, ['-j', '-d', 'link', 'show', 'dev', name]);
  if (!r.ok) return r.err;
  return parseLinks(r.out)[0] ?? `no link ${name}`;
}

export function nsLabel(ns: Netns): string {
  return ns === null ? "this process's network namespace" : `network namespace ${ns}`;
}

/** A namespace the checker created (`cnmt-<hex>`, lo up); always `remove()` it. */
export interface Sandbox {
  readonly name: string;
  remove(): Promise<void>;
}

/** Every sandbox this process created (tests check that none of them is left, without racing other processes' namespaces). */
const made: string[] = [];
export function sandboxesMade(): readonly string[] {
  return made;
}

export async function createSandbox(prefix = 'cnmt-'): Promise<Sandbox> {
  const name = `${prefix}${randomBytes(4).toString('hex')}`;
  const add = await ip(null, ['netns', 'add', name]);
  if (!add.ok) throw new KernelError(`create network namespace ${name}`, add.err);
  made.push(name);
  const sandbox: Sandbox = {
    name,
    async remove() {
      await ip(null, ['netns', 'del', name]);
    },
  };
  const lo = await ip(name, ['link', 'set', 'dev', 'lo', 'up']);
  if (!lo.ok) {
    await sandbox.remove();
    throw new KernelError(`set lo up in ${name}`, lo.err);
  }
  return sandbox;
}

/** `ip link set … netns` target: a named netns, or this process's namespace by pid. */
function netnsTarget(ns: Netns): string {
  return ns === null ? String(process.pid) : ns;
}

/** The daemon's sandbox work on one link (all inside a checker-made namespace, except the moves). */
export const linkOps = {
  move: (from: Netns, name: string, to: Netns) => must(from, ['link', 'set', 'dev', name, 'netns', netnsTarget(to)], `move ${name} into ${nsLabel(to)}`),
  down: (ns: Netns, name: string) => must(ns, ['link', 'set', 'dev', name, 'down'], `set ${name} down`),
  up: (ns: Netns, name: string) => must(ns, ['link', 'set', 'dev', name, 'up'], `set ${name} up`),
  rename: (ns: Netns, name: string, to: string) => must(ns, ['link', 'set', 'dev', name, 'name', to], `rename ${name} to ${to}`),
  mac: (ns: Netns, name: string, mac: string) => must(ns, ['link', 'set', 'dev', name, 'address', mac], `set MAC ${mac} on ${name}`),
  address: (ns: Netns, name: string, cidr: string) => must(ns, ['addr', 'add', cidr, 'dev', name], `add address ${cidr} to ${name}`),
  /** A connected route (`dev`, scope link), e.g. Calico's 169.254.1.1/32. */
  connectedRoute: (ns: Netns, dest: string, dev: string) => must(ns, [family(dest), 'route', 'add', dest, 'dev', dev, 'scope', 'link'], `add connected route ${dest} dev ${dev}`),
  /** A route via a next hop; `dev` pins the device (needed for link-local gateways such as fe80::1). */
  viaRoute: (ns: Netns, dest: string, via: string, dev?: string) =>
    must(ns, [family(via), 'route', 'add', dest, 'via', via, ...(dev !== undefined ? ['dev', dev] : [])], `add route ${dest} via ${via}${dev !== undefined ? ` dev ${dev}` : ''}`),
};

function family(addr: string): '-4' | '-6' {
  return addr.includes(':') ? '-6' : '-4';
}

/**
 * What the daemon does for Join's Gateway (libnetwork programGateway): look
 * the gateway up in the sandbox's routes; it must be reachable directly (a
 * route without a next hop: the subnet's, or a connected route such as
 * 169.254.1.1/32); the default route then goes via it on that device.
 * Returns the device, or the daemon's error text.
 */
export async function directRouteDev(ns: Netns, gateway: string): Promise<string | KernelError> {
  const r = await ip(ns, [family(gateway), '-j', 'route', 'get', gateway]);
  if (!r.ok) return new KernelError(`route for the gateway ${gateway} could not be found`, r.err);
  let routes: unknown;
  try {
    routes = JSON.parse(r.out);
  } catch {
    return new KernelError(`route for the gateway ${gateway} could not be found`, `unreadable answer ${JSON.stringify(r.out.slice(0, 200))}`);
  }
  for (const route of Array.isArray(routes) ? (routes as unknown[]) : []) {
    if (typeof route !== 'object' || route === null) continue;
    const o = route as Record<string, unknown>;
    const dev = str(o['dev']);
    if (dev !== null && str(o['gateway']) === null) return dev;
  }
  return new KernelError(`Direct route for the gateway ${gateway} could not be found`, r.out.trim());
}
