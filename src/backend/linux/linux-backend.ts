/**
 * The `Backend` contract on the real kernel, through iproute2 (`IpSession`:
 * one long-lived `ip -batch` child per namespace).
 *
 * Safety rules on top of the kernel's:
 * - In the host namespace only links named with the ownership prefix (`cnm-`)
 *   are visible, created, changed or deleted (EPERM otherwise; foreign links
 *   read as ENODEV), and routes there need an owned `dev`.
 * - Other namespaces must have been created by this backend instance; any
 *   other key reads as ENOENT. Keys are validated (`netnsKeyProblem`).
 * - Every name, address and number is validated before it reaches ip.
 *
 * The kernel generates IPv6 link-local addresses (fe80::/64) on its own when a
 * link comes up; they and their fe80::/64 routes are not reported, so results
 * only show what callers did (the virtual model has no link-local addresses).
 */
import {
  BackendError,
  HOST_NAMESPACE,
  MAX_MTU,
  MIN_MTU,
  OWNED_LINK_PREFIX,
  isNameTemplate,
  linkNameProblem,
  type AddressInfo,
  type Backend,
  type Errno,
  type Family,
  type LinkInfo,
  type LinkKind,
  type LinkOptions,
  type NamespaceKey,
  type RouteInfo,
  type RouteSpec,
  type VethOptions,
} from '../backend.js';
import { formatIp, isValidLinkMac, parseCidr, parseIp, parseIpPrefix, parseMac } from '../../net/index.js';
import { errnoFromIpText } from './errno.js';
import { IpSession, runIpOnce, type IpResult } from './ip-session.js';
import { DEFAULT_SANDBOX_ROOTS, createNetnsFile, deleteNetnsFile, netnsKeyProblem, netnsRef, type NetnsRef } from './netns.js';

export interface LinuxBackendOptions {
  /**
   * Namespace playing `HOST_NAMESPACE`: an `ip netns` name or netns file path.
   * Default: the namespace this process runs in (the real host).
   */
  readonly hostNetns?: string;
  /** Directories whose files may serve as namespace keys; default `DEFAULT_SANDBOX_ROOTS`. */
  readonly sandboxRoots?: readonly string[];
  /** Ownership prefix of host links; default `OWNED_LINK_PREFIX` (`cnm-`). */
  readonly ownedPrefix?: string;
}

interface NsState {
  readonly key: NamespaceKey;
  readonly ref: NetnsRef | null;
  /** File to give `ip link set ... netns`. */
  readonly file: string;
  readonly session: IpSession;
  readonly session6: IpSession;
}

interface RawLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu: number;
  address?: string;
  link_type?: string;
  master?: string;
  link?: string | null;
  link_index?: number;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
  addr_info?: RawAddr[];
}

interface RawAddr {
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
}

interface RawRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  prefsrc?: string;
  flags?: string[];
  type?: string;
}

const KINDS: Readonly<Record<string, LinkKind>> = { veth: 'veth', bridge: 'bridge', dummy: 'dummy' };

function fail(errno: Errno, op: string, target: string, detail?: string): never {
  throw new BackendError(errno, op, target, detail);
}

function isLinkLocal6(ip: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(ip);
}

function canonicalIp(text: string): string {
  const ip = parseIp(text);
  return ip === null ? text : formatIp(ip);
}

export class LinuxBackend implements Backend {
  readonly kind = 'linux';
  private readonly prefix: string;
  private readonly roots: readonly string[];
  private readonly host: NsState;
  private readonly namespaces = new Map<NamespaceKey, NsState>();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(opts: LinuxBackendOptions = {}) {
    this.prefix = opts.ownedPrefix ?? OWNED_LINK_PREFIX;
    this.roots = opts.sandboxRoots ?? DEFAULT_SANDBOX_ROOTS;
    if (opts.hostNetns === undefined) {
      this.host = this.state(HOST_NAMESPACE, null, `/proc/${process.pid}/ns/net`, null);
    } else {
      const problem = netnsKeyProblem(opts.hostNetns, this.roots);
      if (problem !== null) fail('EINVAL', 'backend', opts.hostNetns, problem);
      const ref = netnsRef(opts.hostNetns);
      this.host = this.state(HOST_NAMESPACE, ref, ref.file, ref.file);
    }
  }

