/**
 * `Firewall` on iptables (the iptables-nft or legacy binary Debian ships).
 *
 * One owned chain, `CNMKIT-FORWARD`, jumped from the top of FORWARD (so it
 * works with and without dockerd, before DOCKER-USER and dockerd's isolation
 * chains). Per network, tagged `-m comment --comment cnmkit:<network>`:
 *   -i BR -o BR -j ACCEPT                                  (containers to each other)
 *   -i BR ! -o BR -j ACCEPT                                (not internal: out)
 *   -o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT  (not internal: replies)
 *   -i BR ! -o BR -j DROP, ! -i BR -o BR -j DROP          (internal; inserted first)
 * The same rules go to ip6tables when it exists. Network create/delete are
 * rare, so each change is a few one-shot execFile calls under `-w` (xtables lock).
 */
import { execFile } from 'node:child_process';
import { OWNED_LINK_PREFIX } from '../backend.js';
import { FirewallError, checkForwarding, type Firewall, type NetworkForwarding } from '../firewall.js';

export const FIREWALL_CHAIN = 'CNMKIT-FORWARD';
const TAG_PREFIX = 'cnmkit:';
const JUMP_TAG = 'cnmkit';

export interface IptablesFirewallOptions {
  /** Network namespace to act in (`ip netns` name or netns file); default: this process's. */
  readonly netns?: string;
  /** Also program ip6tables (default: when the binary exists). */
  readonly ipv6?: boolean;
  readonly ownedPrefix?: string;
}

interface Run {
  ok: boolean;
  out: string;
  err: string;
}

