/** Backends: the contract (`Backend`) and the in-memory model. */
export * from './backend.js';
export * from './virtual/index.js';
export * from './firewall.js';
