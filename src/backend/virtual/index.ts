/** The virtual backend: in-memory, kernel-faithful, the default. */
export { VirtualBackend, type VirtualBackendOptions, type FaultSpec } from './virtual-backend.js';
export { diffSnapshots, renderSnapshot, formatRoute, type VirtualSnapshot, type NamespaceSnapshot, type LinkSnapshot } from './snapshot.js';
export { RecordingFirewall } from './recording-firewall.js';
