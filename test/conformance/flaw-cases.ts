/**
 * The broken fixtures and the check each must be caught by: one table for the
 * tests (broken-ipam, driver-broken) and for the many-seed sweep (flaw-sweep.ts).
 */
import { IpamIds } from '../../conformance/ipam/ids.js';
import type { DriverFlaw } from './driver-plugins/flawed-driver.js';
import type { Flaw } from './plugins/mini-ipam.js';

/** A flaw of the mini IPAM, its check, and the most steps its shrunk counterexample has at seed 7. */
export const ipamFlawCases: { flaw: Flaw; check: string; maxSteps?: number }[] = [
  { flaw: 'accept-overlap', check: IpamIds.overlap, maxSteps: 2 },
  { flaw: 'cursor-wrap-duplicate', check: IpamIds.noDuplicate, maxSteps: 3 },
  { flaw: 'network-broadcast', check: IpamIds.noNetworkBroadcast, maxSteps: 2 },
  { flaw: 'ignore-preferred', check: IpamIds.preferred, maxSteps: 3 },
  { flaw: 'release-noop', check: IpamIds.releasedAddress, maxSteps: 4 },
  { flaw: 'pool-never-freed', check: IpamIds.releasedPool, maxSteps: 3 },
  { flaw: 'bare-ip', check: IpamIds.cidrReply, maxSteps: 2 },
  { flaw: 'ignore-subpool', check: IpamIds.inSubPool, maxSteps: 2 },
  { flaw: 'full-returns-duplicate', check: IpamIds.exhaustionError, maxSteps: 2 },
  { flaw: 'race', check: 'ipam.concurrent-no-duplicate' },
  { flaw: 'race', check: 'ipam.concurrent-preferred-exclusive' },
  { flaw: 'release-wraps', check: 'ipam.release-unknown-harmless' },
];

/** [flaw of the flawed driver, the model check that catches it, its message] */
export const driverFlawCases: Array<[DriverFlaw, string, RegExp]> = [
  ['echo-address', 'driver.no-echo', /answered Address/],
  ['long-ifname', 'driver.interface-name', /17 bytes/],
  ['invalid-mac', 'driver.mac-valid', /not a 48-bit MAC/],
  ['duplicate-mac', 'driver.mac-unique', /already the MAC/],
  ['gateway-outside', 'driver.join-gateway', /outside the endpoint's subnet/],
  ['gateway-mask', 'driver.join-gateway', /not a bare IP address/],
  ['delete-leaves-endpoint', 'driver.delete-undoes', /after its DeleteEndpoint was refused/],
  // dockerd never sends Options null (the old crash-null-options flaw was no bug); real port entries are what it sends.
  ['crash-port-entries', 'driver.lifecycle-accepted', /with published ports was refused/],
  ['operinfo-404', 'driver.endpoint-oper-info', /EndpointOperInfo/],
  ['lazy-networks', 'driver.unknown-ids', /unknown network/],
  ['route-hardcoded-hop', 'driver.static-routes', /not on the endpoint's subnet/],
  // Endpoint ids sharing their first 7 characters (as random ids do on a busy host) get one host link.
  ['short-link-names', 'driver.interface-name-unique', /already the SrcName of joined endpoint/],
];
