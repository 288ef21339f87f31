/**
 * Linux-only rules on top of the shared behaviour: ownership in the host
 * namespace, validated namespace keys, netns file paths as sandbox keys,
 * names the batch tokenizer cannot carry, and removeOwned.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOST_NAMESPACE as H } from '../../src/backend/backend.js';
import { IpSession, createLinuxBackend, type LinuxBackend } from '../../src/backend/linux/index.js';
import { errnoOf } from '../helpers/outcome.js';
import { uniqueNsKey } from './shared-suite.js';
import { makeTestHostNetns, netnsSkipReason, removeNetns } from '../helpers/netns.js';

function ip(args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => execFile('ip', args, (err, out) => resolve({ ok: err === null, out })));
}

const skip = netnsSkipReason();
if (skip !== null) console.log(`linux backend safety tests skipped: ${skip}`);

describe.skipIf(skip !== null)('Linux backend: safety and sandbox keys', () => {
  let hostKey: string;
  let b: LinuxBackend;
  let dir: string;
  const extra: string[] = [];
  beforeEach(async () => {
    hostKey = (await makeTestHostNetns()).key;
    dir = mkdtempSync(join(tmpdir(), 'cnmt-'));
    b = createLinuxBackend({ hostNetns: hostKey, sandboxRoots: [dir] });
  });
  afterEach(async () => {
    await b.close().catch(() => undefined);
    for (const k of extra.splice(0)) await removeNetns(k);
    await removeNetns(hostKey);
    rmSync(dir, { recursive: true, force: true });
  });

  it('host links without the cnm- prefix are neither created, seen nor touched', async () => {
    expect(await errnoOf(b.createVethPair(H, 'eth7', 'cnm-x'))).toBe('EPERM');
    expect(await errnoOf(b.createBridge(H, 'br-foreign'))).toBe('EPERM');
    expect((await ip(['-n', hostKey, 'link', 'add', 'foreign0', 'type', 'bridge'])).ok).toBe(true);
    expect(await errnoOf(b.getLink(H, 'foreign0'))).toBe('ENODEV');
    expect(await errnoOf(b.deleteLink(H, 'foreign0'))).toBe('ENODEV');
    expect(await errnoOf(b.setLinkUp(H, 'foreign0'))).toBe('ENODEV');
    expect(await errnoOf(b.addAddress(H, 'foreign0', '10.9.9.9/24'))).toBe('ENODEV');
    expect((await b.listLinks(H)).map((l) => l.name)).toEqual(['lo']);
    await b.createVethPair(H, 'cnm-a', 'cnm-b');
    expect(await errnoOf(b.renameLink(H, 'cnm-a', 'foreign1'))).toBe('EPERM');
    expect(await errnoOf(b.setMaster(H, 'cnm-a', 'foreign0'))).toBe('ENODEV');
    expect(await errnoOf(b.addRoute(H, { destination: '10.8.0.0/16', gateway: '10.9.9.1' }))).toBe('EPERM');
    expect((await ip(['-n', hostKey, 'link', 'show', 'foreign0'])).ok).toBe(true);
  });

  it('namespace keys are validated; namespaces it did not create read as ENOENT', async () => {
    for (const k of ['../x', 'a b', '/etc/passwd', '/tmp/../run/netns/x', `${dir}/../x`, 'x'.repeat(65)])
      expect(await errnoOf(b.createNamespace(k)), k).toBe('EINVAL');
    const foreign = uniqueNsKey();
    extra.push(foreign);
    expect((await ip(['netns', 'add', foreign])).ok).toBe(true);
    expect(await errnoOf(b.listLinks(foreign))).toBe('ENOENT');
    expect(await errnoOf(b.deleteNamespace(foreign))).toBe('ENOENT');
    expect(await errnoOf(b.createNamespace(foreign))).toBe('EEXIST');
    expect((await ip(['-n', foreign, 'link', 'show', 'lo'])).ok).toBe(true);
  });

  it('a netns file path works as a sandbox key (as dockerd gives them)', async () => {
    const sandbox = join(dir, 'abc123def456');
    extra.push(sandbox);
    await b.createNamespace(sandbox);
    await b.createVethPair(H, 'cnm-h', 'cnm-c');
    await b.moveLink(H, 'cnm-c', sandbox, 'eth0');
    await b.addAddress(sandbox, 'eth0', '10.77.0.2/24');
    await b.setLinkUp(sandbox, 'eth0');
    expect(await b.getLink(sandbox, 'eth0')).toMatchObject({ namespace: sandbox, up: true, peer: { namespace: H, name: 'cnm-h' } });
    expect((await b.getLink(H, 'cnm-h')).peer).toEqual({ namespace: sandbox, name: 'eth0' });
    await b.deleteNamespace(sandbox);
    expect(await errnoOf(b.getLink(H, 'cnm-h'))).toBe('ENODEV');
  });

  it('names with characters the batch tokenizer interprets still work', async () => {
    const k = uniqueNsKey();
    extra.push(k);
    await b.createNamespace(k);
    await b.createVethPair(k, 'a#b', `c"d'e`);
    expect((await b.listLinks(k)).map((l) => l.name).sort()).toEqual(['a#b', `c"d'e`, 'lo']);
    await b.deleteLink(k, 'a#b');
    expect((await b.listLinks(k)).map((l) => l.name)).toEqual(['lo']);
  });

  it('names that are also ip keywords (a, mtu, type, up) are just names', async () => {
    const k = uniqueNsKey();
    extra.push(k);
    await b.createNamespace(k);
    await b.createVethPair(k, 'a', 'mtu');
    await b.createBridge(k, 'type');
    await b.setMaster(k, 'a', 'type');
    await b.renameLink(k, 'mtu', 'up');
    expect((await b.listLinks(k)).map((l) => l.name).sort()).toEqual(['a', 'lo', 'type', 'up']);
    expect((await b.getLink(k, 'a')).master).toBe('type');
  });

  it('an ip session survives ip exiting on a bad argument and keeps commands apart', async () => {
    const session = new IpSession(`/run/netns/${hostKey}`);
    try {
      const [bad, next] = await Promise.all([session.run(['link', 'set', 'dev', 'lo', 'mtu', 'abc']), session.run(['link', 'show'])]);
      expect(bad.ok).toBe(false);
      expect(bad.stderr).toMatch(/mtu/);
      expect(next.ok).toBe(true);
      expect((JSON.parse(next.stdout) as Array<{ ifname: string }>).map((l) => l.ifname)).toEqual(['lo']);
      const fail = await session.run(['link', 'del', 'dev', 'cnm-none']);
      expect(fail.ok).toBe(false);
      expect(fail.stdout).toBe('');
      const ok = await session.run(['addr', 'show']);
      expect(ok.ok).toBe(true);
      expect(ok.stderr).toBe('');
    } finally {
      await session.close();
    }
  });

  it('removeOwned deletes cnm- host links and the namespaces it created', async () => {
    const k = uniqueNsKey();
    extra.push(k);
    await b.createNamespace(k);
    await b.createBridge(H, 'cnm-br');
    await b.createVethPair(H, 'cnm-a', 'cnm-b');
    const r = await b.removeOwned();
    expect(r.namespaces).toEqual([k]);
    expect(r.links).toContain('cnm-br');
    expect(r.links.filter((n) => n === 'cnm-a' || n === 'cnm-b')).toHaveLength(1);
    expect((await b.listLinks(H)).map((l) => l.name)).toEqual(['lo']);
    expect((await ip(['netns', 'list'])).out).not.toContain(k);
  });
});