  private state(key: NamespaceKey, ref: NetnsRef | null, file: string, target: string | null): NsState {
    return { key, ref, file, session: new IpSession(target), session6: new IpSession(target, ['-6']) };
  }

  /** Operations run one at a time: several ip commands make one atomic-looking step. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(() => {
      if (this.closed) fail('EIO', 'backend', 'closed', 'backend is closed');
      return fn();
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private ns(op: string, key: NamespaceKey): NsState {
    if (key === HOST_NAMESPACE) return this.host;
    const s = this.namespaces.get(key);
    if (s === undefined) fail('ENOENT', op, key, 'unknown namespace');
    return s;
  }

  private owned(s: NsState, name: string): boolean {
    return s.key !== HOST_NAMESPACE || name.startsWith(this.prefix) || name === 'lo';
  }

  private requireOwned(op: string, s: NsState, name: string): void {
    if (s.key === HOST_NAMESPACE && !name.startsWith(this.prefix))
      fail('EPERM', op, `${s.key}/${name}`, `host-namespace links must be named ${this.prefix}*`);
  }

  private checkName(op: string, s: NsState, name: string): void {
    const problem = linkNameProblem(name);
    if (problem !== null) fail('EINVAL', op, `${s.key}/${name}`, problem);
  }

  private checkExistingName(op: string, s: NsState, name: string): void {
    const problem = linkNameProblem(name);
    if (problem !== null || isNameTemplate(name)) fail('ENODEV', op, `${s.key}/${name}`);
    if (!this.owned(s, name)) fail('ENODEV', op, `${s.key}/${name}`);
  }

  private async ip(op: string, target: string, s: NsState, args: readonly string[], v6 = false): Promise<IpResult> {
    const r = await (v6 ? s.session6 : s.session).run(args);
    if (!r.ok) {
      const { errno, detail } = errnoFromIpText(r.stderr);
      throw new BackendError(errno, op, target, detail);
    }
    return r;
  }

  private checkLinkOptions(op: string, target: string, o: { mtu?: number; mac?: string }): void {
    if (o.mtu !== undefined && !(Number.isInteger(o.mtu) && o.mtu >= MIN_MTU && o.mtu <= MAX_MTU)) fail('EINVAL', op, target, `mtu ${o.mtu} outside ${MIN_MTU}..${MAX_MTU}`);
    if (o.mac !== undefined) {
      const b = parseMac(o.mac);
      if (b === null) fail('EINVAL', op, target, `"${o.mac}" is not a MAC address`);
      if (!isValidLinkMac(b)) fail('EADDRNOTAVAIL', op, target, `"${o.mac}" is multicast or zero`);
    }
  }

  private linkArgs(o: { mtu?: number; mac?: string }): string[] {
    const a: string[] = [];
    if (o.mtu !== undefined) a.push('mtu', String(o.mtu));
    if (o.mac !== undefined) a.push('address', o.mac.toLowerCase());
    return a;
  }

  // ---- namespaces ----

  createNamespace(key: NamespaceKey): Promise<void> {
    return this.serial(async () => {
      if (key === HOST_NAMESPACE || this.namespaces.has(key)) fail('EEXIST', 'createNamespace', key);
      const problem = netnsKeyProblem(key, this.roots);
      if (problem !== null) fail('EINVAL', 'createNamespace', key, problem);
      const ref = netnsRef(key);
      const err = await createNetnsFile(ref);
      if (err !== null) {
        const errno: Errno = /exist/i.test(err) ? 'EEXIST' : /permission|not permitted/i.test(err) ? 'EPERM' : 'EIO';
        fail(errno, 'createNamespace', key, err);
      }
      this.namespaces.set(key, this.state(key, ref, ref.file, ref.file));
    });
  }

  deleteNamespace(key: NamespaceKey): Promise<void> {
    return this.serial(async () => {
      if (key === HOST_NAMESPACE) fail('EPERM', 'deleteNamespace', key);
      const s = this.ns('deleteNamespace', key);
      // The kernel tears a namespace down asynchronously; deleting its veths first
      // makes their peers (maybe in other namespaces) vanish before we return.
      const links = await this.rawLinks('deleteNamespace', s);
      for (const l of links) if (l.linkinfo?.info_kind === 'veth') await s.session.run(['link', 'del', 'dev', l.ifname]);
      await s.session.close();
      await s.session6.close();
      this.namespaces.delete(key);
      if (s.ref !== null) {
        const err = await deleteNetnsFile(s.ref);
        if (err !== null) fail('EIO', 'deleteNamespace', key, err);
      }
    });
  }

  listNamespaces(): Promise<NamespaceKey[]> {
    return Promise.resolve([HOST_NAMESPACE, ...this.namespaces.keys()]);
  }

  // ---- links ----

  private async createLink(op: string, nsKey: NamespaceKey, names: readonly string[], options: LinkOptions, tail: (name: string) => string[]): Promise<LinkInfo[]> {
    const s = this.ns(op, nsKey);
    for (const n of names) {
      this.checkName(op, s, n);
      this.requireOwned(op, s, n);
    }
    this.checkLinkOptions(op, `${s.key}/${names[0]}`, options);
    const before = names.some(isNameTemplate) ? new Set((await this.rawLinks(op, s)).map((l) => l.ifname)) : null;
    await this.ip(op, `${s.key}/${names[0]}`, s, ['link', 'add', 'name', names[0], ...this.linkArgs(options), ...tail(names[0])]);
    if (before === null) return Promise.all(names.map((n) => this.readLink(op, s, n)));
    // Templates: the kernel picked the numbers; find the new links.
    const fresh = (await this.rawLinks(op, s)).filter((l) => !before.has(l.ifname));
    const byTemplate = names.map((n) => {
      if (!isNameTemplate(n)) return n;
      const re = new RegExp(`^${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('%d', '[0-9]+')}$`);
      return fresh.find((l) => re.test(l.ifname))?.ifname ?? n;
    });
    return Promise.all(byTemplate.map((n) => this.readLink(op, s, n)));
  }

  createBridge(ns: NamespaceKey, name: string, options: LinkOptions = {}): Promise<LinkInfo> {
    return this.serial(async () => (await this.createLink('createBridge', ns, [name], options, () => ['type', 'bridge']))[0]);
  }

  createVethPair(ns: NamespaceKey, name: string, peerName: string, options: VethOptions = {}): Promise<[LinkInfo, LinkInfo]> {
    return this.serial(async () => {
      const peerOpts = { mtu: options.peerMtu ?? options.mtu, mac: options.peerMac };
      this.checkLinkOptions('createVethPair', `${ns}/${peerName}`, peerOpts);
      this.checkName('createVethPair', this.ns('createVethPair', ns), peerName);
      const [a, b] = await this.createLink('createVethPair', ns, [name, peerName], options, () => ['type', 'veth', 'peer', 'name', peerName, ...this.linkArgs(peerOpts)]);
      return [a, b];
    });
  }

  createDummy(ns: NamespaceKey, name: string, options: LinkOptions = {}): Promise<LinkInfo> {
    return this.serial(async () => (await this.createLink('createDummy', ns, [name], options, () => ['type', 'dummy']))[0]);
  }

  deleteLink(ns: NamespaceKey, name: string): Promise<void> {
    return this.serial(async () => {
      const s = this.ns('deleteLink', ns);
      this.checkExistingName('deleteLink', s, name);
      if (name !== 'lo') this.requireOwned('deleteLink', s, name);
      await this.ip('deleteLink', `${s.key}/${name}`, s, ['link', 'del', 'dev', name]);
    });
  }

  private setLink(op: string, nsKey: NamespaceKey, name: string, args: readonly string[]): Promise<void> {
    return this.serial(async () => {
      const s = this.ns(op, nsKey);
      this.checkExistingName(op, s, name);
      if (name !== 'lo') this.requireOwned(op, s, name);
      await this.ip(op, `${s.key}/${name}`, s, ['link', 'set', 'dev', name, ...args]);
    });
  }

  setLinkUp(ns: NamespaceKey, name: string): Promise<void> {
    return this.setLink('setLinkUp', ns, name, ['up']);
  }

  setLinkDown(ns: NamespaceKey, name: string): Promise<void> {
    return this.setLink('setLinkDown', ns, name, ['down']);
  }

  setMtu(ns: NamespaceKey, name: string, mtu: number): Promise<void> {
    if (!Number.isInteger(mtu) || mtu < 0 || mtu > 0xffffffff) return Promise.reject(new BackendError('EINVAL', 'setMtu', `${ns}/${name}`, `mtu ${mtu}`));
    return this.setLink('setMtu', ns, name, ['mtu', String(mtu)]);
  }

  setMac(ns: NamespaceKey, name: string, mac: string): Promise<void> {
    const b = parseMac(mac);
    if (b === null) return Promise.reject(new BackendError('EINVAL', 'setMac', `${ns}/${name}`, `"${mac}" is not a MAC address`));
    return this.setLink('setMac', ns, name, ['address', mac.toLowerCase()]);
  }

  setMaster(ns: NamespaceKey, name: string, master: string | null): Promise<void> {
    return this.serial(async () => {
      const s = this.ns('setMaster', ns);
      this.checkExistingName('setMaster', s, name);
      if (name !== 'lo') this.requireOwned('setMaster', s, name);
      if (master !== null) {
        this.checkExistingName('setMaster', s, master);
        if (master !== 'lo') this.requireOwned('setMaster', s, master);
      }
      await this.ip('setMaster', `${s.key}/${name}`, s, ['link', 'set', 'dev', name, ...(master === null ? ['nomaster'] : ['master', master])]);
    });
  }

  moveLink(ns: NamespaceKey, name: string, targetNs: NamespaceKey, newName?: string): Promise<void> {
    return this.serial(async () => {
      const s = this.ns('moveLink', ns);
      const t = this.ns('moveLink', targetNs);
      this.checkExistingName('moveLink', s, name);
      if (name === 'lo' && s !== t) fail('EINVAL', 'moveLink', `${s.key}/${name}`, 'The device is netns local');
      this.requireOwned('moveLink', s, name);
      if (newName !== undefined) this.checkName('moveLink', t, newName);
      if (t.key === HOST_NAMESPACE) this.requireOwned('moveLink', t, newName ?? name);
      const rename = newName === undefined ? [] : ['name', newName];
      if (s === t) {
        if (rename.length > 0) await this.ip('moveLink', `${s.key}/${name}`, s, ['link', 'set', 'dev', name, ...rename]);
        return;
      }
      // The kernel moves first and renames after, so a taken new name would leave
      // the link moved under its old name: refuse up front instead.
      if (newName !== undefined && (await this.rawLinks('moveLink', t, newName)).length > 0) fail('EEXIST', 'moveLink', `${t.key}/${newName}`);
      // A one-shot ip: `ip link set netns FILE` never closes the netns fd, which in a
      // long-lived session would pin the target namespace (and its file mount).
      const r = await runIpOnce(s.ref === null ? null : s.file, ['link', 'set', 'dev', name, 'netns', t.file, ...rename]);
      if (!r.ok) {
        const { errno, detail } = errnoFromIpText(r.stderr);
        fail(errno, 'moveLink', `${s.key}/${name}`, detail);
      }
    });
  }

  renameLink(ns: NamespaceKey, name: string, newName: string): Promise<void> {
    return this.serial(async () => {
      const s = this.ns('renameLink', ns);
      this.checkExistingName('renameLink', s, name);
      this.checkName('renameLink', s, newName);
      this.requireOwned('renameLink', s, name);
      this.requireOwned('renameLink', s, newName);
      await this.ip('renameLink', `${s.key}/${name}`, s, ['link', 'set', 'dev', name, 'name', newName]);
    });
  }

  // ---- addresses and routes ----

  private address(op: string, nsKey: NamespaceKey, link: string, cidr: string, verb: 'add' | 'del'): Promise<void> {
    return this.serial(async () => {
      const s = this.ns(op, nsKey);
      this.checkExistingName(op, s, link);
      this.requireOwned(op, s, link);
      // A bare IP is a host address, as iproute2 reads it.
      const a = parseIpPrefix(cidr, { allowBare: true });
      if (a === null) fail('EINVAL', op, `${s.key}/${link}`, `"${cidr}" is not an address`);
      const extra = verb === 'add' && a.ip.family === 6 ? ['nodad'] : [];
      await this.ip(op, `${s.key}/${link} ${cidr}`, s, ['addr', verb, a.text, 'dev', link, ...extra]);
    });
  }

  addAddress(ns: NamespaceKey, link: string, cidr: string): Promise<void> {
    return this.address('addAddress', ns, link, cidr, 'add');
  }

  deleteAddress(ns: NamespaceKey, link: string, cidr: string): Promise<void> {
    return this.address('deleteAddress', ns, link, cidr, 'del');
  }

  private routeArgs(op: string, s: NsState, route: RouteSpec): { args: string[]; family: Family } {
    const target = `${s.key} ${route.destination}`;
    const dst = parseCidr(route.destination);
    if (dst === null) fail('EINVAL', op, target, `"${route.destination}" is not a CIDR`);
    // Host bits set: the kernel's "Invalid prefix for given prefix length".
    if (parseIpPrefix(route.destination, { requireNetwork: true }) === null) fail('EINVAL', op, target, 'Invalid prefix for given prefix length');
    const args = [dst.text];
    if (route.gateway !== undefined) {
      const gw = parseIp(route.gateway);
      if (gw === null || gw.family !== dst.family) fail('EINVAL', op, target, `"${route.gateway}" is not an IPv${dst.family} gateway`);
      args.push('via', formatIp(gw));
    }
    if (route.dev !== undefined) {
      this.checkExistingName(op, s, route.dev);
      this.requireOwned(op, s, route.dev);
      args.push('dev', route.dev);
    } else if (s.key === HOST_NAMESPACE) {
      fail('EPERM', op, target, 'routes in the host namespace need an owned dev');
    }
    if (route.metric !== undefined) {
      if (!Number.isInteger(route.metric) || route.metric < 0 || route.metric > 0xffffffff) fail('EINVAL', op, target, `metric ${route.metric}`);
      args.push('metric', String(route.metric));
    }
    if (route.onlink === true) args.push('onlink');
    return { args, family: dst.family };
  }

  addRoute(ns: NamespaceKey, route: RouteSpec): Promise<void> {
    return this.serial(async () => {
      const s = this.ns('addRoute', ns);
      const { args, family } = this.routeArgs('addRoute', s, route);
      try {
        await this.ip('addRoute', `${s.key} ${route.destination}`, s, ['route', 'add', ...args], family === 6);
      } catch (e) {
        // Same extack text for both families; IPv6 answers EHOSTUNREACH.
        if (e instanceof BackendError && e.errno === 'ENETUNREACH' && family === 6 && e.detail !== undefined)
          throw new BackendError('EHOSTUNREACH', e.op, e.target, e.detail);
        throw e;
      }
    });
  }

  deleteRoute(ns: NamespaceKey, route: RouteSpec): Promise<void> {
    return this.serial(async () => {
      const s = this.ns('deleteRoute', ns);
      const { args, family } = this.routeArgs('deleteRoute', s, route);
      await this.ip('deleteRoute', `${s.key} ${route.destination}`, s, ['route', 'del', ...args], family === 6);
    });
  }

  // ---- reads ----

  /** Whole lists only: ip's `dev` filters leak from one batch line into the next. */
  private async rawLinks(op: string, s: NsState, name?: string): Promise<RawLink[]> {
    const r = await this.ip(op, `${s.key}${name === undefined ? '' : `/${name}`}`, s, ['link', 'show']);
    const all = r.stdout.trim() === '' ? [] : (JSON.parse(r.stdout) as RawLink[]);
    return name === undefined ? all : all.filter((l) => l.ifname === name);
  }

