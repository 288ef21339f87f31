/** The reference IPAM: Docker 20.10's default IPAM semantics, fast and durable. */
export { createIpam, type IpamOptions, type MemoryIpamOptions, type ReferenceIpam, type SyncReferenceIpam, type JournalStats } from './reference.js';
export type { PoolInfo, AddressRun, IpamStats } from './allocator.js';
export type { RecoveryReport } from './journal.js';
export { IpamError, IpamStateError, AddressPoolsError, type DockerErrorClass, type IpamErrorCode, type IpamProfile } from './errors.js';
export { parseAddressPoolFlag, DOCKER_LOCAL_POOLS, DOCKER_GLOBAL_POOLS, type AddressPoolSpec } from './predefined.js';
export {
  loadScenarioFiles,
  validateScenarioFile,
  runScenario,
  matchesPartial,
  ipamFixturesDir,
  ScenarioFormatError,
  SCENARIO_CALLS,
  type Scenario,
  type ScenarioFile,
  type ScenarioStep,
  type ScenarioCall,
  type ScenarioOptions,
  type ScenarioTarget,
  type StepFailure,
} from './scenarios.js';
