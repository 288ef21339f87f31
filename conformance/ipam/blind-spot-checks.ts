/**
 * The IPAM checks for bugs real IPAM plugins have had that the model does not
 * reach (issue 12): IPv6 at real sizes, RequestPool storms, stale and foreign
 * PoolIDs, pools released with addresses held, bad preferred addresses, restarts.
 */
import type { Check } from '../types.js';
import { autoPoolV6, ipv6LargeOffsets } from './ipv6-size-checks.js';
import { concurrentPoolRequests } from './pool-storm-checks.js';
import { restartKeepsAllocations } from './restart-check.js';
import { foreignPoolRelease, poolIdNotReissued, preferredAddressValidated, releasedPoolStartsEmpty } from './stale-id-checks.js';

export const ipamBlindSpotChecks: readonly Check[] = [
  ipv6LargeOffsets,
  autoPoolV6,
  concurrentPoolRequests,
  foreignPoolRelease,
  poolIdNotReissued,
  releasedPoolStartsEmpty,
  preferredAddressValidated,
  restartKeepsAllocations,
];