  private visible(s: NsState, l: RawLink): boolean {
    return this.toKind(l) !== null && this.owned(s, l.ifname);
  }

  private toKind(l: RawLink): LinkKind | null {
    if (l.link_type === 'loopback') return 'loopback';
    return KINDS[l.linkinfo?.info_kind ?? ''] ?? null;
  }

  private async toInfo(s: NsState, l: RawLink): Promise<LinkInfo> {
    let peer: LinkInfo['peer'] = null;
    if (l.linkinfo?.info_kind === 'veth') {
      if (l.link_netnsid === undefined && typeof l.link === 'string') peer = { namespace: s.key, name: l.link };
      else if (l.link_index !== undefined) peer = await this.findPeer(s, l.ifindex, l.link_index);
    }
    return {
      namespace: s.key,
      name: l.ifname,
      index: l.ifindex,
      kind: this.toKind(l) ?? 'dummy',
      mac: (l.address ?? '00:00:00:00:00:00').toLowerCase(),
      mtu: l.mtu,
      up: (l.flags ?? []).includes('UP'),
      master: l.master ?? null,
      peer,
    };
  }

  /** A peer in another namespace: the known namespace holding a veth whose peer index is ours. */
  private async findPeer(s: NsState, myIndex: number, peerIndex: number): Promise<LinkInfo['peer']> {
    for (const other of [this.host, ...this.namespaces.values()]) {
      if (other === s) continue;
      let links: RawLink[];
      try {
        links = await this.rawLinks('getLink', other);
      } catch {
        continue;
      }
      const hit = links.find((l) => l.ifindex === peerIndex && l.link_index === myIndex && l.link_netnsid !== undefined);
      if (hit !== undefined && this.visible(other, hit)) return { namespace: other.key, name: hit.ifname };
    }
    return null;
  }

