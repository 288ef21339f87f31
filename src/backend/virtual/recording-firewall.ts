/** The virtual `Firewall`: keeps what the driver asked for, for tests and the simulator. */
import { checkForwarding, type Firewall, type NetworkForwarding } from '../firewall.js';

/** In-memory firewall: remembers what was asked, in order. */
export class RecordingFirewall implements Firewall {
  readonly kind = 'virtual';
  private readonly rules = new Map<string, NetworkForwarding>();
  /** Every call, for tests (`allow <net>`, `remove <net>`, `removeAll`). */
  readonly log: string[] = [];

  constructor(private readonly ownedPrefix = 'cnm-') {}

  async allowNetwork(rule: NetworkForwarding): Promise<void> {
    checkForwarding(rule, this.ownedPrefix);
    this.rules.set(rule.network, { network: rule.network, bridge: rule.bridge, internal: rule.internal });
    this.log.push(`allow ${rule.network}`);
  }

  async removeNetwork(network: string): Promise<void> {
    this.rules.delete(network);
    this.log.push(`remove ${network}`);
  }

  async listNetworks(): Promise<NetworkForwarding[]> {
    return [...this.rules.values()];
  }

  async removeAll(): Promise<void> {
    this.rules.clear();
    this.log.push('removeAll');
  }

  async close(): Promise<void> {}
}
