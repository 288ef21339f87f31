/**
 * The reference driver + IPAM on the Linux backend under the real dockerd:
 * `cnmkit serve --backend linux --state DIR` on /run/docker/plugins/cnmkit.sock,
 * driven with the docker CLI. Skips (with the reason) when not root or when no
 * docker can be made available; removes everything it made, even on failure.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIpam } from '../../src/ipam/index.js';
import { HOST_NAMESPACE } from '../../src/backend/backend.js';
import { netContains, parseCidr, parseIp } from '../../src/net/index.js';
import { createIptablesFirewall, createLinuxBackend } from '../../src/backend/linux/index.js';
import { buildManagedPlugin, Cleanup, IMAGE, ROOT, ServeProcess, cnmRules, docker, e2eGate, existingLinks, portsOf, run, socketLive } from './harness.js';

const SOCKET = '/run/docker/plugins/cnmkit.sock';
let skip = await e2eGate();
if (skip === null && (await socketLive(SOCKET))) skip = `${SOCKET} is in use by another plugin process`;
if (skip !== null) console.log(`docker e2e skipped: ${skip}`);

/** Which of the netns files are still mounted (a live namespace). */
async function mountedOf(paths: readonly string[]): Promise<string[]> {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  const points = new Set(info.split('\n').map((l) => l.split(' ')[4]));
  // /var/run is a symlink to /run on Debian: compare real paths.
  return paths.filter((p) => points.has(p) || points.has(p.replace(/^\/var\/run\//, '/run/')));
}

/** IPv4 rules tagged for one network (cnmkit:<id>); ip6tables holds the same set. */
async function rulesOf(networkId: string): Promise<string[]> {
  const r = await run('iptables', ['-w', '-S']);
  return r.out.split('\n').filter((l) => l.includes(`cnmkit:${networkId}`));
}

const SUBNET = '10.231.0.0/16';
const GATEWAY = '10.231.0.1';
const RANGE = '10.231.5.0/24';
const AUX = '10.231.5.7';

function inNet(cidr: string, ip: string): boolean {
  const net = parseCidr(cidr);
  const addr = parseIp(ip);
  return net !== null && addr !== null && netContains(net, addr);
}

describe.skipIf(skip !== null)('cnmkit under a real Docker daemon', { timeout: 120_000 }, () => {
  const tag = randomBytes(3).toString('hex');
  const netA = `cnmt-e2e-a-${tag}`;
  const netB = `cnmt-e2e-b-${tag}`;
  const c = (n: string): string => `cnmt-e2e-${n}-${tag}`;
  const state = mkdtempSync(join(tmpdir(), 'cnmt-e2e-state-'));
  const serveArgs = ['--backend', 'linux', '--state', state, '--socket', SOCKET];
  let serve = new ServeProcess(serveArgs);
  const cleanup = new Cleanup();
  const ips: Record<string, string> = {};
  /** Host links this run made (bridges and veth host ends), checked gone at the end. */
  const ours: string[] = [];
  const ids: string[] = [];
  /** Sandbox netns files of this run's containers (dockerd's), checked gone at the end. */
  const sandboxes: string[] = [];
  const bridgeOf = async (net: string): Promise<string> => {
    const id = await docker('network', 'inspect', '-f', '{{.Id}}', net);
    if (!ids.includes(id)) ids.push(id);
    const bridge = `cnm-${id.slice(0, 11)}`;
    if (!ours.includes(bridge)) ours.push(bridge);
    return bridge;
  };

  const ipOf = async (name: string, net: string): Promise<string> =>
    docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, name);
  const execIn = (name: string, ...cmd: string[]): Promise<string> => docker('exec', name, ...cmd);
  const runDetached = async (name: string, net: string, ...extra: string[]): Promise<void> => {
    cleanup.container(name);
    await docker('run', '-d', '--name', name, '--network', net, ...extra, IMAGE, 'sleep', '600');
  };
  const ping = async (from: string, to: string): Promise<boolean> => (await run('docker', ['exec', from, 'ping', '-c', '1', '-W', '2', to])).ok;

  beforeAll(async () => {
    cleanup.file(state);
    cleanup.add(() => serve.stop('SIGTERM'));
    await serve.start(SOCKET);
  });

  afterAll(async () => {
    await cleanup.runAll();
    await serve.stop('SIGTERM');
    // Whatever a failed run left of its own: its links and its networks' rules, nothing else.
    const left = await existingLinks(ours);
    if (left.length > 0) {
      const b = createLinuxBackend();
      for (const n of left) await b.deleteLink(HOST_NAMESPACE, n).catch(() => undefined);
      await b.close();
    }
    const fw = createIptablesFirewall();
    for (const id of ids) await fw.removeNetwork(id).catch(() => undefined);
    if ((await cnmRules()).every((r) => !r.includes('cnmkit:'))) await fw.removeAll().catch(() => undefined);
    await run('rm', ['-f', SOCKET]);
  });

  it('creates a network with --subnet/--gateway/--ip-range/--aux-address', async () => {
    cleanup.network(netA);
    await docker('network', 'create', '-d', 'cnmkit', '--ipam-driver', 'cnmkit', '--subnet', SUBNET, '--gateway', GATEWAY, '--ip-range', RANGE, '--aux-address', `a1=${AUX}`, netA);
    const cfg = JSON.parse(await docker('network', 'inspect', '-f', '{{json .IPAM.Config}}', netA)) as Array<Record<string, unknown>>;
    expect(cfg[0]).toMatchObject({ Subnet: SUBNET, Gateway: GATEWAY, IPRange: RANGE });
    expect(await docker('network', 'inspect', '-f', '{{.Driver}}', netA)).toBe('cnmkit');
    expect(await existingLinks([await bridgeOf(netA)])).toHaveLength(1);
    expect(await rulesOf(ids[0])).toHaveLength(3);
  });

  it('creates a network from the default pool that does not collide with docker0', async () => {
    cleanup.network(netB);
    await docker('network', 'create', '-d', 'cnmkit', '--ipam-driver', 'cnmkit', netB);
    const subnet = await docker('network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', netB);
    const docker0 = await docker('network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', 'bridge');
    const a = parseCidr(subnet);
    const d = parseCidr(docker0);
    expect(a).not.toBeNull();
    expect(d).not.toBeNull();
    expect(subnet).not.toBe(docker0);
    await bridgeOf(netB);
    expect(inNet(docker0, subnet.split('/')[0]) || inNet(subnet, docker0.split('/')[0])).toBe(false);
  });

  it('runs two containers: IPAM addresses in the ip-range on eth0, default route via the gateway, ping', async () => {
    await runDetached(c('one'), netA);
    await runDetached(c('two'), netA);
    ips.one = await ipOf(c('one'), netA);
    ips.two = await ipOf(c('two'), netA);
    for (const ip of [ips.one, ips.two]) {
      expect(inNet(RANGE, ip), ip).toBe(true);
      expect(ip).not.toBe(AUX);
    }
    expect(ips.one).not.toBe(ips.two);
    expect(await execIn(c('one'), 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0')).toContain(`inet ${ips.one}/16`);
    expect(await execIn(c('one'), 'ip', 'route', 'show', 'default')).toMatch(new RegExp(`^default via ${GATEWAY.replace(/\./g, '\\.')} dev eth0`));
    expect(await ping(c('one'), ips.two)).toBe(true);
    ours.push(...(await portsOf(await bridgeOf(netA))));
    expect(ours.length).toBeGreaterThanOrEqual(2);
    for (const n of ['one', 'two']) sandboxes.push(await docker('inspect', '-f', '{{.NetworkSettings.SandboxKey}}', c(n)));
    expect(await mountedOf(sandboxes)).toEqual(sandboxes);
    // The host side: the gateway on the bridge answers (non-internal network).
    expect(await ping(c('two'), GATEWAY)).toBe(true);
  });

  it('gives a container started with --ip exactly that address', async () => {
    await runDetached(c('fixed'), netA, '--ip', '10.231.9.9');
    expect(await ipOf(c('fixed'), netA)).toBe('10.231.9.9');
    expect(await execIn(c('fixed'), 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0')).toContain('inet 10.231.9.9/16');
    expect(await ping(c('fixed'), ips.one)).toBe(true);
    await docker('rm', '-f', c('fixed'));
  });

  it('runs a container on the default-pool network', async () => {
    const out = await docker('run', '--rm', '--network', netB, IMAGE, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0');
    const subnet = await docker('network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', netB);
    const ip = /inet ([0-9.]+)\//.exec(out)?.[1] ?? '';
    expect(inNet(subnet, ip), `${ip} in ${subnet}`).toBe(true);
  });

  it('survives kill -9 of cnmkit serve: running containers keep connectivity, new ones get new addresses', async () => {
    await serve.stop('SIGKILL');
    // What the IPAM handed out is in its durable state.
    const ipam = createIpam({ stateDir: join(state, 'ipam') });
    try {
      const pool = ipam.pools().find((p) => p.pool === SUBNET && p.subPool === RANGE);
      expect(pool).toBeDefined();
      expect(ipam.isAllocated(pool!.id, ips.one)).toBe(true);
      expect(ipam.isAllocated(pool!.id, ips.two)).toBe(true);
      expect(ipam.isAllocated(pool!.id, '10.231.9.9')).toBe(false);
    } finally {
      await ipam.close();
    }
    // Still connected while no plugin runs at all.
    expect(await ping(c('one'), ips.two)).toBe(true);
    // A link the crashed run made but never recorded: the next start removes it.
    const orphan = `cnm-o${tag}`;
    ours.push(orphan);
    expect((await run('ip', ['link', 'add', orphan, 'type', 'bridge'])).ok).toBe(true);
    serve = new ServeProcess(serveArgs);
    await serve.start(SOCKET);
    expect(await existingLinks([orphan])).toEqual([]);
    expect(await ping(c('two'), ips.one)).toBe(true);
    await runDetached(c('three'), netA);
    ips.three = await ipOf(c('three'), netA);
    ours.push(...(await portsOf(await bridgeOf(netA))).filter((n) => !ours.includes(n)));
    sandboxes.push(await docker('inspect', '-f', '{{.NetworkSettings.SandboxKey}}', c('three')));
    expect(inNet(RANGE, ips.three)).toBe(true);
    expect([ips.one, ips.two, AUX]).not.toContain(ips.three);
    expect(await ping(c('three'), ips.one)).toBe(true);
  });

  it('removes everything: no link, namespace, rule or allocation is left', async () => {
    for (const n of ['one', 'two', 'three']) await docker('rm', '-f', c(n));
    await docker('network', 'rm', netA);
    await docker('network', 'rm', netB);
    expect(await existingLinks(ours)).toEqual([]);
    for (const id of ids) expect(await rulesOf(id)).toEqual([]);
    await serve.stop('SIGTERM');
    // With no network left the owned chain and its jump go too (unless another cnmkit has networks).
    if ((await cnmRules()).every((r) => !r.includes('cnmkit:'))) expect(await cnmRules()).toEqual([]);
    expect(await socketLive(SOCKET)).toBe(false);
    // Namespaces: the containers' sandboxes are unmounted (dockerd unlinks the files later,
    // in its periodic netns GC); the plugin itself never made any.
    expect(sandboxes).toHaveLength(3);
    expect(await mountedOf(sandboxes)).toEqual([]);
    const ipam = createIpam({ stateDir: join(state, 'ipam') });
    try {
      expect(ipam.pools()).toEqual([]);
    } finally {
      await ipam.close();
    }
  });
});

/**
 * The managed (v2) plugin: built by scripts/build-managed-plugin.sh from local
 * files, installed with `docker plugin create`, enabled, used by name:tag.
 * Same file as above so the two never run at once against the one dockerd.
 */
describe.skipIf(skip !== null)('cnmkit as a managed plugin', { timeout: 120_000 }, () => {
  const tag = randomBytes(3).toString('hex');
  const plugin = `cnmt-e2e-plugin:${tag}`;
  const net = `cnmt-e2e-m-${tag}`;
  const out = mkdtempSync(join(tmpdir(), 'cnmt-e2e-plugin-'));
  const cleanup = new Cleanup();

  beforeAll(async () => {
    cleanup.file(out);
    await buildManagedPlugin(cleanup, plugin, out);
  }, 600_000);

  afterAll(async () => {
    await cleanup.runAll();
  });

  it('installs, enables and serves a network by name:tag', async () => {
    await docker('plugin', 'create', plugin, out);
    await docker('plugin', 'enable', plugin);
    expect(await docker('plugin', 'inspect', '-f', '{{.Enabled}}', plugin)).toBe('true');
    cleanup.network(net);
    await docker('network', 'create', '-d', plugin, '--ipam-driver', plugin, '--subnet', '10.232.0.0/24', net);
    const id = await docker('network', 'inspect', '-f', '{{.Id}}', net);
    const bridge = `cnm-${id.slice(0, 11)}`;
    expect(await existingLinks([bridge])).toEqual([bridge]);
    expect(await rulesOf(id)).toHaveLength(3);
    const name = `cnmt-e2e-mc-${tag}`;
    cleanup.container(name);
    await docker('run', '-d', '--name', name, '--network', net, IMAGE, 'sleep', '600');
    const ip = await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, name);
    expect(inNet('10.232.0.0/24', ip)).toBe(true);
    const other = await docker('run', '--rm', '--network', net, IMAGE, 'ping', '-c', '1', '-W', '2', ip);
    expect(other).toContain('1 packets received');
    const ports = await portsOf(bridge);
    expect(ports).toHaveLength(1);
    await docker('rm', '-f', name);
    await docker('network', 'rm', net);
    expect(await existingLinks([bridge, ...ports])).toEqual([]);
    expect(await rulesOf(id)).toEqual([]);
  }, 120_000);

  it('cnmkit check --plugin NAME:TAG finds it as a managed plugin and restarts it with disable/enable', async () => {
    const report = join(out, 'check.json');
    const r = await run(
      process.execPath,
      [join(ROOT, 'bin', 'cnmkit.js'), 'check', '--plugin', plugin, '--check', 'lifecycle.restart-keeps-state', '--check', 'protocol.activate-handshake', '--check', 'ipam.no-duplicate-address', '--runs', '10', '--netns', 'none', '--reporter', `json:${report}`],
      300_000,
    );
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    const json = JSON.parse(readFileSync(report, 'utf8')) as { pluginKind: string; checks: { id: string; status: string; message: string }[] };
    expect(json.pluginKind).toBe('managed');
    const status = Object.fromEntries(json.checks.map((c) => [c.id, `${c.status} ${c.message}`]));
    expect(status['protocol.activate-handshake']).toMatch(/^skipped managed/);
    expect(status['lifecycle.restart-keeps-state']).toMatch(/^passed/);
    expect(status['ipam.no-duplicate-address']).toMatch(/^passed/);
    expect(await docker('plugin', 'inspect', '-f', '{{.Enabled}}', plugin)).toBe('true');
    await docker('plugin', 'disable', plugin);
  }, 300_000);
});
