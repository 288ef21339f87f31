/** The reference network driver (bridge-style) over the Backend contract. */
export { createReferenceDriver, openReferenceDriver, type ReferenceDriver, type ReferenceDriverOptions } from './reference-driver.js';
export { DriverError, type DriverErrorCode } from './errors.js';
export { DriverOptions, DEFAULT_DST_PREFIX, parseNetworkConfig, type NetworkConfig, type PoolConfig } from './options.js';
export { bridgeName, vethNames } from './names.js';
export {
  DRIVER_STATE_VERSION,
  DRIVER_STATE_FILE,
  createFileStateStore,
  createMemoryStateStore,
  type DriverState,
  type DriverStateStore,
  type EndpointRecord,
  type NetworkRecord,
  type NodeRecord,
} from './state.js';
