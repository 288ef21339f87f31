/**
 * The `ipam` suite: IPAM plugins checked against a spec-level model
 * (model-based, shrinking), plus deterministic, concurrency and compat checks.
 */
import type { Suite } from '../types.js';
import { addressOrderCompat, errorTextCompat, poolIdCompat } from './compat-checks.js';
import { ipamBlindSpotChecks } from './blind-spot-checks.js';
import { concurrentLinearizable, concurrentNoDuplicate, concurrentPreferredExclusive } from './concurrency-checks.js';
import { IpamIds } from './ids.js';
import { modelCheck } from './model-check.js';
import {
  addressSpacesIndependent,
  autoPool,
  identicalPoolRequest,
  releaseUnknownHarmless,
  requestOptionsTolerated,
  subPoolGranted,
  subPoolWithoutPool,
  unknownPoolRefused,
} from './pool-checks.js';

const MODEL = 'model-based';

export const ipamModelChecks = [
  modelCheck({
    id: IpamIds.requestPool,
    title: 'An explicit free pool is granted as requested',
    level: 'must',
    reason: `protocol.md §2.3 (RequestPool): the reply Pool must be the requested --subnet and parse as a CIDR, PoolID non-empty and unique among live pools. Another pool is reported and then checked as returned; a plugin that grants no explicit pool is checked with automatic pools (Pool "") or skipped (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.noDuplicate,
    title: 'No address is handed out twice',
    level: 'must',
    reason: `ipam-semantics.md §2.1-2.2: one bitmap per pool; an allocated address is never returned again until released (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.inPool,
    title: 'Every address lies inside its pool',
    level: 'must',
    reason: `protocol.md §2.3 (RequestAddress) / ipam-semantics.md §2.2 step 4: addresses come from the pool; an outside address is unroutable on the network (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.cidrReply,
    title: 'RequestAddress answers a CIDR',
    level: 'must',
    reason: `protocol.md §2.3 (RequestAddress): Address must be a CIDR ("10.0.0.5/24"); a bare IP fails with "invalid CIDR address" (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.prefixLength,
    title: "Addresses carry the pool's prefix length",
    level: 'should',
    reason: `ipam-semantics.md §2.2 step 8: the address is returned with the master pool's prefix length, or /32 (/128) in the routed design; dockerd configures the container's netmask from it (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.inSubPool,
    title: 'Automatic addresses come from the sub-pool',
    level: 'should',
    reason: `protocol.md §2.3 (RequestAddress): the IPAM has to remember each pool's SubPool (--ip-range) and keep automatic picks inside it (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.noNetworkBroadcast,
    title: 'IPv4 network and broadcast addresses are never handed out',
    level: 'must',
    reason: `ipam-semantics.md §2.1: ordinal 0 and the IPv4 broadcast are reserved; a container with either address (and the pool's prefix length) cannot talk on the subnet. An address answered as its own /32 (routed design, Calico) has no network/broadcast address: accepted (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.v6Anycast,
    title: 'The IPv6 subnet-router anycast address is never handed out',
    level: 'should',
    reason: `ipam-semantics.md §1.7/§2.1: only the first IPv6 address (subnet-router anycast, RFC 4291) is reserved (${MODEL}).`,
    requires: ['ipv6'],
  }),
  modelCheck({
    id: IpamIds.preferred,
    title: 'A preferred address is honoured, or refused when in use',
    level: 'must',
    reason: `ipam-semantics.md §2.2 step 6 / protocol.md §2.3 (RequestAddress): --ip, --gateway and --aux-address ask for an exact address anywhere in the pool; it is granted exactly or refused ("Address already in use") (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.releasedAddress,
    title: 'Released addresses can be allocated again',
    level: 'must',
    reason: `ipam-semantics.md §2.4: ReleaseAddress frees the address; a release that frees nothing leaks addresses until the pool is exhausted (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.releasedPool,
    title: 'Released pools can be requested again',
    level: 'must',
    reason: `ipam-semantics.md §1.9: ReleasePool deletes the pool; a leaked pool makes the subnet unusable for every later network (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.overlap,
    title: 'Overlapping pools are refused, or never share an address',
    level: 'must',
    reason: `ipam-semantics.md §1.4: Docker refuses an explicit pool overlapping a held one ("Pool overlaps with other one on this address space"); a per-address allocator (Calico) may grant it. A granted overlapping pool is probed (addresses held in the other pool asked for in it, its automatic addresses asked for in the other pool): an address handed out through both means two networks share it (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.exhaustionError,
    title: 'A full pool answers an error',
    level: 'must',
    reason: `ipam-semantics.md §2.2 step 5/7: when no address is free the answer is an error ("No available addresses on this pool"), never another address (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.exhaustionCount,
    title: 'Every usable address can be allocated before exhaustion',
    level: 'compat',
    reason: `ipam-semantics.md §2.1: Docker hands out 2^n-2 addresses of an IPv4 pool (2^n-1 for IPv6) before reporting exhaustion (${MODEL}).`,
  }),
  modelCheck({
    id: IpamIds.gateway,
    title: 'Gateway requests are served',
    level: 'must',
    reason: `protocol.md §2.3 (RequestAddress) / §4.1: network create sends one RequestAddress with RequestAddressType=com.docker.network.gateway per pool, first, automatic or the --gateway address, and none when RequestPool Data carried a gateway; refusing it while addresses are free fails every network create (${MODEL}).`,
  }),
] as const;

export const ipamSuite: Suite = {
  id: 'ipam',
  title: 'IPAM driver',
  checks: [
    ...ipamModelChecks,
    identicalPoolRequest,
    unknownPoolRefused,
    requestOptionsTolerated,
    subPoolWithoutPool,
    subPoolGranted,
    autoPool,
    addressSpacesIndependent,
    releaseUnknownHarmless,
    concurrentNoDuplicate,
    concurrentLinearizable,
    concurrentPreferredExclusive,
    ...ipamBlindSpotChecks,
    addressOrderCompat,
    poolIdCompat,
    errorTextCompat,
  ],
};
