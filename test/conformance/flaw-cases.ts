/**
 * The broken fixtures and the check each must be caught by: one table for the
 * tests (broken-ipam, driver-broken) and for the many-seed sweep (flaw-sweep.ts).
 */
import { IpamIds } from '../../conformance/ipam/ids.js';
import type { DriverFlaw } from './driver-plugins/flawed-driver.js';
import type { RacyFlaw } from './driver-plugins/racy-driver.js';
import type { IpamFlaw } from './plugins/ipam-flaws.js';
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

/** Flaws of the blind-spot IPAM (new checks of the blind-spot issue): check, most steps at seed 7, what the message names. */
export const ipamBlindSpotFlawCases: { flaw: IpamFlaw; id: string; maxSteps: number; mentions: RegExp }[] = [
  { flaw: 'js-number-offsets', id: 'ipam.ipv6-large-offsets', maxSteps: 2, mentions: /fd00:c0:[0-9a-f:]*\/64 \[PoolID ipf-\d+\]/ },
  { flaw: 'js-number-keys', id: 'ipam.ipv6-large-offsets', maxSteps: 4, mentions: /never handed out.*still held/ },
  { flaw: 'pool-race', id: 'ipam.concurrent-pool-requests', maxSteps: 4, mentions: /10\.199\.\d+\.\d+\/\d+ \[PoolID ipf-\d+\].*two networks share/ },
  { flaw: 'pool-race-subnet-ids', id: 'ipam.concurrent-pool-requests', maxSteps: 7, mentions: /2 parallel RequestPool calls .* were all granted 10\.199\.\d+\.\d+\/28 \[PoolID FlawLocal\/10\.199\.\d+\.\d+\/28\], and after one ReleasePool the pool is gone/ },
  { flaw: 'release-ignores-pool', id: 'ipam.foreign-pool-release-harmless', maxSteps: 5, mentions: /ReleaseAddress 10\.199\.\d+\.\d+ sent with the PoolID of 10\.199\.\d+\.\d+\/28 \[PoolID ipf-\d+\]/ },
  { flaw: 'counter-restarts', id: 'ipam.pool-id-not-reissued', maxSteps: 9, mentions: /PoolID "ipf-1" of the released pool 10\.199\.\d+\.\d+\/28 was reissued for 10\.199\.\d+\.\d+\/27.*granted twice/ },
  { flaw: 'keeps-old-allocations', id: 'ipam.released-pool-starts-empty', maxSteps: 10, mentions: /still holds 10\.199\.\d+\.\d+/ },
  { flaw: 'echo-preferred', id: 'ipam.preferred-address-validated', maxSteps: 2, mentions: /RequestAddress "10\.199\.\d+" \(preferred gateway, malformed\) on 10\.199\.\d+\.\d+\/28 \[PoolID ipf-\d+\]/ },
  { flaw: 'auto-v6-first-base', id: 'ipam.auto-pool-v6', maxSteps: 6, mentions: /Pool "fd00:f1::\/64" \[PoolID ipf-\d+\], overlapping the pool fd00:f1::\/64 \[PoolID ipf-\d+\] still held/ },
  { flaw: 'auto-v6-ignores-flag', id: 'ipam.auto-pool-v6', maxSteps: 1, mentions: /V6=true\) answered Pool "10\.251\.0\.0\/24" \[PoolID ipf-\d+\]: an IPv4 pool/ },
];

/** [flaw, the check that catches it, its message, most steps of the shrunk counterexample, what else may fail (compat)] */
export const racyDriverFlawCases: Array<[RacyFlaw, string, RegExp, number]> = [
  ['shared-current-network', 'driver.concurrent-networks', /answered Gateway .* which belongs to network [0-9a-f]{12} \(pool .*created at the same time/, 6],
  ['leave-counter-race', 'driver.interleaved-join-leave', /endpoints [0-9a-f]{12} \(.*\) and [0-9a-f]{12} \(.*\) are both joined with SrcName rc/, 5],
  ['prefix-delete', 'driver.twin-delete-isolated', /deleting endpoint [0-9a-f]{16} \(ids share the first 7 characters\) removed what belongs to live, joined endpoint [0-9a-f]{16} \(10\./, 6],
  ['links-by-12', 'driver.long-id-prefix-compat', /both joined with SrcName dh-[0-9a-f]{12}.*share the first 12 characters/, 2],
  ['delete-network-keeps-state', 'driver.stale-ids', /on re-created network [0-9a-f]{12} answered Gateway .* on the deleted network's pool/, 5],
  ['crash-aux-array', 'driver.option-shapes', /CreateNetwork on pool .* with AuxAddresses \{"host1": "10\.[0-9.]+\/28"\}: the plugin dropped the connection/, 1],
  ['crash-portmap', 'driver.option-shapes', /ProgramExternalConnectivity of [0-9a-f]{12} with Options .*"HostPort":8080.*dropped the connection/, 4],
  ['crash-no-gateway', 'driver.rare-option-shapes', /CreateNetwork [0-9a-f]{12} \(IPv4Data .* without Gateway\).*dropped the connection/, 2],
];