  private async readLink(op: string, s: NsState, name: string): Promise<LinkInfo> {
    const [l] = await this.rawLinks(op, s, name);
    if (l === undefined || !this.visible(s, l)) fail('ENODEV', op, `${s.key}/${name}`);
    return this.toInfo(s, l);
  }

  getLink(ns: NamespaceKey, name: string): Promise<LinkInfo> {
    return this.serial(async () => {
      const s = this.ns('getLink', ns);
      this.checkExistingName('getLink', s, name);
      return this.readLink('getLink', s, name);
    });
  }

  listLinks(ns: NamespaceKey): Promise<LinkInfo[]> {
    return this.serial(async () => {
      const s = this.ns('listLinks', ns);
      const links = (await this.rawLinks('listLinks', s)).filter((l) => this.visible(s, l));
      links.sort((a, b) => a.ifindex - b.ifindex);
      const out: LinkInfo[] = [];
      for (const l of links) out.push(await this.toInfo(s, l));
      return out;
    });
  }

  listAddresses(ns: NamespaceKey, link?: string): Promise<AddressInfo[]> {
    return this.serial(async () => {
      const s = this.ns('listAddresses', ns);
      if (link !== undefined) this.checkExistingName('listAddresses', s, link);
      const r = await this.ip('listAddresses', `${s.key}/${link ?? ''}`, s, ['addr', 'show']);
      const links = (r.stdout.trim() === '' ? [] : (JSON.parse(r.stdout) as RawLink[])).filter((l) => this.visible(s, l) && (link === undefined || l.ifname === link));
      if (link !== undefined && links.length === 0) fail('ENODEV', 'listAddresses', `${s.key}/${link}`);
      links.sort((a, b) => a.ifindex - b.ifindex);
      const out: AddressInfo[] = [];
      for (const l of links) {
        for (const a of l.addr_info ?? []) {
          if (a.family !== 'inet' && a.family !== 'inet6') continue;
          if (a.family === 'inet6' && isLinkLocal6(a.local) && a.scope === 'link') continue;
          out.push({ link: l.ifname, cidr: `${canonicalIp(a.local)}/${a.prefixlen}`, family: a.family === 'inet' ? 4 : 6 });
        }
      }
      return out;
    });
  }

