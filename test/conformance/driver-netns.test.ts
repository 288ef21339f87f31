/**
 * driver.netns-linux on the real kernel (root + iproute2, skipped with the
 * printed reason otherwise). Each case gets a namespace this test creates to
 * play the plugin's host (config.netnsHost), so nothing touches the real
 * host's links:
 * - the reference plugin on the Linux backend passes;
 * - an independent driver that really makes links with foreign names passes
 *   (L2 like docker-net-dhcp, routed like Calico, other DstPrefix, fe80::1
 *   IPv6 gateway) on several seeds;
 * - each leak is caught with a message naming the link and the call after
 *   which it should have gone; Join naming a link that does not exist too;
 * (`--netns none` and non-root runs skip with the reason: netns-mode.test.ts.)
 * No cnmt- sandbox namespace and no test link survives.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceConfig } from '../../conformance/config.js';
import { sandboxesMade } from '../../conformance/driver/kernel-links.js';
import { runSuites } from '../../conformance/runner.js';
import type { CheckResult } from '../../conformance/types.js';
import { createLinuxBackend } from '../../src/backend/linux/index.js';
import { createReferencePlugin } from '../../src/reference/plugin.js';
import type { RawHandler } from '../../src/protocol/raw.js';
import { createPluginHandler, servePlugin } from '../../src/sdk/index.js';
import { addNetns, deleteNetnsQuietly, netnsSkipReason } from '../helpers/netns.js';
import { startKernelDriver, type KernelDriverOptions } from './designs/kernel-driver.js';
import { startFlawedDriver, type DriverFlaw } from './driver-plugins/flawed-driver.js';
import { quickConfig, result, tempDir, type TempDir } from './support.js';

const skip = netnsSkipReason();
if (skip !== null) console.log(`driver-netns tests on the real kernel skipped: ${skip}`);
const SEEDS = [1, 2, 3, 4, 5, 6];
/** Names the test fixtures give links: none may be left in the real host's namespace. */
const TEST_LINK = /^((kbr|kv|kc|kx|km|kpa|cali|temp|dh-)[0-9a-f]{9,12}|[0-9a-f]{12}-dh)$/;

