export * from './constants.js';
export * from './schema.js';
export * from './messages.js';
export * from './methods.js';
export * from './api.js';
export { CnmkitError, ValidationError, UsageError } from '../errors.js';
export * from './arbitrary.js';
export * from './raw.js';
