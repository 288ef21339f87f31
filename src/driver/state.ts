/**
 * The reference driver's state as plain JSON data, and where it is kept.
 * CreateNetwork is never re-sent after a plugin restart (protocol.md §4.7),
 * so a driver serving real daemons must persist it: pass a `DriverStateStore`
 * (e.g. `createFileStateStore(dir)` for `cnmkit serve --state DIR`).
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DriverError } from './errors.js';
import type { NetworkConfig } from './options.js';

export const DRIVER_STATE_VERSION = 1;

export interface EndpointRecord {
  readonly id: string;
  /** Veth end attached to the bridge; stays in the host namespace. */
  readonly hostVeth: string;
  /** Veth end handed to the daemon as Join's SrcName. */
  readonly srcName: string;
  readonly mac: string;
  /** True when the driver chose the MAC (and returned it in CreateEndpoint). */
  readonly macGenerated: boolean;
  /** Interface.Address / AddressIPv6 as requested (CIDR) or null. */
  readonly address: string | null;
  readonly addressIPv6: string | null;
  /** Canonical JSON of the request's Interface, to recognise a retried CreateEndpoint. */
  readonly requestKey: string;
  /** Sandbox of the current Join, or null. */
  sandboxKey: string | null;
  /** ProgramExternalConnectivity was called (and not revoked). */
  external: boolean;
}

/** A network as CreateNetwork configured it (the parsed options it keeps), plus what the driver made. */
export interface NetworkRecord extends Pick<NetworkConfig, 'mtu' | 'internal' | 'dstPrefix' | 'staticRoutes' | 'disableGatewayService' | 'ipv4' | 'ipv6'> {
  readonly id: string;
  readonly bridge: string;
  /** MAC set on the bridge at creation (stable gateway MAC); absent in states of older versions. */
  readonly bridgeMac?: string;
  /** Canonical JSON of the CreateNetwork request, to recognise a retry. */
  readonly requestKey: string;
  /** `cnmkit.segment` from the swarm manager's AllocateNetwork (global scope), when given. */
  readonly segment?: number;
  readonly endpoints: Record<string, EndpointRecord>;
}

/** A node announced by DiscoverNew (global connectivity scope). */
export interface NodeRecord {
  readonly address: string;
  readonly bindAddress: string;
  readonly self: boolean;
}

/** A swarm network's allocation on the manager (AllocateNetwork, until FreeNetwork). */
export interface AllocationRecord {
  readonly network: string;
  readonly segment: number;
  /** Canonical JSON of the options the allocation was asked with, to recognise a retry. */
  readonly requestKey: string;
}

export interface DriverState {
  readonly version: typeof DRIVER_STATE_VERSION;
  readonly networks: readonly NetworkRecord[];
  readonly nodes: readonly NodeRecord[];
  /** Global scope: allocations made as the swarm manager's allocator (absent in older states). */
  readonly allocations?: readonly AllocationRecord[];
}

/** Where the driver keeps its state between runs. `save` gets the whole state after every change. */
export interface DriverStateStore {
  load(): Promise<DriverState | undefined>;
  save(state: DriverState): Promise<void>;
}

/** Keeps the last saved state in memory (tests, and restarting a driver within one process). */
export function createMemoryStateStore(initial?: DriverState): DriverStateStore & { readonly saved: DriverState | undefined } {
  let saved = initial === undefined ? undefined : structuredClone(initial);
  return {
    get saved() {
      return saved;
    },
    async load() {
      return saved === undefined ? undefined : structuredClone(saved);
    },
    async save(state) {
      saved = structuredClone(state);
    },
  };
}

export const DRIVER_STATE_FILE = 'driver-state.json';

/**
 * One JSON file `DIR/driver-state.json`, replaced atomically (write temp,
 * fsync, rename), so a `kill -9` leaves either the old or the new state.
 */
export function createFileStateStore(dir: string): DriverStateStore {
  const file = join(dir, DRIVER_STATE_FILE);
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new DriverError('E_DRIVER_STATE', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new DriverError('E_DRIVER_STATE', `${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
      }
      return checkState(parsed, file);
    },
    async save(state) {
      await mkdir(dir, { recursive: true });
      const tmp = `${file}.tmp`;
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(state)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    },
  };
}

/** Shallow structural check of loaded state; deeper values are re-validated by importState. */
export function checkState(value: unknown, where: string): DriverState {
  const v = value as Partial<DriverState> | null;
  if (v === null || typeof v !== 'object' || v.version !== DRIVER_STATE_VERSION || !Array.isArray(v.networks) || !Array.isArray(v.nodes)) {
    throw new DriverError('E_DRIVER_STATE', `${where}: not a cnmkit driver state (version ${DRIVER_STATE_VERSION})`);
  }
  for (const n of v.networks) {
    if (n === null || typeof n !== 'object' || typeof n.id !== 'string' || typeof n.bridge !== 'string' || n.endpoints === null || typeof n.endpoints !== 'object') {
      throw new DriverError('E_DRIVER_STATE', `${where}: malformed network record`);
    }
  }
  if (v.allocations !== undefined) {
    if (!Array.isArray(v.allocations)) throw new DriverError('E_DRIVER_STATE', `${where}: malformed allocations`);
    for (const a of v.allocations as unknown[]) {
      const r = a as Partial<AllocationRecord> | null;
      if (r === null || typeof r !== 'object' || typeof r.network !== 'string' || typeof r.segment !== 'number' || typeof r.requestKey !== 'string') throw new DriverError('E_DRIVER_STATE', `${where}: malformed allocation record`);
    }
  }
  return v as DriverState;
}
