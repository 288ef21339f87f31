/**
 * Predefined (automatic) pool lists: Docker's defaults, the
 * `--default-address-pools base=CIDR,size=N` syntax, and a lazy view of the
 * split subnets. Docker 20.10 expands every base eagerly (why big IPv6 bases
 * exhausted RAM, moby#40275); here a list is its bases, and entry i is
 * computed, so an `fd00::/8` split into /64s costs nothing.
 */
import { parseCidr, type Net, makeNet4, makeNet6 } from '../net/index.js';
import { AddressPoolsError } from './errors.js';

/** One `{base, size}` entry as dockerd's daemon.json / flag takes it. */
export interface AddressPoolSpec {
  base: string;
  size: number;
}

/** Docker 20.10's local list (ipamutils): 15 x /16 then 16 x /20. */
export const DOCKER_LOCAL_POOLS: readonly AddressPoolSpec[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/16', size: 16 },
  { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

/** Docker 20.10's global list: 10.0.0.0/8 split into /24. */
export const DOCKER_GLOBAL_POOLS: readonly AddressPoolSpec[] = [{ base: '10.0.0.0/8', size: 24 }];

/**
 * Parses one `--default-address-pools` value, e.g. `base=172.80.0.0/16,size=24`
 * (keys in any order, case-insensitive, as dockerd's flag).
 */
export function parseAddressPoolFlag(text: string): AddressPoolSpec {
  let base: string | undefined;
  let size: number | undefined;
  if (text.trim() === '') throw new AddressPoolsError('empty address pool: expected base=CIDR,size=N');
  for (const field of text.split(',')) {
    const eq = field.indexOf('=');
    if (eq < 0) throw new AddressPoolsError(`invalid field '${field}' in '${text}': expected key=value (base=CIDR,size=N)`);
    const key = field.slice(0, eq).trim().toLowerCase();
    const value = field.slice(eq + 1).trim();
    if (key === 'base') base = value;
    else if (key === 'size') {
      if (!/^[0-9]+$/.test(value)) throw new AddressPoolsError(`invalid size '${value}' in '${text}': expected a prefix length`);
      size = Number(value);
    } else throw new AddressPoolsError(`unexpected key '${key}' in '${text}' (expected base and size)`);
  }
  if (base === undefined) throw new AddressPoolsError(`missing base in '${text}': expected base=CIDR,size=N`);
  if (size === undefined) throw new AddressPoolsError(`missing size in '${text}': expected base=CIDR,size=N`);
  const spec = { base, size };
  validatePoolSpec(spec);
  return spec;
}

/** Docker's checks (ipamutils.splitNetworks): base must parse, size > 0 and >= base prefix. */
function validatePoolSpec(spec: AddressPoolSpec): Net {
  const net = typeof spec.base === 'string' ? parseCidr(spec.base) : null;
  if (net === null) throw new AddressPoolsError(`invalid base pool "${String(spec.base)}": invalid CIDR address: ${String(spec.base)}`);
  const bits = net.family === 4 ? 32 : 128;
  if (!Number.isInteger(spec.size) || spec.size <= 0 || spec.size < net.prefix || spec.size > bits) {
    throw new AddressPoolsError(`invalid pools size: ${String(spec.size)}`);
  }
  return net;
}

interface Segment {
  readonly base: Net;
  readonly size: number;
  /** Number of subnets in this base. */
  readonly count: bigint;
  /** Index of this segment's first subnet in the whole list. */
  readonly first: bigint;
}

/** The split list, indexable without expanding it. */
export class PredefinedList {
  private readonly segments: Segment[] = [];
  readonly length: bigint;

  constructor(specs: readonly AddressPoolSpec[]) {
    let first = 0n;
    for (const spec of specs) {
      const base = validatePoolSpec(spec);
      const count = 1n << BigInt(spec.size - base.prefix);
      this.segments.push({ base, size: spec.size, count, first });
      first += count;
    }
    this.length = first;
  }

  get isEmpty(): boolean {
    return this.length === 0n;
  }

  private segmentOf(i: bigint): Segment {
    for (const s of this.segments) if (i < s.first + s.count) return s;
    throw new RangeError(`predefined index ${i} out of range`);
  }

  /** Family of entry i. */
  familyAt(i: bigint): 4 | 6 {
    return this.segmentOf(i).base.family;
  }

  /** Entry i as a network. */
  at(i: bigint): Net {
    const s = this.segmentOf(i);
    const j = i - s.first;
    if (s.base.family === 4) {
      const step = 2 ** (32 - s.size);
      return makeNet4((s.base.base as number) + Number(j) * step, s.size);
    }
    return makeNet6((s.base.base as bigint) + (j << BigInt(128 - s.size)), s.size);
  }

  /** Index one past the end of the segment holding i (to skip a family at once). */
  segmentEnd(i: bigint): bigint {
    const s = this.segmentOf(i);
    return s.first + s.count;
  }

  /**
   * The first index > i in i's segment whose subnet starts after `endAddr`
   * (to skip every candidate inside a master that covers several of them).
   */
  indexAfter(i: bigint, endAddr: number | bigint): bigint {
    const s = this.segmentOf(i);
    let j: bigint;
    if (s.base.family === 4) {
      const step = 2 ** (32 - s.size);
      j = BigInt(Math.floor(((endAddr as number) - (s.base.base as number)) / step) + 1);
    } else {
      j = (((endAddr as bigint) - (s.base.base as bigint)) >> BigInt(128 - s.size)) + 1n;
    }
    const next = s.first + j;
    const segEnd = s.first + s.count;
    return next > i ? (next < segEnd ? next : segEnd) : i + 1n;
  }
}
