/**
 * The `Backend` contract: everything the reference driver and the daemon
 * simulator may do to Linux networking, and nothing else. Two implementations:
 * the in-memory model (`src/backend/virtual`, default, no root) and the real
 * kernel (`src/backend/linux`, iproute2/netlink inside network namespaces).
 *
 * Rules of the contract (both implementations must keep them):
 * - Every operation is async and either completes entirely or fails with a
 *   `BackendError` and changes nothing (the kernel's per-message atomicity).
 * - Errors carry the kernel's errno kind (`EEXIST`, `ENODEV`, ...) so callers
 *   can react the same way on both backends; texts are iproute2-like.
 * - Names are kernel interface names (<= 15 bytes, see `checkLinkName`),
 *   addresses are CIDR strings (`10.0.0.2/24`, `fd00::2/64`), IPs are bare.
 * - Namespaces are opaque string keys. `HOST_NAMESPACE` is the namespace the
 *   plugin runs in; sandboxes use the daemon's sandbox key (a path such as
 *   `/var/run/docker/netns/abc123`) which the Linux backend maps to a netns file.
 * - What is returned is the kernel's view: lists are sorted (links by index,
 *   addresses by link index then insertion, routes by family/destination/metric).
 */
import { CnmkitError } from '../errors.js';
import { MAX_IFNAME_BYTES } from '../protocol/constants.js';

/** Key of the namespace the plugin itself lives in. */
export const HOST_NAMESPACE = 'host';

/**
 * Prefix of every link the reference driver creates. The Linux backend refuses
 * to modify or delete host-namespace links without it (ownership tag), so a
 * driver must keep all names it creates prefixed and <= 15 bytes.
 */
export const OWNED_LINK_PREFIX = 'cnm-';

/** Opaque namespace key (`HOST_NAMESPACE` or a sandbox key). */
export type NamespaceKey = string;

export type LinkKind = 'veth' | 'bridge' | 'dummy' | 'loopback';

/** Address family as the kernel numbers it for users (`ip -4` / `ip -6`). */
export type Family = 4 | 6;

/** A link as `ip -d link show` reports it. */
export interface LinkInfo {
  readonly namespace: NamespaceKey;
  readonly name: string;
  /** ifindex, unique within the namespace (kept on a move when free). */
  readonly index: number;
  readonly kind: LinkKind;
  /** `aa:bb:cc:dd:ee:ff`, lower case. */
  readonly mac: string;
  readonly mtu: number;
  /** Administrative state (IFF_UP). */
  readonly up: boolean;
  /** Name of the bridge this link is a port of (same namespace), or null. */
  readonly master: string | null;
  /** The other end of a veth (may live in another namespace); null otherwise or when not resolvable. */
  readonly peer: { readonly namespace: NamespaceKey; readonly name: string } | null;
}

/** Attributes settable when a link is created (`ip link add ... mtu M address A`). */
export interface LinkOptions {
  /** Default 1500 (65536 for loopback, which cannot be created anyway). */
  readonly mtu?: number;
  /** Unicast MAC; default: a random locally administered one. */
  readonly mac?: string;
}

export interface VethOptions extends LinkOptions {
  /** MTU of the peer; default: the same as `mtu`. */
  readonly peerMtu?: number;
  readonly peerMac?: string;
}

/** One address on a link (`ip addr`). */
export interface AddressInfo {
  readonly link: string;
  /** As added, host bits kept: `10.0.0.2/24`, IPv6 in canonical short form. */
  readonly cidr: string;
  readonly family: Family;
}

/** What `addRoute`/`deleteRoute` take (`ip route add DEST [via GW] [dev DEV] [metric M] [onlink]`). */
export interface RouteSpec {
  /** CIDR; `0.0.0.0/0` / `::/0` for the default route. Host bits must be zero (EINVAL). */
  readonly destination: string;
  /** Next hop (bare IP, same family). Without it the route is on-link (scope link) and `dev` is required. */
  readonly gateway?: string;
  /** Outgoing link; deduced from the gateway's connected route when omitted. */
  readonly dev?: string;
  /** Default 0 for IPv4, 1024 for IPv6 (the kernel's defaults). */
  readonly metric?: number;
  /** Skip the gateway reachability check (`onlink`); needs `dev`. */
  readonly onlink?: boolean;
}

