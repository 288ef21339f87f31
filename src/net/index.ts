/**
 * Address math shared by every layer: IP addresses, prefixes and networks as
 * Go's `net` package reads and prints them, and Ethernet MAC addresses. A leaf
 * module: it imports nothing from cnmkit, so the IPAM, the driver, the
 * backends, the daemon simulator and the conformance checks can all use it
 * without depending on each other.
 */
export * from './ip.js';
export * from './prefix.js';
export * from './mac.js';
