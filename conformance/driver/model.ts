/**
 * What the driver model knows: the networks and endpoints dockerd believes
 * exist, their addresses (chosen here, as dockerd's IPAM would), which
 * endpoints are joined and what the plugin said about them. It knows nothing
 * about how a driver builds links; only what dockerd relies on.
 */
import type { Cidr } from '../cidr.js';

export interface ModelEndpoint {
  readonly id: string;
  /** `10.199.0.2/28`: the Interface.Address dockerd sends. */
  readonly address: string;
  readonly offset: number;
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
  /** Gateway from "IPAM" (bare IPv4), offset 1 of the pool. */
  readonly gateway: string;
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

/** Lowest host offset (from 2; 1 is the gateway) not used by a live endpoint of `net`, or null when full. */
export function freeOffset(net: ModelNetwork, hosts: number): number | null {
  const used = new Set(net.endpoints.map((e) => e.offset));
  for (let o = 2; o <= hosts; o++) if (!used.has(o)) return o;
  return null;
}
