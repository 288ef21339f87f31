/**
 * The `multi` suite: several targets checked as instances of one plugin on
 * different hosts (`cnmkit check --socket A --socket B ...`). Instance A is the
 * runner's own target; the checks reach the others through the peers given to
 * `multiSuite()`. Everything runs in the global address space: LocalDefault
 * pools are legitimately per host.
 */
import type { Suite } from '../types.js';
import { modelCheck } from './model-check.js';
import { restartOneInstanceCheck } from './restart-check.js';
import { globalSpaceCheck, type MultiTargets, poolUsedEverywhereCheck, releaseSeenEverywhereCheck } from './shared-pool-checks.js';
import { stormLinearizableCheck, stormNoDuplicateCheck } from './storm-checks.js';

export const MULTI_SUITE_ID = 'multi';

export function multiSuite(targets: MultiTargets): Suite {
  return {
    id: MULTI_SUITE_ID,
    title: 'Instances on several hosts',
    checks: [
      globalSpaceCheck(targets),
      poolUsedEverywhereCheck(targets),
      releaseSeenEverywhereCheck(targets),
      modelCheck(targets),
      stormNoDuplicateCheck(targets),
      stormLinearizableCheck(targets),
      restartOneInstanceCheck(targets),
    ],
  };
}