/** A route of the main table as `ip route` reports it. */
export interface RouteInfo {
  readonly family: Family;
  /** Normalised CIDR (host bits zero). */
  readonly destination: string;
  readonly gateway: string | null;
  readonly dev: string;
  readonly metric: number;
  /** `kernel` = connected route derived from an address on an up link; `static` = added with addRoute. */
  readonly protocol: 'kernel' | 'static';
  /** IPv4 routes without gateway: `link`; everything else (all IPv6): `global`. */
  readonly scope: 'link' | 'global';
  /** Preferred source: IPv4 connected routes show the address that made them; null otherwise. */
  readonly source: string | null;
  readonly onlink: boolean;
}

/**
 * The only thing the driver (and the daemon simulator) knows of Linux
 * networking. All names are looked up inside the given namespace; a missing
 * namespace fails with ENOENT, a missing link with ENODEV.
 */
export interface Backend {
  /** `virtual` or `linux`; for messages and reports only. */
  readonly kind: string;

  /** `ip netns add`. EEXIST when the key exists, EINVAL for an empty key. A new namespace holds `lo` (down). */
  createNamespace(key: NamespaceKey): Promise<void>;
  /**
   * `ip netns del`: every link in it goes too, and so does the peer of every veth
   * in it (even in another namespace). ENOENT when missing, EPERM for the host namespace.
   */
  deleteNamespace(key: NamespaceKey): Promise<void>;
  /** All known namespaces, `HOST_NAMESPACE` first, then in creation order. */
  listNamespaces(): Promise<NamespaceKey[]>;

  /** `ip link add NAME type bridge`. Created down, no ports. */
  createBridge(ns: NamespaceKey, name: string, options?: LinkOptions): Promise<LinkInfo>;
  /** `ip link add NAME type veth peer name PEER`; both ends in `ns`, both down; the peer gets the lower ifindex. Returns [link, peer]. */
  createVethPair(ns: NamespaceKey, name: string, peerName: string, options?: VethOptions): Promise<[LinkInfo, LinkInfo]>;
  /** `ip link add NAME type dummy`. */
  createDummy(ns: NamespaceKey, name: string, options?: LinkOptions): Promise<LinkInfo>;
  /** `ip link del`: a veth takes its peer with it; a bridge releases its ports. EOPNOTSUPP for `lo`. */
  deleteLink(ns: NamespaceKey, name: string): Promise<void>;

  /** `ip link set NAME up`. Idempotent. */
  setLinkUp(ns: NamespaceKey, name: string): Promise<void>;
  /** `ip link set NAME down`: every route through it and (default sysctls) its IPv6 addresses go. Idempotent. */
  setLinkDown(ns: NamespaceKey, name: string): Promise<void>;
  /**
   * `ip link set NAME mtu M`: EINVAL outside 68..65535 (`lo`: 0..2^31-1). Below 1280
   * a link loses its IPv6 configuration, below 68 its IPv4 one (ENOBUFS to add).
   */
  setMtu(ns: NamespaceKey, name: string, mtu: number): Promise<void>;
  /** `ip link set NAME address MAC`: EINVAL when malformed, EADDRNOTAVAIL when multicast or zero. */
  setMac(ns: NamespaceKey, name: string, mac: string): Promise<void>;
  /**
   * `ip link set NAME master BRIDGE` / `nomaster` (null). EOPNOTSUPP when the
   * master is not a bridge, ELOOP for a bridge into a bridge, EINVAL for `lo`.
   * Same master again: no-op; a port of another bridge moves over (as
   * `ip link set master` does). A bridge whose MTU was never set explicitly
   * follows the smallest MTU of its ports. Atomic: the kernel itself releases the
   * old master before refusing a non-bridge one, so a kernel-backed
   * implementation checks the new master's kind first.
   */
  setMaster(ns: NamespaceKey, name: string, master: string | null): Promise<void>;
  /**
   * `ip link set NAME netns TARGET [name NEWNAME]`: the link arrives down, without
   * master, addresses or routes. EINVAL for bridges and `lo` (netns-local),
   * EEXIST when the (new) name is taken in the target. Same namespace: no-op
   * (a requested rename is still applied, as `ip link set` does).
   */
  moveLink(ns: NamespaceKey, name: string, targetNs: NamespaceKey, newName?: string): Promise<void>;
  /**
   * `ip link set NAME name NEW`: EEXIST when taken, EINVAL for a bad name. Kernels
   * before 6.8 refuse while the link is up (EBUSY): callers set it down first.
   */
  renameLink(ns: NamespaceKey, name: string, newName: string): Promise<void>;

