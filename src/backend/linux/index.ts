/**
 * The real-kernel backend. `createLinuxBackend()` acts on the host namespace of
 * this process; `createLinuxBackend({ hostNetns: 'cnmt-x' })` lets a test-owned
 * namespace play the host. See README.md in this folder for the design.
 */
export { LinuxBackend, createLinuxBackend, type LinuxBackendOptions } from './linux-backend.js';
export { DEFAULT_SANDBOX_ROOTS, NETNS_RUN_DIR, netnsKeyProblem } from './netns.js';
export { IpSession, runIpOnce, type IpResult, type NetnsTarget } from './ip-session.js';
export { errnoFromIpText } from './errno.js';
export { IptablesFirewall, createIptablesFirewall, FIREWALL_CHAIN, type IptablesFirewallOptions } from './iptables.js';
