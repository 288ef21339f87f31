/**
 * The network-driver side of a live session as a spec-level model: which
 * networks and endpoints dockerd made, what each endpoint's addresses and MAC
 * are, which endpoints are joined under which SrcName. It judges the replies
 * with the same pure rules `cnmkit check` uses (driver/rules.ts) and only
 * what breaks dockerd (protocol.md §2.2, §4): echoed Interface fields,
 * unusable MACs, names and gateways, duplicate names/MACs/addresses among
 * live objects, refused teardown of objects dockerd made.
 */
import { addressPart } from '../../src/net/index.js';
import { parseCidr, parseIp } from '../cidr.js';
import { gatewayProblem, ifNameProblem, looksRouted, macProblem, normalMac, routeProblem, subnetOf, type RouteLike } from '../driver/rules.js';
import type { LiveViolation } from './types.js';

interface NetworkRec {
  readonly id: string;
  readonly seq: number;
  /** Gateways dockerd got from IPAM (bare IPs), for the compat comparison. */
  readonly gateways: readonly string[];
  readonly endpoints: Set<string>;
}

interface JoinRec {
  readonly seq: number;
  readonly srcName: string;
  readonly routed: boolean;
}

interface EndpointRec {
  readonly nid: string;
  readonly eid: string;
  readonly seq: number;
  readonly address: string;
  readonly addressV6: string;
  readonly mac: string;
  /** Whether the driver chose the IPv4 address (null IPAM). */
  readonly driverAddress: boolean;
  joined: JoinRec | null;
  /** EndpointOperInfo after the latest Join already answered. */
  operInfoSeen: boolean;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export interface DriverModelOptions {
  /** docker-20.10: an EndpointOperInfo error right after Join fails the container start (protocol.md §1.6). */
  readonly operInfoFatal: boolean;
}

export class LiveDriverModel {
  private networks = new Map<string, NetworkRec>();
  private endpoints = new Map<string, EndpointRec>();
  /** Endpoints whose Leave/DeleteEndpoint or whose network's DeleteNetwork is in flight. */
  private leaving = new Map<string, number>();

  constructor(private readonly opts: DriverModelOptions) {}

  reset(): void {
    this.networks.clear();
    this.endpoints.clear();
  }

  private static key(nid: string, eid: string): string {
    return `${nid}/${eid}`;
  }

  begin(method: string, req: Record<string, unknown> | null): void {
    if (req === null) return;
    if (method === 'Leave' || method === 'DeleteEndpoint') this.bump(LiveDriverModel.key(str(req['NetworkID']), str(req['EndpointID'])), 1);
    else if (method === 'DeleteNetwork') this.bump(`net:${str(req['NetworkID'])}`, 1);
  }

  private bump(k: string, by: number): void {
    const n = (this.leaving.get(k) ?? 0) + by;
    if (n <= 0) this.leaving.delete(k);
    else this.leaving.set(k, n);
  }

  private goingAway(e: EndpointRec): boolean {
    return this.leaving.has(LiveDriverModel.key(e.nid, e.eid)) || this.leaving.has(`net:${e.nid}`);
  }

  end(seq: number, method: string, req: Record<string, unknown> | null, reply: Record<string, unknown> | null, ok: boolean, status: number | null): LiveViolation[] {
    const out: LiveViolation[] = [];
    if (req === null) return out;
    const nid = str(req['NetworkID']);
    const eid = str(req['EndpointID']);
    const k = LiveDriverModel.key(nid, eid);
    switch (method) {
      case 'CreateNetwork':
        if (ok) this.createNetwork(seq, req);
        break;
      case 'DeleteNetwork': {
        this.bump(`net:${nid}`, -1);
        const n = this.networks.get(nid);
        if (n === undefined) break;
        if (!ok) {
          out.push({ rule: 'driver.delete-undoes', level: 'must', message: `DeleteNetwork of network ${short(nid)} (created by call ${n.seq}) was refused: dockerd deletes the network anyway, the driver keeps it`, context: [n.seq] });
          break;
        }
        for (const e of n.endpoints) this.endpoints.delete(LiveDriverModel.key(nid, e));
        this.networks.delete(nid);
        break;
      }
      case 'CreateEndpoint':
        if (ok) this.createEndpoint(seq, nid, eid, req, reply ?? {}, out);
        break;
      case 'DeleteEndpoint': {
        this.bump(k, -1);
        const e = this.endpoints.get(k);
        if (e === undefined) break;
        if (!ok) {
          out.push({ rule: 'driver.delete-undoes', level: 'must', message: `DeleteEndpoint of endpoint ${short(eid)} (created by call ${e.seq}) was refused: dockerd forgets it anyway, the driver keeps it`, context: [e.seq] });
          break;
        }
        this.endpoints.delete(k);
        this.networks.get(nid)?.endpoints.delete(eid);
        break;
      }
      case 'Join':
        if (ok) this.join(seq, k, req, reply ?? {}, out);
        break;
      case 'Leave': {
        this.bump(k, -1);
        const e = this.endpoints.get(k);
        if (e === undefined || e.joined === null) break;
        if (!ok) {
          out.push({ rule: 'driver.delete-undoes', level: 'must', message: `Leave of endpoint ${short(eid)} (joined by call ${e.joined.seq}) was refused: dockerd goes on with DeleteEndpoint`, context: [e.joined.seq] });
          break;
        }
        e.joined = null;
        break;
      }
      case 'EndpointOperInfo': {
        const e = this.endpoints.get(k);
        if (e === undefined || e.joined === null || e.operInfoSeen) break;
        e.operInfoSeen = true;
        if (!ok && this.opts.operInfoFatal) {
          out.push({
            rule: 'driver.endpoint-oper-info',
            level: 'must',
            message: `EndpointOperInfo right after Join answered ${status === 404 ? '404' : 'an error'}: dockerd 20.10-28.0.1 fails the container start ("Updating join info failed") and rolls it back`,
            context: [e.joined.seq],
          });
        }
        break;
      }
    }
    return out;
  }

