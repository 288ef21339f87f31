/** The daemon simulator: dockerd's call sequences, rollbacks and sandbox work against any plugin. */
export { createDaemon, type SimulatedDaemon, type SwarmNodeDaemon } from './daemon.js';
export { createSwarm, type Swarm, type SwarmCallLogEntry, type SwarmHostSpec, type SwarmNetworkCreateSpec, type SwarmNetworkView, type SwarmOptions, type SwarmTaskSpec } from './swarm.js';
export { SERIAL_OPTION } from './swarm-allocator.js';
export { DaemonError, DaemonUsageError, type DaemonOperation, type DaemonStep } from './errors.js';
export { faultyCaller, type Fault, type FaultRule, type FaultyCaller, type InjectedFault } from './faulty.js';
export { inProcessPlugin, type InProcessPlugin, type InProcessPluginOptions } from './inprocess.js';
export { createNullIpam, NULL_ADDRESS_SPACE, NULL_POOL, NULL_POOL_ID } from './null-ipam.js';
export { createIdGenerator, type IdGenerator } from './ids.js';
export { summarizeCalls } from './summary.js';
export type * from './types.js';
/** Short name used by callers. */
export type { SimulatedDaemon as Daemon } from './daemon.js';
