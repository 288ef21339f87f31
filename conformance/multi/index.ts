/**
 * The `multi` suite: several targets checked as instances of one plugin on
 * different hosts (`cnmkit check --socket A --socket B ...`). Instance A is the
 * runner's own target; the checks reach the others through the peers given to
 * `multiSuite()`. Everything runs in the global address space: LocalDefault
 * pools are legitimately per host.
 */
export { MULTI_SUITE_ID, multiSuite } from './suite.js';
export { instanceLabel, replayInstances, runInstances, type InstancesOptions } from './run.js';
export { restartCommandsFor } from './restart-cmds.js';
export type { MultiPeer } from './instances.js';
export type { MultiTargets } from './shared-pool-checks.js';
