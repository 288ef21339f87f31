/**
 * Pool views as maps: every address as an offset from the pool's first
 * address, classified free / allocated / gateway / aux / reserved / leaked.
 * Cheap for any pool size: the work is proportional to the runs and holders,
 * never to the number of addresses.
 */
import { addressPart, parseCidr, parseIp } from '../net/index.js';
import type { AddressRole, PoolView } from './trace.js';

/** What the HTML page needs to draw one pool (offsets are decimal strings). */
export interface PoolMapModel {
  readonly id: string;
  readonly network: string | null;
  readonly leak: string | null;
  readonly family: 4 | 6;
  readonly pool: string;
  readonly range: string | null;
  /** First address of the pool, bare. */
  readonly base: string;
  readonly size: string;
  /** [first, last] offsets of the ip-range, or null. */
  readonly rangeOffsets: readonly [string, string] | null;
  readonly reserved: readonly string[];
  /** [offset, role, who, address]; role `stale` = the daemon holds it but the IPAM has it free. */
  readonly holders: readonly (readonly [string, AddressRole | 'stale', string, string])[];
  /** Allocation runs as [first, last] offsets; null when the IPAM cannot be inspected. */
  readonly runs: readonly (readonly [string, string])[] | null;
}

export interface PoolCounts {
  readonly size: bigint;
  readonly reserved: number;
  readonly allocated: bigint;
  readonly free: bigint;
  readonly gateway: number;
  readonly aux: number;
  readonly container: number;
  /** Documented daemon leaks plus addresses allocated in the IPAM that nobody holds. */
  readonly leaked: bigint;
  /** Held by the daemon but free in the IPAM (a duplicate waiting to happen). */
  readonly stale: number;
}

function baseOf(pool: string): { base: bigint; family: 4 | 6 } {
  const net = parseCidr(pool);
  if (net === null) throw new Error(`not a CIDR: ${pool}`);
  return { base: BigInt(net.base), family: net.family };
}

function offsetOf(base: bigint, address: string): bigint {
  const ip = parseIp(addressPart(address));
  if (ip === null) throw new Error(`not an IP: ${address}`);
  return BigInt(ip.value) - base;
}

function inRuns(runs: readonly (readonly [bigint, bigint])[], off: bigint): boolean {
  for (const [a, b] of runs) if (off >= a && off <= b) return true;
  return false;
}

export function poolMapModel(p: PoolView): PoolMapModel {
  const { base } = baseOf(p.pool);
  const runs = p.runs === null ? null : p.runs.map((r) => [offsetOf(base, r.first), offsetOf(base, r.last)] as const);
  let rangeOffsets: [string, string] | null = null;
  if (p.range !== null) {
    const r = parseCidr(p.range);
    const m = parseCidr(p.pool)!;
    if (r !== null) {
      // Docker maps the range onto host bits under the master mask (ipam-semantics §1.5).
      const hostMask = (1n << BigInt(m.hostBits)) - 1n;
      const first = BigInt(r.base) & hostMask;
      const last = (BigInt(r.base) + (1n << BigInt(r.hostBits)) - 1n) & hostMask;
      rangeOffsets = first <= last ? [first.toString(), last.toString()] : [first.toString(), hostMask.toString()];
    }
  }
  const holders = p.holders.map((h) => {
    const off = offsetOf(base, h.address);
    const role: AddressRole | 'stale' = runs !== null && !inRuns(runs, off) ? 'stale' : h.role;
    return [off.toString(), role, h.who, h.address] as const;
  });
  return {
    id: p.id,
    network: p.network,
    leak: p.leak ?? null,
    family: p.family,
    pool: p.pool,
    range: p.range,
    base: addressPart(p.pool),
    size: p.size,
    rangeOffsets,
    reserved: p.reserved.map((a) => offsetOf(base, a).toString()),
    holders,
    runs: runs === null ? null : runs.map(([a, b]) => [a.toString(), b.toString()] as const),
  };
}

/** The numbers the page shows above each map (and the text printer prints). */
export function poolCounts(p: PoolView): PoolCounts {
  const m = poolMapModel(p);
  const size = BigInt(m.size);
  const held = new Set<string>();
  let gateway = 0;
  let aux = 0;
  let container = 0;
  let stale = 0;
  let documented = 0n;
  for (const [off, role] of m.holders) {
    if (held.has(off)) continue;
    held.add(off);
    if (role === 'leaked') documented++;
    if (role === 'stale') stale++;
    else if (role === 'gateway') gateway++;
    else if (role === 'aux') aux++;
    else if (role === 'container') container++;
  }
  let allocated: bigint;
  let leaked = 0n;
  if (m.runs === null) {
    allocated = BigInt(held.size);
    leaked = documented;
  } else {
    allocated = 0n;
    for (const [a, b] of m.runs) allocated += BigInt(b) - BigInt(a) + 1n;
    // Known daemon leaks plus allocations nobody accounts for.
    leaked = allocated - BigInt(held.size - stale) + documented;
  }
  const reserved = m.reserved.length;
  return { size, reserved, allocated, free: size - BigInt(reserved) - allocated, gateway, aux, container, leaked, stale };
}