  listRoutes(ns: NamespaceKey, family?: Family): Promise<RouteInfo[]> {
    return this.serial(async () => {
      const s = this.ns('listRoutes', ns);
      const out: RouteInfo[] = [];
      for (const f of family === undefined ? ([4, 6] as const) : [family]) {
        const r = await this.ip('listRoutes', s.key, s, ['route', 'show', 'table', 'main'], f === 6);
        const raw = r.stdout.trim() === '' ? [] : (JSON.parse(r.stdout) as RawRoute[]);
        for (const x of raw) {
          if ((x.type ?? 'unicast') !== 'unicast' || x.dev === undefined || !this.owned(s, x.dev)) continue;
          const dest = x.dst === 'default' ? (f === 4 ? '0.0.0.0/0' : '::/0') : x.dst.includes('/') ? x.dst : `${x.dst}/${f === 4 ? 32 : 128}`;
          const net = parseCidr(dest);
          if (net === null) continue;
          const kernel = x.protocol === 'kernel';
          if (f === 6 && kernel && net.text === 'fe80::/64') continue;
          out.push({
            family: f,
            destination: net.text,
            gateway: x.gateway === undefined ? null : canonicalIp(x.gateway),
            dev: x.dev,
            metric: x.metric ?? 0,
            protocol: kernel ? 'kernel' : 'static',
            scope: x.scope === 'link' ? 'link' : 'global',
            source: x.prefsrc === undefined ? null : canonicalIp(x.prefsrc),
            onlink: (x.flags ?? []).includes('onlink'),
          });
        }
      }
      return out;
    });
  }

