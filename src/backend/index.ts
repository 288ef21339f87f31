/** Backends: the contract (`Backend`) and the in-memory model. */
export * from './backend.js';