  /**
   * `ip addr add CIDR dev LINK` (a bare IP means /32 or /128): EEXIST when already
   * on that link (IPv4: same IP and prefix; IPv6: same IP), EINVAL when malformed or
   * IPv6 on a link with MTU < 1280. On an up link it adds the connected route.
   */
  addAddress(ns: NamespaceKey, link: string, cidr: string): Promise<void>;
  /**
   * `ip addr del CIDR dev LINK` (prefix length must match): EADDRNOTAVAIL when not
   * there. Its connected route goes; deleting an IPv4 primary takes the secondaries
   * of its subnet along (promote_secondaries=0); the last address of a family takes
   * the family's routes through the link.
   */
  deleteAddress(ns: NamespaceKey, link: string, cidr: string): Promise<void>;
  /**
   * `ip route add`: EEXIST when a route with the same family, destination and
   * metric exists; when no on-link route (through `dev` when given) covers the
   * gateway: ENETUNREACH for IPv4, EHOSTUNREACH for IPv6 ("Nexthop has invalid
   * gateway"; a next hop through a down link is unreachable too); ENETDOWN when
   * `dev` is down for a route without gateway or with `onlink`; ENODEV without
   * gateway and dev or for an unknown dev; EINVAL for host bits in the
   * destination, mixed families, or IPv4 `onlink` without gateway.
   */
  addRoute(ns: NamespaceKey, route: RouteSpec): Promise<void>;
  /**
   * `ip route del`: fields given must match (metric 0 or absent matches any); ESRCH
   * when nothing matches (the kernel says ENOENT for an absent IPv6 `::/0`).
   * Connected routes can be deleted too.
   */
  deleteRoute(ns: NamespaceKey, route: RouteSpec): Promise<void>;

  /** ENODEV when missing. */
  getLink(ns: NamespaceKey, name: string): Promise<LinkInfo>;
  /** Sorted by index; `lo` included. */
  listLinks(ns: NamespaceKey): Promise<LinkInfo[]>;
  /**
   * All addresses in the namespace, or those of one link (ENODEV when missing), in
   * the kernel's order: per link IPv4 primaries by scope then secondaries, then IPv6
   * by scope (global first), newest first.
   */
  listAddresses(ns: NamespaceKey, link?: string): Promise<AddressInfo[]>;
  /** Main-table routes: connected (from addresses on up links) and static. */
  listRoutes(ns: NamespaceKey, family?: Family): Promise<RouteInfo[]>;

  /** Releases resources (netlink sockets, child processes). Idempotent. */
  close(): Promise<void>;
}

/** Names of the Backend's operations (for fault injection and traces). */
export type BackendOp = Exclude<keyof Backend, 'kind'>;

