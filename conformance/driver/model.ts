/**
 * What the driver model knows: the networks and endpoints dockerd believes
 * exist, their addresses (chosen here, as dockerd's IPAM would), which
 * endpoints are joined and what the plugin said about them. It knows nothing
 * about how a driver builds links; only what dockerd relies on.
 */
import type { Cidr } from '../cidr.js';
import type { PoolAddressing } from './addressing.js';

export interface ModelEndpoint {
  readonly id: string;
  /** `10.199.0.2/28`: the Interface.Address dockerd sends ('' with the null IPAM). */
  readonly address: string;
  /** The address the container gets: `address`, or the one the driver answered (null IPAM); '' = none. */
  assigned: string;
  /** Host offset in the pool (default IPAM), else a running number. */
  readonly offset: number;
  /** The container publishes ports: CreateEndpoint, Join and Program carry port entries. */
  readonly ports: boolean;
  /** Joined once: dockerd never joins an endpoint again after its Leave (stop = Leave + DeleteEndpoint). */
  everJoined: boolean;
  /** MAC we supplied in Interface.MacAddress (`--mac-address`), else null. */
  readonly suppliedMac: string | null;
  /** The MAC the container will get (supplied or returned), lower case, or null. */
  mac: string | null;
  /** Join's SrcName while joined (null = not joined; '' = joined without an interface). */
  joined: string | null;
}

export interface ModelNetwork {
  readonly id: string;
  readonly slot: number;
  readonly pool: Cidr;
  /** Where its addresses come from (default / plugin / null IPAM). */
  readonly addressing: PoolAddressing;
  readonly endpoints: ModelEndpoint[];
  /** Endpoints deleted successfully: same id + address may be created again. */
  readonly deleted: ModelEndpoint[];
}

export interface DriverModel {
  readonly networks: ModelNetwork[];
  /** Networks deleted successfully: the same id may be created again. */
  readonly deletedNetworks: { id: string; slot: number }[];
}

export function newDriverModel(): DriverModel {
  return { networks: [], deletedNetworks: [] };
}

export function liveEndpoints(m: Readonly<DriverModel>): { net: ModelNetwork; ep: ModelEndpoint }[] {
  const out: { net: ModelNetwork; ep: ModelEndpoint }[] = [];
  for (const net of m.networks) for (const ep of net.endpoints) out.push({ net, ep });
  return out;
}

export function slotInUse(m: Readonly<DriverModel>, slot: number): boolean {
  return m.networks.some((n) => n.slot === slot);
}

/** Live endpoints per network when the IPAM is not ours (plugin or driver addresses: their ranges are unknown). */
export const FOREIGN_CAPACITY = 8;

/** Lowest host offset (from 2; 1 is the gateway) not used by a live endpoint of `net`, or null when full. */
export function freeOffset(net: ModelNetwork): number | null {
  const hosts = net.addressing.mode === 'default' ? 2 ** (32 - net.pool.prefix) - 2 : FOREIGN_CAPACITY + 1;
  const used = new Set(net.endpoints.map((e) => e.offset));
  for (let o = 2; o <= hosts; o++) if (!used.has(o)) return o;
  return null;
}
