/**
 * Mutable state of the virtual backend: namespaces holding links, links holding
 * addresses, a main routing table per namespace. Links point at each other by
 * object (master, veth peer) so renames and moves cannot leave stale names.
 */
import type { Family, LinkKind, NamespaceKey } from '../backend.js';
import type { Ip, IpPrefix, Net } from '../../net/index.js';

/** An interface address: `text` is `10.0.0.2/24` (canonical IP, prefix as given), `net` its subnet. */
export interface VAddress extends IpPrefix {
  readonly family: Family;
}

export interface VLink {
  ns: VNamespace;
  name: string;
  index: number;
  readonly kind: LinkKind;
  mac: string;
  mtu: number;
  up: boolean;
  master: VLink | null;
  /** Bridges: the links whose master this is (kept in step with `master`). */
  readonly ports: Set<VLink>;
  peer: VLink | null;
  /** Bridges: MTU set through setMtu (BROPT_MTU_SET_BY_USER), so ports no longer drive it. */
  mtuSetByUser: boolean;
  /** Bridges: MAC given at creation or set later (NET_ADDR_SET), so ports no longer drive it. */
  macSetByUser: boolean;
  /** In insertion order (the kernel lists them so; the first of a subnet is the IPv4 primary). */
  addresses: VAddress[];
}

export interface VRoute {
  readonly family: Family;
  readonly destination: Net;
  readonly gateway: Ip | null;
  readonly dev: VLink;
  readonly metric: number;
  readonly protocol: 'kernel' | 'static';
  readonly onlink: boolean;
  /** Connected routes: the address that made them (shown as `src` for IPv4). */
  readonly owner: Ip | null;
}

export interface VNamespace {
  readonly key: NamespaceKey;
  readonly links: Map<string, VLink>;
  /** ifindexes in use (kept in step with `links`). */
  readonly indices: Set<number>;
  /** Next ifindex to try (the kernel's per-netns counter). */
  nextIndex: number;
  routes: VRoute[];
}
