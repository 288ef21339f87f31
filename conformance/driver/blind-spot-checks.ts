/**
 * The driver checks for bugs real network drivers have that plain lifecycles
 * miss (issue 12 §5): parallel network creates with per-network options,
 * interleaved Join/Leave, endpoint ids sharing a prefix, re-used and stale
 * ids, and the option shapes dockerd really sends.
 */
import type { Check } from '../types.js';
import { optionShapes, rareOptionShapes } from './option-shape-checks.js';
import { longIdPrefixCompat, staleIds, twinDeleteIsolated } from './stale-id-checks.js';
import { concurrentNetworks, interleavedJoinLeave } from './storm-checks.js';

export const driverBlindSpotChecks: readonly Check[] = [concurrentNetworks, interleavedJoinLeave, twinDeleteIsolated, staleIds, optionShapes, rareOptionShapes, longIdPrefixCompat];