  // ---- lifecycle ----

  /**
   * Removes everything this instance can own: the namespaces it created and, in
   * the host namespace, every link carrying the ownership prefix. For shutdown
   * without durable state and for cleaning up after a crash.
   */
  removeOwned(): Promise<{ links: string[]; namespaces: NamespaceKey[] }> {
    return this.serial(async () => {
      const namespaces = [...this.namespaces.keys()];
      for (const k of namespaces) {
        const s = this.namespaces.get(k);
        if (s === undefined) continue;
        await s.session.close();
        await s.session6.close();
        this.namespaces.delete(k);
        if (s.ref !== null) await deleteNetnsFile(s.ref);
      }
      const links: string[] = [];
      for (const l of await this.rawLinks('removeOwned', this.host)) {
        if (!l.ifname.startsWith(this.prefix)) continue;
        const r = await this.host.session.run(['link', 'del', 'dev', l.ifname]);
        if (r.ok) links.push(l.ifname);
      }
      return { links, namespaces };
    });
  }

  close(): Promise<void> {
    this.closing ??= this.chain.then(async () => {
      this.closed = true;
      for (const s of [this.host, ...this.namespaces.values()]) {
        await s.session.close();
        await s.session6.close();
      }
    });
    return this.closing;
  }
}

/** The real-kernel backend. `hostNetns` makes a test-owned namespace play the host. */
export function createLinuxBackend(opts: LinuxBackendOptions = {}): LinuxBackend {
  return new LinuxBackend(opts);
}
