/**
 * The iptables Firewall in a test namespace with FORWARD policy DROP and
 * netfilter on for the bridge: containers on one bridge can ping each other
 * only while the network's rules are in; the rules are tagged and go by tag.
 */
import { execFile } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOST_NAMESPACE as H } from '../../src/backend/backend.js';
import { FIREWALL_CHAIN, createIptablesFirewall, createLinuxBackend, type LinuxBackend } from '../../src/backend/linux/index.js';
import { uniqueNsKey } from './shared-suite.js';
import { makeTestHostNetns, netnsSkipReason, removeNetns } from '../helpers/netns.js';

function run(file: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => execFile(file, args, { timeout: 10_000 }, (e, out, err) => resolve({ ok: e === null, out: out + err })));
}

let skip = netnsSkipReason();
if (skip === null) {
  const probe = await run('iptables', ['-V']);
  const bb = await run('busybox', ['true']);
  if (!probe.ok) skip = 'iptables is not installed';
  else if (!bb.ok) skip = 'busybox (for ping) is not installed';
}
if (skip !== null) console.log(`iptables firewall tests skipped: ${skip}`);

describe.skipIf(skip !== null)('IptablesFirewall (test namespace, FORWARD DROP)', () => {
  let host: string;
  let b: LinuxBackend;
  const ns: string[] = [];
  beforeEach(async () => {
    host = (await makeTestHostNetns()).key;
    b = createLinuxBackend({ hostNetns: host });
    await run('ip', ['netns', 'exec', host, 'iptables', '-w', '-P', 'FORWARD', 'DROP']);
    await b.createBridge(H, 'cnm-br0');
    await b.addAddress(H, 'cnm-br0', '10.88.0.1/24');
    await b.setLinkUp(H, 'cnm-br0');
    // Bridge netfilter for this bridge only (the global sysctl is the host's).
    await run('ip', ['-n', host, 'link', 'set', 'cnm-br0', 'type', 'bridge', 'nf_call_iptables', '1']);
    for (const i of [2, 3]) {
      const k = uniqueNsKey();
      ns.push(k);
      await b.createNamespace(k);
      await b.createVethPair(H, `cnm-h${i}`, `cnm-c${i}`);
      await b.setMaster(H, `cnm-h${i}`, 'cnm-br0');
      await b.setLinkUp(H, `cnm-h${i}`);
      await b.moveLink(H, `cnm-c${i}`, k, 'eth0');
      await b.addAddress(k, 'eth0', `10.88.0.${i}/24`);
      await b.setLinkUp(k, 'eth0');
    }
  });
  afterEach(async () => {
    await b.close().catch(() => undefined);
    for (const k of ns.splice(0)) await removeNetns(k);
    await removeNetns(host);
  });

  const ping = async (from: string, to: string): Promise<boolean> =>
    (await run('ip', ['netns', 'exec', from, 'busybox', 'ping', '-c', '1', '-W', '1', to])).ok;

  it('containers reach each other only with the rules in; rules are tagged and removed by tag', async () => {
    const fw = createIptablesFirewall({ netns: host });
    expect(await ping(ns[0], '10.88.0.3')).toBe(false);
    await fw.allowNetwork({ network: 'net1', bridge: 'cnm-br0', internal: false });
    await fw.allowNetwork({ network: 'net1', bridge: 'cnm-br0', internal: false });
    expect(await ping(ns[0], '10.88.0.3')).toBe(true);
    expect(await fw.listNetworks()).toEqual([{ network: 'net1', bridge: 'cnm-br0', internal: false }]);
    const rules = (await run('ip', ['netns', 'exec', host, 'iptables', '-S', FIREWALL_CHAIN])).out;
    expect(rules.split('\n').filter((l) => l.includes('cnmkit:net1'))).toHaveLength(3);
    await fw.removeNetwork('net1');
    expect(await fw.listNetworks()).toEqual([]);
    expect(await ping(ns[0], '10.88.0.3')).toBe(false);
    await fw.removeAll();
    const after = await run('ip', ['netns', 'exec', host, 'iptables', '-S']);
    expect(after.out).not.toContain('cnmkit');
    expect(after.out).not.toContain(FIREWALL_CHAIN);
  });

  it('an internal network still connects its containers', async () => {
    const fw = createIptablesFirewall({ netns: host });
    await fw.allowNetwork({ network: 'net2', bridge: 'cnm-br0', internal: true });
    expect(await ping(ns[1], '10.88.0.2')).toBe(true);
    expect(await fw.listNetworks()).toEqual([{ network: 'net2', bridge: 'cnm-br0', internal: true }]);
    await fw.removeAll();
  });
});
