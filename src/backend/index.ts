/**
 * The backend contract: the `Backend` and `Firewall` interfaces, their types
 * and errors. The implementations have entries of their own:
 * `cnmkit/backend/virtual` (in memory) and `cnmkit/backend/linux` (the kernel).
 */
export * from './backend.js';
export * from './firewall.js';