  private createNetwork(seq: number, req: Record<string, unknown>): void {
    const nid = str(req['NetworkID']);
    const gateways: string[] = [];
    for (const list of [req['IPv4Data'], req['IPv6Data']]) {
      if (!Array.isArray(list)) continue;
      for (const d of list) {
        const gw = str(obj(d)['Gateway']);
        if (gw !== '') gateways.push(addressPart(gw));
      }
    }
    this.networks.set(nid, { id: nid, seq, gateways, endpoints: new Set() });
  }

  private createEndpoint(seq: number, nid: string, eid: string, req: Record<string, unknown>, reply: Record<string, unknown>, out: LiveViolation[]): void {
    const given = obj(req['Interface']);
    const answered = obj(reply['Interface']);
    for (const f of ['Address', 'AddressIPv6', 'MacAddress'] as const) {
      if (str(given[f]) !== '' && str(answered[f]) !== '') {
        out.push({
          rule: 'driver.no-echo',
          level: 'must',
          message: `CreateEndpoint answered Interface.${f} ${JSON.stringify(str(answered[f]))} although dockerd supplied ${JSON.stringify(str(given[f]))}: dockerd fails ("driver modified interface ...") and rolls the endpoint back, even when identical`,
        });
      }
    }
    const mac = str(given['MacAddress']) !== '' ? str(given['MacAddress']) : str(answered['MacAddress']);
    if (str(given['MacAddress']) === '' && str(answered['MacAddress']) !== '') {
      const p = macProblem(str(answered['MacAddress']));
      if (p !== null) out.push({ rule: 'driver.mac-valid', level: 'must', message: p });
    }
    let address = str(given['Address']);
    const driverAddress = address === '' && str(answered['Address']) !== '';
    if (driverAddress) {
      address = str(answered['Address']);
      if (parseCidr(address) === null) out.push({ rule: 'driver.endpoint-address', level: 'must', message: `CreateEndpoint answered Address ${JSON.stringify(address)}, not a CIDR (dockerd: "invalid CIDR address")` });
      else {
        for (const other of this.endpoints.values()) {
          if (other.nid !== nid || addressPart(other.address) !== addressPart(address) || this.goingAway(other)) continue;
          out.push({ rule: 'driver.endpoint-address', level: 'must', message: `CreateEndpoint answered Address ${address}, already the address of endpoint ${short(other.eid)} on the same network`, context: [other.seq] });
          break;
        }
      }
    }
    let addressV6 = str(given['AddressIPv6']);
    if (addressV6 === '' && str(answered['AddressIPv6']) !== '') {
      addressV6 = str(answered['AddressIPv6']);
      if (parseCidr(addressV6) === null) out.push({ rule: 'driver.endpoint-address', level: 'must', message: `CreateEndpoint answered AddressIPv6 ${JSON.stringify(addressV6)}, not a CIDR` });
    }
    const k = LiveDriverModel.key(nid, eid);
    this.endpoints.set(k, { nid, eid, seq, address, addressV6, mac, driverAddress, joined: null, operInfoSeen: false });
    this.networks.get(nid)?.endpoints.add(eid);
  }

