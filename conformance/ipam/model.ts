/**
 * The spec-level model of an IPAM plugin: per live pool, the set of addresses
 * handed out. It deliberately knows nothing about allocation order or pool-ID
 * format (any variant dockerd accepts passes); it only knows what must never
 * happen (ipam-semantics.md §1–2, protocol.md §2.3).
 */
import { type Cidr, formatCidr, isReserved, lastOf, sizeOf, usableCount } from '../cidr.js';

export interface ModelPool {
  /** Opaque PoolID as the plugin returned it. */
  readonly poolId: string;
  readonly cidr: Cidr;
  /** `--ip-range`: automatic picks must come from here. */
  readonly sub: Cidr | null;
  /** Key of the arena slot the pool was requested for. */
  readonly slot: number;
  /** Addresses the plugin handed out and we did not release. */
  readonly held: Set<bigint>;
  /** Addresses whose state we cannot know (e.g. a released pool-Data gateway). */
  readonly unknown: Set<bigint>;
  /** Addresses released by us while the pool lived: must be grantable again. */
  readonly released: Set<bigint>;
  /** Gateway given in RequestPool `Data` when it is an address of the pool. */
  readonly dataGateway: bigint | null;
  /**
   * RequestPool `Data` carried a gateway (inside the pool or not, e.g. Calico's
   * "0.0.0.0/0"): dockerd then sends no gateway RequestAddress (protocol.md §4.2).
   */
  readonly dataGatewayText: string | null;
  /**
   * The plugin answered an address of this pool as its own /32 (/128): the routed
   * design (Calico), where every address of the subnet is usable and no
   * network/broadcast address is reserved. Learned from the answers.
   */
  routed: boolean;
}

/** Marker in `ModelPool.unknown`: an unreadable address was handed out, so which ones are free is unknown. */
export const UNREADABLE = -1n;

export interface IpamModel {
  readonly pools: ModelPool[];
  /** Slots whose pool was released in this run: requesting them again must work. */
  readonly releasedSlots: Set<number>;
  /**
   * Automatic-pool mode, for plugins that refuse explicit pools: every RequestPool
   * has Pool "" and the model works with what it gets. Only what dockerd sends for
   * a network without --subnet is sent then: no --ip, --gateway, --ip-range.
   */
  readonly auto: boolean;
}

export function newModel(auto = false): IpamModel {
  return { pools: [], releasedSlots: new Set(), auto };
}

export function poolAt(m: Readonly<IpamModel>, index: number): ModelPool | undefined {
  return m.pools.length === 0 ? undefined : m.pools[index % m.pools.length];
}

export function slotHeld(m: Readonly<IpamModel>, slot: number): boolean {
  return m.pools.some((p) => p.slot === slot);
}

/** Range automatic requests draw from: the sub-pool if any, else the pool. */
export function autoRange(p: ModelPool): Cidr {
  return p.sub ?? p.cidr;
}

/** Addresses an automatic request may still get, or null when that cannot be known. */
export function freeForAuto(p: ModelPool): bigint | null {
  if (p.unknown.size > 0) return null;
  const range = autoRange(p);
  if (sizeOf(range) > 4096n) return null;
  // Inside a sub-pool only the master's reserved addresses are excluded (ipam-semantics.md §1.5).
  let free = 0n;
  for (let a = range.base; a <= lastOf(range); a++) if (!reservedIn(p, a) && !p.held.has(a)) free++;
  return free;
}

/** Reserved by the pool's design: none in the routed (/32 answers) design, else network/broadcast/anycast. */
export function reservedIn(p: ModelPool, addr: bigint): boolean {
  return !p.routed && isReserved(p.cidr, addr);
}

/** Usable addresses of the automatic range (for messages). */
export function autoUsable(p: ModelPool): bigint {
  return p.sub || p.routed ? sizeOf(p.sub ?? p.cidr) : usableCount(p.cidr);
}

/** Addresses dockerd may release in this pool: the ones it holds or held (a retried or rolled-back release). */
export function releasable(p: ModelPool): bigint[] {
  return [...new Set([...p.held, ...p.released])].sort((a, b) => (a < b ? -1 : 1));
}

/** The pool as verdicts name it: CIDR, sub-pool and PoolID. */
export function describePool(p: Pick<ModelPool, 'cidr' | 'sub' | 'poolId'>): string {
  return `${formatCidr(p.cidr)}${p.sub ? ` (sub-pool ${formatCidr(p.sub)})` : ''} [PoolID ${p.poolId}]`;
}