/** errno kinds a backend reports. */
export type Errno =
  | 'EPERM'
  | 'ENOENT'
  | 'ESRCH'
  | 'EIO'
  | 'EBUSY'
  | 'EEXIST'
  | 'ENODEV'
  | 'EINVAL'
  | 'ERANGE'
  | 'ELOOP'
  | 'EOPNOTSUPP'
  | 'EADDRNOTAVAIL'
  | 'ENETDOWN'
  | 'ENETUNREACH'
  | 'EHOSTUNREACH'
  | 'ENFILE'
  | 'ENOBUFS'
  | 'ENOSPC';

/** strerror(3) texts, as iproute2 prints them after `RTNETLINK answers: `. */
export const ERRNO_TEXT: Readonly<Record<Errno, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EIO: 'Input/output error',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ERANGE: 'Numerical result out of range',
  ELOOP: 'Too many levels of symbolic links',
  EOPNOTSUPP: 'Operation not supported',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENETDOWN: 'Network is down',
  ENETUNREACH: 'Network is unreachable',
  EHOSTUNREACH: 'No route to host',
  ENFILE: 'Too many open files in system',
  ENOBUFS: 'No buffer space available',
  ENOSPC: 'No space left on device',
};

/**
 * A backend operation failed the way the kernel fails it. `code` is always
 * `E_BACKEND`; `errno` says which kernel error; the message reads
 * `<op> <target>: RTNETLINK answers: File exists` (plus the kernel's extack
 * text when it has one, e.g. `Nexthop has invalid gateway`).
 */
export class BackendError extends CnmkitError {
  declare readonly code: 'E_BACKEND';
  readonly errno: Errno;
  readonly op: string;
  /** `ns/link` or similar; what the operation was about. */
  readonly target: string;
  /** Netlink extended-ack text, when the kernel gives one. */
  readonly detail: string | undefined;
  constructor(errno: Errno, op: string, target: string, detail?: string, options?: { cause?: unknown }) {
    super(
      'E_BACKEND',
      `${op} ${target}: RTNETLINK answers: ${ERRNO_TEXT[errno]}${detail === undefined ? '' : ` (${detail})`}`,
      options,
    );
    this.errno = errno;
    this.op = op;
    this.target = target;
    this.detail = detail;
  }
}

/** True when `e` is a BackendError, optionally of one errno. */
export function isBackendError(e: unknown, errno?: Errno): e is BackendError {
  return e instanceof BackendError && (errno === undefined || e.errno === errno);
}

/**
 * The kernel's `dev_valid_name`: non-empty, at most 15 bytes (IFNAMSIZ - 1),
 * not `.` or `..`, no `/`, `:` (alias syntax) or whitespace (isspace: space,
 * \t \n \v \f \r). NUL is impossible in a C string and rejected too. `%` is
 * only valid as one `%d` template (the kernel then picks the lowest free
 * number), which `isNameTemplate` reports. Returns the reason or null.
 */
export function linkNameProblem(name: string): string | null {
  if (name.length === 0) return 'empty name';
  if (Buffer.byteLength(name, 'utf8') > MAX_IFNAME_BYTES) return `name longer than ${MAX_IFNAME_BYTES} bytes`;
  if (name === '.' || name === '..') return `"${name}" is not a valid name`;
  // C isspace() in the kernel: ASCII only, so a UTF-8 no-break space is a valid byte sequence.
  if (/[/:\0 \t\n\v\f\r]/.test(name)) return 'name contains "/", ":", NUL or whitespace';
  const percents = name.includes('%') ? name.split('%').length - 1 : 0;
  if (percents > 1 || (percents === 1 && !name.includes('%d'))) return 'only one "%d" template is allowed';
  return null;
}

/** A `%d` name template (`eth%d`): the kernel substitutes the lowest free number. */
export function isNameTemplate(name: string): boolean {
  return name.includes('%d');
}

/** Kernel MTU bounds for Ethernet-like links (ETH_MIN_MTU .. ETH_MAX_MTU). */
export const MIN_MTU = 68;
export const MAX_MTU = 65535;
export const DEFAULT_MTU = 1500;
