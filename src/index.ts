/**
 * cnmkit: simulation and conformance framework for Docker network plugins.
 * Sub-paths carry the parts: `cnmkit/protocol`, `cnmkit/sdk`, `cnmkit/client`,
 * `cnmkit/net`, `cnmkit/ipam`, `cnmkit/driver`, `cnmkit/backend` (the contract),
 * `cnmkit/backend/virtual`, `cnmkit/backend/linux`, `cnmkit/conformance`.
 */
export { CnmkitError, ValidationError, UsageError } from './errors.js';
export { servePlugin, createPluginHandler, PluginError } from './sdk/index.js';
export { connect } from './client/index.js';
export { createIpam } from './ipam/index.js';
export { createReferenceDriver } from './driver/index.js';
export { createReferencePlugin, type ReferencePlugin, type ReferencePluginOptions } from './reference/plugin.js';
