/**
 * The driver's index of what is in use across all its networks: link names
 * (bridges, both veth ends), MACs (endpoints and bridges) and endpoint ids.
 * It picks free bridge and veth names and MACs. The networks map stays the
 * source of truth; the index is rebuilt from it after an import.
 */
import { formatMac, randomLinkMac, type Ip } from '../net/index.js';
import { DriverError } from './errors.js';
import { bridgeName, vethNames } from './names.js';
import type { EndpointRecord, NetworkRecord } from './state.js';

export class LinkIndex {
  private names = new Set<string>();
  private macs = new Set<string>();
  private endpointIds = new Set<string>();
  private bridgeNameCache: Set<string> | null = null;

  constructor(
    private readonly networks: () => Iterable<NetworkRecord>,
    private readonly random: (size: number) => Uint8Array,
  ) {}

  /** Forget everything and index the networks again (after importState). */
  rebuild(): void {
    this.names = new Set();
    this.macs = new Set();
    this.endpointIds = new Set();
    this.bridgeNameCache = null;
    for (const n of this.networks()) {
      if (n.bridgeMac !== undefined) this.macs.add(n.bridgeMac);
      for (const ep of Object.values(n.endpoints)) this.addEndpoint(ep);
    }
  }

  addNetwork(n: NetworkRecord): void {
    this.bridgeNameCache = null;
    if (n.bridgeMac !== undefined) this.macs.add(n.bridgeMac);
  }

  removeNetwork(n: NetworkRecord): void {
    this.bridgeNameCache = null;
    if (n.bridgeMac !== undefined) this.macs.delete(n.bridgeMac);
  }

  addEndpoint(ep: EndpointRecord): void {
    this.names.add(ep.hostVeth).add(ep.srcName);
    this.macs.add(ep.mac);
    this.endpointIds.add(ep.id);
  }

  removeEndpoint(ep: EndpointRecord): void {
    this.names.delete(ep.hostVeth);
    this.names.delete(ep.srcName);
    this.macs.delete(ep.mac);
    this.endpointIds.delete(ep.id);
  }

  /** False when no network holds an endpoint with this id (true may be stale: then scan the networks). */
  mayHaveEndpoint(id: string): boolean {
    return this.endpointIds.has(id);
  }

  pickBridgeName(id: string, explicit: string | null): string {
    const used = this.bridgeNames();
    if (explicit !== null) {
      if (used.has(explicit)) {
        const owner = [...this.networks()].find((n) => n.bridge === explicit)!;
        throw new DriverError('E_DRIVER_CONFLICT', `bridge name ${explicit} is already used by network ${owner.id}`);
      }
      return explicit;
    }
    for (let attempt = 0; attempt < 8; attempt++) {
      const name = bridgeName(id, attempt);
      if (!used.has(name)) return name;
    }
    throw new DriverError('E_DRIVER_CONFLICT', `no free bridge name for network ${id}`);
  }

  pickVethNames(epId: string): [string, string] {
    // A user-chosen bridge name (`cnm-h…`) could look like a veth name: check bridges too.
    const bridges = this.bridgeNames();
    const taken = (n: string): boolean => this.names.has(n) || bridges.has(n);
    for (let attempt = 0; attempt < 8; attempt++) {
      const names = vethNames(epId, attempt);
      if (!taken(names[0]) && !taken(names[1])) return names;
    }
    throw new DriverError('E_DRIVER_CONFLICT', `no free veth names for endpoint ${epId}`);
  }

  /** `02:42:` + the IPv4 bytes (Docker 20.10's rule) when unused, else a random unused one. */
  generateMac(address: Ip | null): string {
    const used = this.macs;
    if (address !== null) {
      const v = address.value as number;
      const derived = formatMac(Uint8Array.of(0x02, 0x42, v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255));
      if (!used.has(derived)) return derived;
    }
    for (let attempt = 0; attempt < 64; attempt++) {
      const mac = randomLinkMac(this.random(6));
      if (!used.has(mac)) return mac;
    }
    throw new DriverError('E_DRIVER_CONFLICT', 'could not find an unused MAC address (is the random source constant?)');
  }

  /** The bridges' names, cached until the set of networks changes. */
  private bridgeNames(): ReadonlySet<string> {
    return (this.bridgeNameCache ??= new Set(Array.from(this.networks(), (n) => n.bridge)));
  }
}
