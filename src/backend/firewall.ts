/**
 * The `Firewall` contract: the forwarding rules a bridge network needs on a
 * host where dockerd set the FORWARD policy to DROP (with bridge netfilter on,
 * even traffic between two ports of one bridge passes FORWARD).
 *
 * Per network the driver asks for exactly: containers on the bridge reach each
 * other; unless internal, they reach the outside and replies come back;
 * internal networks are cut off from other interfaces. Every rule is tagged
 * `cnmkit:<network>` so it is recognisable and removed by tag.
 *
 * Two implementations: `RecordingFirewall` (src/backend/virtual; keeps what
 * was asked, for tests and the simulator) and `IptablesFirewall`
 * (src/backend/linux).
 */
import { CnmkitError } from '../errors.js';
import { linkNameProblem } from './backend.js';

/** What one network needs. */
export interface NetworkForwarding {
  /** Network id (the tag); 1..64 of `[A-Za-z0-9_.-]`. */
  readonly network: string;
  /** The network's bridge (an owned link name). */
  readonly bridge: string;
  /** `--internal`: no traffic between the bridge and any other interface. */
  readonly internal: boolean;
}

export interface Firewall {
  /** `virtual` or `iptables`. */
  readonly kind: string;
  /** Installs (or replaces) the network's rules. Idempotent. */
  allowNetwork(rule: NetworkForwarding): Promise<void>;
  /** Removes every rule tagged with the network. Unknown network: no-op. */
  removeNetwork(network: string): Promise<void>;
  /** Networks that have rules now (from the tags): what a restart finds. */
  listNetworks(): Promise<NetworkForwarding[]>;
  /** Removes all rules and the owned chain (shutdown without state, cleanup after a crash). */
  removeAll(): Promise<void>;
  close(): Promise<void>;
}

/** A firewall request was malformed or the rules could not be applied. */
export class FirewallError extends CnmkitError {
  declare readonly code: 'E_FIREWALL';
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_FIREWALL', message, options);
  }
}

const NETWORK_TAG = /^[A-Za-z0-9_.-]{1,64}$/;

/** Throws FirewallError unless the request is safe to turn into rules. */
export function checkForwarding(rule: NetworkForwarding, ownedPrefix: string): void {
  if (typeof rule.network !== 'string' || !NETWORK_TAG.test(rule.network)) throw new FirewallError(`bad network tag "${String(rule.network)}"`);
  const problem = typeof rule.bridge === 'string' ? linkNameProblem(rule.bridge) : 'not a string';
  if (problem !== null || !/^[A-Za-z0-9_.-]+$/.test(rule.bridge)) throw new FirewallError(`bad bridge name "${String(rule.bridge)}": ${problem ?? 'unexpected characters'}`);
  if (!rule.bridge.startsWith(ownedPrefix)) throw new FirewallError(`bridge "${rule.bridge}" is not owned (prefix ${ownedPrefix})`);
  if (typeof rule.internal !== 'boolean') throw new FirewallError('internal must be a boolean');
}