let dir: TempDir;
const hosts = new Set<string>();
/** The sandboxes this process's checks made that still exist (other processes on this machine make cnmt-* namespaces too). */
const namespaces = (): string[] => {
  const live = new Set(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!));
  return sandboxesMade().filter((n) => live.has(n));
};
const linksIn = (ns: string | null): string[] =>
  (JSON.parse(execFileSync('ip', [...(ns === null ? [] : ['-n', ns]), '-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string }>).map((l) => l.ifname);

let hostLinksBefore: string[] = [];

beforeAll(async () => {
  dir = await tempDir();
  if (skip !== null) return;
  hostLinksBefore = linksIn(null).filter((n) => TEST_LINK.test(n));
});
afterAll(async () => {
  for (const h of hosts) deleteNetnsQuietly(h);
  await dir.remove();
});

/** A fresh namespace playing the plugin's host. */
function newHost(): string {
  const h = `cnmt-host-${randomBytes(4).toString('hex')}`;
  addNetns(h, { loUp: true });
  hosts.add(h);
  return h;
}

function dropHost(h: string): void {
  deleteNetnsQuietly(h);
  hosts.delete(h);
}

const netnsConfig = (host: string, over: Partial<ConformanceConfig> = {}): Partial<ConformanceConfig> => quickConfig(dir, { checks: ['driver.netns-linux'], netns: 'linux', netnsHost: host, ...over });

let n = 0;
/** Run driver.netns-linux against the kernel driver in a fresh host namespace; returns the result and the links left there. */
async function onKernelDriver(opts: Omit<KernelDriverOptions, 'ns'>, over: Partial<ConformanceConfig> = {}): Promise<{ r: CheckResult; left: string[] }> {
  const host = newHost();
  const socket = dir.socket(`k${n++}`);
  const driver = await startKernelDriver(socket, { ns: host, ...opts });
  try {
    const report = await runSuites({ socket }, netnsConfig(host, over));
    // Passed or failed, the check removed every sandbox it made.
    expect(namespaces()).toEqual([]);
    return { r: result(report, 'driver.netns-linux'), left: linksIn(host).filter((x) => x !== 'lo') };
  } finally {
    await driver.close();
    dropHost(host);
  }
}

describe.skipIf(skip !== null)(`driver.netns-linux on the real kernel (${skip ?? 'root'})`, () => {
  afterAll(() => {
    // Every sandbox namespace the checker made is gone, and no fixture link reached the real host.
    expect(sandboxesMade().length).toBeGreaterThan(20);
    expect(namespaces()).toEqual([]);
    expect(linksIn(null).filter((x) => TEST_LINK.test(x))).toEqual(hostLinksBefore);
  });

  it('the reference plugin on the Linux backend passes; no sandbox namespace is left', async () => {
    const host = newHost();
    const backend = createLinuxBackend({ hostNetns: host });
    const plugin = await createReferencePlugin({ backend });
    const server = await servePlugin({ driver: plugin.driver, ipam: plugin.ipam, listen: { socket: dir.socket('ref') } });
    try {
      const report = await runSuites({ socket: dir.socket('ref') }, netnsConfig(host));
      const r = result(report, 'driver.netns-linux');
      expect(`${r.status} ${r.message}`).toBe('passed ');
      expect(r.notes.join('\n')).toMatch(/--netns linux: links checked on the real kernel/);
      expect(r.notes.join('\n')).toMatch(/inside the endpoint subnet .*TCP between two sandboxes works/);
      expect(namespaces()).toEqual([]);
      expect(execFileSync('ip', ['-n', host, '-o', 'link', 'show'], { encoding: 'utf8' })).not.toMatch(/cnm-[0-9a-f]+.*veth/);
    } finally {
      await server.close();
      await plugin.close();
      await backend.close();
      dropHost(host);
    }
  });

  it.each(SEEDS)('an L2 driver with foreign link names (kbr/kv/kc, like docker-net-dhcp) passes, seed %i', async (seed) => {
    const { r, left } = await onKernelDriver({}, { seed });
    expect(`${r.status} ${r.message}`).toBe('passed ');
    expect(r.notes.join('\n')).toMatch(/\(L2\); TCP between two sandboxes works/);
    expect(left).toEqual([]);
  });

  it.each(SEEDS)('a routed driver like Calico (cali/temp, Gateway 169.254.1.1 + connected /32, one MAC for all) passes, seed %i', async (seed) => {
    const { r, left } = await onKernelDriver({ design: 'routed' }, { seed });
    expect(`${r.status} ${r.message}`).toBe('passed ');
    expect(r.notes.join('\n')).toMatch(/Gateway 169\.254\.1\.1 outside the endpoint subnet .*not required/);
    expect(left).toEqual([]);
  });

  it.each<[string, Omit<KernelDriverOptions, 'ns'>]>([
    ['DstPrefix "net" and GatewayIPv6 fe80::1 (L2)', { dstPrefix: 'net', gatewayIPv6: true }],
    ['routed with GatewayIPv6 fe80::1 and DstPrefix "cali"', { design: 'routed', gatewayIPv6: true }],
    ['an empty DstPrefix (the container link is named "0")', { dstPrefix: '' }],
    ['macvlan links on a parent device (no veth, like Docker\'s macvlan driver)', { design: 'macvlan' }],
    ['its own addresses under the null IPAM and docker-net-dhcp names (dh-<12>, <12>-dh)', { addressing: 'driver' }],
  ])('a driver with %s passes', async (_name, opts) => {
    for (const seed of [11, 12]) {
      const { r, left } = await onKernelDriver(opts, { seed });
      expect(`${r.status} ${r.message}`).toBe('passed ');
      expect(r.notes.join('\n')).not.toMatch(/IPv6: .* did not work/);
      if (opts.addressing === 'driver') expect(r.notes.join('\n')).toMatch(/null IPAM[^]*Gateway 10\.197\.\d+\.1 inside the endpoint subnet 10\.197\.\d+\.0\/24 \(L2\); TCP between two sandboxes works/);
      expect(left).toEqual([]);
    }
  });

  it('a driver with one host bridge shared by all its networks (kept after DeleteNetwork) passes; the bridge is noted', async () => {
    for (const seed of [21, 22]) {
      const { r, left } = await onKernelDriver({ sharedBridge: true }, { seed });
      expect(`${r.status} ${r.message}`).toBe('passed ');
      expect(r.notes.join('\n')).toMatch(/shared by several networks .*kbr000000000 \(bridge, created at the design probe/);
      expect(left).toEqual(['kbr000000000']);
    }
  });

  it('--netns auto as root runs the check and says so', async () => {
    const { r } = await onKernelDriver({}, { netns: 'auto' });
    expect(`${r.status} ${r.message}`).toBe('passed ');
    expect(r.notes[0]).toMatch(/^--netns auto: links checked on the real kernel \(root on Linux\)/);
  });

  it.each<[string, Omit<KernelDriverOptions, 'ns'>, RegExp]>([
    ['DeleteEndpoint never deletes the veth (L2)', { leak: 'endpoint' }, /left links behind .*after DeleteEndpoint of [0-9a-f]{12} the link kv[0-9a-f]{12} \(veth(?: on kbr[0-9a-f]{12})?, created at CreateEndpoint of [0-9a-f]{12} \(never joined\)\) is still there/],
    ['DeleteEndpoint never deletes the veth (docker-net-dhcp-like, null IPAM)', { addressing: 'driver', leak: 'endpoint' }, /after DeleteEndpoint of [0-9a-f]{12} the link dh-[0-9a-f]{12} \(veth(?: on kbr[0-9a-f]{12})?, created at CreateEndpoint of [0-9a-f]{12}\) is still there/],
    ['DeleteNetwork leaves the bridge', { leak: 'network' }, /after DeleteNetwork of [0-9a-f]{12} the link kbr[0-9a-f]{12} \(bridge, created at CreateNetwork of [0-9a-f]{12}\) is still there/],
    ['Leave never deletes the veth (routed)', { design: 'routed', leak: 'endpoint' }, /after Leave and DeleteEndpoint of [0-9a-f]{12} the link (cali|temp)[0-9a-f]{11} \(veth, created at Join of [0-9a-f]{12}\) is still there/],
    ['Join names a link it never made (L2)', { leak: 'join-missing' }, /answered SrcName kx[0-9a-f]{12}, but no such link exists in network namespace cnmt-host-[0-9a-f]{8} .*Link not found.*kv[0-9a-f]{12}/],
    ['Join names a link it never made (routed)', { design: 'routed', leak: 'join-missing' }, /answered SrcName temp[0-9a-f]{11}, but no such link exists/],
  ])('a driver whose %s is caught, naming the link', async (_name, opts, text) => {
    for (const seed of [1, 2, 3]) {
      const { r } = await onKernelDriver(opts, { seed });
      expect(`${r.status} ${r.message}`).toMatch(/^failed /);
      expect(r.message).toMatch(text);
      expect(r.counterexample!.calls.some((c) => c.path === '/NetworkDriver.Join' || c.path === '/NetworkDriver.CreateEndpoint')).toBe(true);
    }
  });

  it.each<[DriverFlaw, RegExp]>([
    ['missing-srcname', /no such link exists/],
    ['no-srcname', /answered no SrcName/],
  ])('a driver with %s is caught', async (flaw, text) => {
    const host = newHost();
    const driver = await startFlawedDriver(dir.socket(flaw), { flaw });
    try {
      const report = await runSuites({ socket: dir.socket(flaw) }, netnsConfig(host));
      const r = result(report, 'driver.netns-linux');
      expect(r.status).toBe('failed');
      expect(r.message).toMatch(text);
      expect(r.counterexample!.calls.some((c) => c.path === '/NetworkDriver.Join')).toBe(true);
      expect(namespaces()).toEqual([]);
    } finally {
      await driver.close();
      dropHost(host);
    }
  });

  it('a driver whose DeleteEndpoint answers {} but removes nothing is caught (links left behind)', async () => {
    const host = newHost();
    const backend = createLinuxBackend({ hostNetns: host });
    const plugin = await createReferencePlugin({ backend });
    const inner = createPluginHandler({ driver: plugin.driver, ipam: plugin.ipam });
    // The bug: DeleteEndpoint is acknowledged and never done (the veth pair stays).
    const handler: RawHandler = {
      handle: (req, signal) => (req.path === '/NetworkDriver.DeleteEndpoint' ? Promise.resolve({ status: 200, headers: {}, body: new TextEncoder().encode('{}') }) : inner.handle(req, signal)),
    };
    try {
      const report = await runSuites({ handler }, netnsConfig(host));
      const r = result(report, 'driver.netns-linux');
      expect(`${r.status} ${r.message}`).toMatch(/^failed /);
      expect(r.message).toMatch(/left links behind .*after DeleteEndpoint of [0-9a-f]{12} the link cnm-/);
    } finally {
      await plugin.close();
      await backend.close();
      dropHost(host);
    }
  });
});