export class IptablesFirewall implements Firewall {
  readonly kind = 'iptables';
  private readonly ownedPrefix: string;
  private tools: Promise<string[]> | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: IptablesFirewallOptions = {}) {
    this.ownedPrefix = opts.ownedPrefix ?? OWNED_LINK_PREFIX;
  }

  private exec(tool: string, args: readonly string[]): Promise<Run> {
    const ns = this.opts.netns;
    const file = ns === undefined ? tool : 'nsenter';
    const argv = ns === undefined ? [...args] : [`--net=${ns.includes('/') ? ns : `/run/netns/${ns}`}`, '--', tool, ...args];
    return new Promise((resolve) => {
      execFile(file, argv, (e, out, err) => resolve({ ok: e === null, out, err: err.trim() || (e?.message ?? '') }));
    });
  }

  private async must(tool: string, args: readonly string[]): Promise<string> {
    const r = await this.exec(tool, ['-w', ...args]);
    if (!r.ok) throw new FirewallError(`${tool} ${args.join(' ')}: ${r.err}`);
    return r.out;
  }

  /** iptables, plus ip6tables when present and wanted. */
  private async binaries(): Promise<string[]> {
    this.tools ??= (async () => {
      const list = ['iptables'];
      if (this.opts.ipv6 !== false && (await this.exec('ip6tables', ['-w', '-S', 'FORWARD'])).ok) list.push('ip6tables');
      return list;
    })();
    return this.tools;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async ensureChain(tool: string): Promise<void> {
    if (!(await this.exec(tool, ['-w', '-S', FIREWALL_CHAIN])).ok) await this.must(tool, ['-N', FIREWALL_CHAIN]);
    const jump = ['FORWARD', '-m', 'comment', '--comment', JUMP_TAG, '-j', FIREWALL_CHAIN];
    if (!(await this.exec(tool, ['-w', '-C', ...jump])).ok) await this.must(tool, ['-I', jump[0], '1', ...jump.slice(1)]);
  }

  /** `-S CHAIN` lines carrying the network's tag, as deletable rule specs. */
  private async taggedRules(tool: string, network: string | null): Promise<string[][]> {
    const r = await this.exec(tool, ['-w', '-S', FIREWALL_CHAIN]);
    if (!r.ok) return [];
    const out: string[][] = [];
    for (const line of r.out.split('\n')) {
      if (!line.startsWith(`-A ${FIREWALL_CHAIN} `)) continue;
      const m = / --comment "?cnmkit:([A-Za-z0-9_.-]+)"?/.exec(line);
      if (m === null || (network !== null && m[1] !== network)) continue;
      // Our own rules never contain quotes or spaces inside arguments, so splitting is exact.
      out.push(line.replace(/"/g, '').split(' ').slice(2));
    }
    return out;
  }

  /** The network's rules as `-A CHAIN` specs, in chain order. */
  private specs(rule: NetworkForwarding): string[][] {
    const tag = ['-m', 'comment', '--comment', `${TAG_PREFIX}${rule.network}`];
    const br = rule.bridge;
    if (rule.internal) {
      return [
        ['-i', br, '-o', br, ...tag, '-j', 'ACCEPT'],
        ['!', '-i', br, '-o', br, ...tag, '-j', 'DROP'],
        ['-i', br, '!', '-o', br, ...tag, '-j', 'DROP'],
      ];
    }
    return [
      ['-i', br, '-o', br, ...tag, '-j', 'ACCEPT'],
      ['-i', br, '!', '-o', br, ...tag, '-j', 'ACCEPT'],
      ['-o', br, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...tag, '-j', 'ACCEPT'],
    ];
  }

  allowNetwork(rule: NetworkForwarding): Promise<void> {
    checkForwarding(rule, this.ownedPrefix);
    return this.serial(async () => {
      const want = this.specs(rule);
      const key = (xs: string[][]): string => xs.map((x) => x.join(' ')).sort().join('\n');
      for (const tool of await this.binaries()) {
        await this.ensureChain(tool);
        const have = await this.taggedRules(tool, rule.network);
        // Already right (a restart adopting its networks): touch nothing, drop no packet.
        if (key(have) === key(want)) continue;
        // Internal networks' DROPs go first, ahead of other networks' ACCEPTs; new rules
        // go in before the old ones leave, so traffic that stays allowed never stops.
        if (rule.internal) for (const spec of [...want].reverse()) await this.must(tool, ['-I', FIREWALL_CHAIN, '1', ...spec]);
        else for (const spec of want) await this.must(tool, ['-A', FIREWALL_CHAIN, ...spec]);
        for (const spec of have) await this.must(tool, ['-D', FIREWALL_CHAIN, ...spec]);
      }
    });
  }

  removeNetwork(network: string): Promise<void> {
    return this.serial(async () => {
      for (const tool of await this.binaries()) {
        for (const spec of await this.taggedRules(tool, network)) await this.must(tool, ['-D', FIREWALL_CHAIN, ...spec]);
      }
    });
  }

  listNetworks(): Promise<NetworkForwarding[]> {
    return this.serial(async () => {
      const found = new Map<string, { bridge: string; internal: boolean }>();
      for (const spec of await this.taggedRules('iptables', null)) {
        const tag = spec[spec.indexOf('--comment') + 1].slice(TAG_PREFIX.length);
        const i = spec.indexOf('-i');
        const o = spec.indexOf('-o');
        const bridge = i >= 0 ? spec[i + 1] : spec[o + 1];
        const prev = found.get(tag);
        found.set(tag, { bridge, internal: (prev?.internal ?? false) || spec.includes('DROP') });
      }
      return [...found].map(([network, v]) => ({ network, bridge: v.bridge, internal: v.internal }));
    });
  }

  removeAll(): Promise<void> {
    return this.serial(async () => {
      for (const tool of await this.binaries()) {
        const jump = ['FORWARD', '-m', 'comment', '--comment', JUMP_TAG, '-j', FIREWALL_CHAIN];
        while ((await this.exec(tool, ['-w', '-D', ...jump])).ok) {
          /* a jump may have been added twice by concurrent starts */
        }
        if ((await this.exec(tool, ['-w', '-S', FIREWALL_CHAIN])).ok) {
          await this.must(tool, ['-F', FIREWALL_CHAIN]);
          await this.must(tool, ['-X', FIREWALL_CHAIN]);
        }
      }
    });
  }

  async close(): Promise<void> {
    await this.chain;
  }
}

export function createIptablesFirewall(opts: IptablesFirewallOptions = {}): IptablesFirewall {
  return new IptablesFirewall(opts);
}
