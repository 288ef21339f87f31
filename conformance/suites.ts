/**
 * The suites cnmkit ships, as a plain list (no global registry). To add a
 * suite: export a `Suite` value from its folder and append it here.
 */
import { driverSuite } from './driver/index.js';
import { ipamSuite } from './ipam/index.js';
import { lifecycleSuite } from './lifecycle/index.js';
import { protocolSuite } from './protocol/index.js';
import type { Suite } from './types.js';

export const ALL_SUITES: readonly Suite[] = [protocolSuite, ipamSuite, driverSuite, lifecycleSuite];