  private join(seq: number, k: string, req: Record<string, unknown>, reply: Record<string, unknown>, out: LiveViolation[]): void {
    const e = this.endpoints.get(k);
    const names = reply['InterfaceName'] === null || reply['InterfaceName'] === undefined ? null : obj(reply['InterfaceName']);
    const srcName = names === null ? '' : str(names['SrcName']);
    const dstPrefix = names === null ? '' : str(names['DstPrefix']);
    // An empty SrcName is legal: nothing is moved (the container gets no interface from this network).
    if (srcName !== '') {
      const p = ifNameProblem(srcName, 'SrcName') ?? (dstPrefix !== '' ? ifNameProblem(`${dstPrefix}0`, 'DstPrefix + index') : null);
      if (p !== null) out.push({ rule: 'driver.interface-name', level: 'must', message: `${p}: dockerd cannot move or name the interface` });
      for (const other of this.endpoints.values()) {
        if (other === e || other.joined === null || other.joined.srcName !== srcName || this.goingAway(other)) continue;
        const eid = str(req['EndpointID']);
        // Calico and docker-net-dhcp name links by 11-12 id characters: only ids that share that many collide,
        // which dockerd's random 64-hex ids practically never do (cnmkit check: driver.long-id-prefix-compat).
        const longTwins = sharedPrefix(eid, other.eid) >= 11;
        out.push({
          rule: longTwins ? 'driver.long-id-prefix-compat' : 'driver.interface-name-unique',
          level: longTwins ? 'compat' : 'must',
          message: `Join answered SrcName ${srcName}, the name it gave endpoint ${short(other.eid)} (still joined): two containers cannot get one link${longTwins ? ` (the ids share their first ${sharedPrefix(eid, other.eid)} characters)` : ''}`,
          context: [other.joined.seq],
        });
        break;
      }
    }
    if (srcName === '' && (str(reply['Gateway']) !== '' || str(reply['GatewayIPv6']) !== '')) {
      out.push({ rule: 'driver.join-gateway', level: 'must', message: 'Join answered a gateway but no SrcName: the container gets no interface on this network, so the gateway is unreachable (the start fails)' });
    }
    if (dstPrefix !== '' && dstPrefix !== 'eth') out.push({ rule: 'driver.dst-prefix-compat', level: 'compat', message: `DstPrefix ${JSON.stringify(dstPrefix)}; Docker's drivers use "eth"` });
    const routes = Array.isArray(reply['StaticRoutes']) ? (reply['StaticRoutes'] as RouteLike[]) : [];
    const gw = str(reply['Gateway']);
    const gw6 = str(reply['GatewayIPv6']);
    let routed = false;
    if (e !== undefined) {
      const subnet = subnetOf(e.address);
      const subnet6 = subnetOf(e.addressV6);
      if (gw !== '') {
        const p = gatewayProblem(gw, subnet, addressPart(e.address), routes, 4);
        if (p !== null) out.push({ rule: 'driver.join-gateway', level: 'must', message: p, context: [e.seq] });
        const n = this.networks.get(e.nid);
        if (n !== undefined && n.gateways.length > 0 && parseIp(gw) !== null && !n.gateways.includes(gw)) {
          out.push({ rule: 'driver.dst-prefix-compat', level: 'compat', message: `Join Gateway ${gw} is not the IPAM gateway ${n.gateways.join(', ')} of the network`, context: [n.seq] });
        }
      }
      if (gw6 !== '') {
        const p = gatewayProblem(gw6, subnet6, addressPart(e.addressV6), routes, 6);
        if (p !== null) out.push({ rule: 'driver.join-gateway', level: 'must', message: p, context: [e.seq] });
      }
      for (const r of routes) {
        const dest = parseCidr(str(r.Destination));
        const p = routeProblem(r, dest !== null && dest.family === 6 ? subnet6 : subnet, routes);
        if (p !== null) out.push({ rule: 'driver.static-routes', level: 'must', message: p, context: [e.seq] });
      }
      routed = looksRouted(e.address, { Gateway: gw, StaticRoutes: routes });
      if (!routed && e.mac !== '' && macProblem(e.mac) === null) {
        for (const other of this.endpoints.values()) {
          if (other === e || other.nid !== e.nid || other.joined === null || other.joined.routed || other.mac === '' || this.goingAway(other)) continue;
          if (normalMac(other.mac) !== normalMac(e.mac)) continue;
          out.push({ rule: 'driver.mac-unique', level: 'must', message: `endpoint ${short(e.eid)} joins with MAC ${e.mac}, the MAC of joined endpoint ${short(other.eid)} on the same L2 network`, context: [other.seq, e.seq] });
          break;
        }
      }
      e.joined = { seq, srcName, routed };
      e.operInfoSeen = false;
    }
  }
}

function sharedPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function short(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}
