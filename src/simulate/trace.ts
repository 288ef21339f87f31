/**
 * The trace of a simulation: what the text printer, `--json` and the HTML
 * page consume. Plain JSON data (no bigint, no class instances) so a trace
 * can be written, read back and embedded in a page unchanged.
 */
import type { CallRecord } from '../client/types.js';

export const TRACE_VERSION = 1;

export interface Trace {
  readonly version: typeof TRACE_VERSION;
  readonly title: string;
  /** What Docker does here and why (from the scenario file). */
  readonly explain: string;
  /** Scenario file it came from, or `seed N` for generated ones. */
  readonly source: string;
  /** `reference` or the plugin socket path. */
  readonly target: string;
  readonly profile: string;
  /** Step 0 is the initial state (no action). */
  readonly steps: readonly TraceStep[];
  /** Expectations of the scenario that did not hold, invariant violations. */
  readonly problems: readonly string[];
}

export interface TraceStep {
  readonly index: number;
  /** The daemon action as a docker-like command line, e.g. `docker network create n1 --subnet 10.0.0.0/24`. */
  readonly action: string;
  readonly note?: string;
  /** Error text the daemon (user) saw, or null. */
  readonly error: string | null;
  /** What the scenario expected the step to fail with (substring), if anything. */
  readonly expectedError?: string;
  readonly calls: readonly TraceCall[];
  readonly state: SimState;
}

export interface TraceCall {
  readonly seq: number;
  /** `/IpamDriver.RequestAddress` */
  readonly path: string;
  /** Parsed request body (or the raw text when not JSON). */
  readonly request: unknown;
  /** Parsed reply body, null when none arrived. */
  readonly reply: unknown;
  readonly outcome: CallRecord['outcome'];
  readonly error?: string;
  /** Failed because the scenario injected a fault. */
  readonly injected?: boolean;
}

export type AddressRole = 'gateway' | 'aux' | 'container' | 'leaked';

/** Who holds one address of a pool. */
export interface AddressHolder {
  /** Bare address. */
  readonly address: string;
  readonly role: AddressRole;
  /** `gateway`, `aux router`, container name, `leaked` ... */
  readonly who: string;
}

/** One address pool of one network (or an orphaned pool of the IPAM). */
export interface PoolView {
  /** Pool ID as the IPAM handed it out. */
  readonly id: string;
  /** Network holding it; null for a pool the IPAM still has but no network uses (leak). */
  readonly network: string | null;
  readonly family: 4 | 6;
  /** Master network CIDR. */
  readonly pool: string;
  /** ip-range (sub-pool) CIDR, if any. */
  readonly range: string | null;
  /** Addresses in the pool, decimal (may exceed 2^53). */
  readonly size: string;
  /** Addresses the IPAM reserves by itself (network, IPv4 broadcast). */
  readonly reserved: readonly string[];
  /** Addresses the daemon knows a holder of. */
  readonly holders: readonly AddressHolder[];
  /**
   * Allocation runs as the IPAM reports them (reserved excluded), when the IPAM
   * can be inspected (the in-process reference); null for a plugin behind a socket.
   */
  readonly runs: readonly AllocationRun[] | null;
  /** Allocated addresses (reserved excluded): from runs when known, else the holders. Decimal. */
  readonly allocated: string;
  /** Why an orphaned pool is still there, when dockerd documentedly leaked it. */
  readonly leak?: string;
}

export interface AllocationRun {
  readonly first: string;
  readonly last: string;
  /** Decimal. */
  readonly count: string;
}

export interface NetworkView {
  readonly name: string;
  readonly id: string;
  readonly subnets: readonly { readonly subnet: string; readonly gateway: string | null; readonly range: string | null }[];
}

export interface ContainerView {
  readonly name: string;
  readonly running: boolean;
  /** network name -> addresses (bare) held there. */
  readonly addresses: Readonly<Record<string, readonly string[]>>;
}

/** The namespace / link tree of the backend. */
export interface NamespaceView {
  readonly key: string;
  /** `host`, or the container the sandbox belongs to. */
  readonly label: string;
  readonly links: readonly LinkView[];
}

export interface LinkView {
  readonly name: string;
  readonly kind: string;
  readonly up: boolean;
  readonly master: string | null;
  readonly peer: { readonly namespace: string; readonly name: string } | null;
  readonly addresses: readonly string[];
}

export interface SimState {
  readonly networks: readonly NetworkView[];
  readonly containers: readonly ContainerView[];
  readonly pools: readonly PoolView[];
  /** null when the plugin's backend cannot be seen (plugin behind a socket). */
  readonly tree: readonly NamespaceView[] | null;
}

/** A call record as a trace call: bodies parsed so they print and embed as data. */
export function traceCall(r: CallRecord, injected = false): TraceCall {
  return {
    seq: r.seq,
    path: r.path,
    request: parseBody(r.request),
    reply: r.response === undefined ? null : parseBody(r.response),
    outcome: r.outcome,
    ...(r.error !== undefined ? { error: r.error } : {}),
    ...(injected ? { injected: true } : {}),
  };
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
