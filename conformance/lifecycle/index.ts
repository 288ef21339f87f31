/** The `lifecycle` suite: dockerd's call sequences (daemon simulator) against the plugin under test. */
import type { Suite } from '../types.js';
import { containerRunStop, daemonCrash, dualStack, fixedIp, networkCreateRm, rollbacks } from './checks.js';
import { restartKeepsState } from './restart.js';

export { StandInHost, openHarness, hostIn, type Harness } from './harness.js';

export const lifecycleSuite: Suite = {
  id: 'lifecycle',
  title: 'Docker lifecycles',
  checks: [networkCreateRm, containerRunStop, fixedIp, dualStack, rollbacks, daemonCrash, restartKeepsState],
};
