/**
 * driver.netns-linux on the real kernel (root + iproute2, skipped otherwise):
 * the reference plugin on the Linux backend, inside a namespace this test
 * creates to play the plugin's host, passes (links exist, TCP between two
 * cnmt- sandboxes, nothing left); an independent driver that names links it
 * never creates, or none at all, is caught. No cnmt- namespace survives.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSuites } from '../../conformance/runner.js';
import { createLinuxBackend } from '../../src/backend/linux/index.js';
import { createReferencePlugin } from '../../src/reference/plugin.js';
import type { RawHandler } from '../../src/protocol/raw.js';
import { createPluginHandler, servePlugin } from '../../src/sdk/index.js';
import { addNetns, netnsSkipReason } from '../helpers/netns.js';
import { startFlawedDriver, type DriverFlaw } from './driver-plugins/flawed-driver.js';
import { quickConfig, result, tempDir, type TempDir } from './support.js';

const skip = netnsSkipReason();
let dir: TempDir;
let host = '';
const namespaces = (): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    // Only the checker's own sandboxes (cnmt-<8 hex>): other tests on this machine create cnmt-* namespaces of their own.
    .filter((n) => /^cnmt-[0-9a-f]{8}$/.test(n));

beforeAll(async () => {
  dir = await tempDir();
  if (skip !== null) return;
  host = `cnmt-host-${randomBytes(4).toString('hex')}`;
  addNetns(host, { loUp: true });
});
afterAll(async () => {
  if (host !== '') execFileSync('ip', ['netns', 'del', host], { stdio: 'ignore' });
  await dir.remove();
});

describe.skipIf(skip !== null)(`driver.netns-linux (${skip ?? 'root'})`, () => {
  it('the reference plugin on the Linux backend passes; no sandbox namespace is left', async () => {
    const before = namespaces();
    const backend = createLinuxBackend({ hostNetns: host });
    const plugin = await createReferencePlugin({ backend });
    const server = await servePlugin({ driver: plugin.driver, ipam: plugin.ipam, listen: { socket: dir.socket('ref') } });
    try {
      const report = await runSuites({ socket: dir.socket('ref') }, quickConfig(dir, { checks: ['driver.netns-linux'], netns: 'linux', netnsHost: host }));
      const r = result(report, 'driver.netns-linux');
      expect(`${r.status} ${r.message}`).toBe('passed ');
      expect(namespaces()).toEqual(before);
      expect(execFileSync('ip', ['-n', host, '-o', 'link', 'show'], { encoding: 'utf8' })).not.toMatch(/cnm-[0-9a-f]+.*veth/);
    } finally {
      await server.close();
      await plugin.close();
      await backend.close();
    }
  });

  it.each<[DriverFlaw, RegExp]>([
    ['missing-srcname', /no such link exists/],
    ['no-srcname', /answered no SrcName/],
  ])('a driver with %s is caught', async (flaw, text) => {
    const before = namespaces();
    const driver = await startFlawedDriver(dir.socket(flaw), { flaw });
    try {
      const report = await runSuites({ socket: dir.socket(flaw) }, quickConfig(dir, { checks: ['driver.netns-linux'], netns: 'linux', netnsHost: host }));
      const r = result(report, 'driver.netns-linux');
      expect(r.status).toBe('failed');
      expect(r.message).toMatch(text);
      expect(r.counterexample!.calls.some((c) => c.path === '/NetworkDriver.Join')).toBe(true);
      expect(namespaces()).toEqual(before);
    } finally {
      await driver.close();
    }
  });

  it('a driver whose DeleteEndpoint answers {} but removes nothing is caught (links left behind)', async () => {
    const backend = createLinuxBackend({ hostNetns: host });
    const plugin = await createReferencePlugin({ backend });
    const inner = createPluginHandler({ driver: plugin.driver, ipam: plugin.ipam });
    // The bug: DeleteEndpoint is acknowledged and never done (the veth pair stays).
    const handler: RawHandler = {
      handle: (req, signal) => (req.path === '/NetworkDriver.DeleteEndpoint' ? Promise.resolve({ status: 200, headers: {}, body: new TextEncoder().encode('{}') }) : inner.handle(req, signal)),
    };
    try {
      const report = await runSuites({ handler }, quickConfig(dir, { checks: ['driver.netns-linux'], netns: 'linux', netnsHost: host }));
      const r = result(report, 'driver.netns-linux');
      expect(r.status).toBe('failed');
      expect(r.message).toMatch(/left links behind|DeleteNetwork refused/);
    } finally {
      await plugin.close();
      await backend.close();
    }
  });

  it('is skipped with the reason without --netns linux', async () => {
    const driver = await startFlawedDriver(dir.socket('plain'), {});
    try {
      const report = await runSuites({ socket: dir.socket('plain') }, quickConfig(dir, { checks: ['driver.netns-linux'] }));
      expect(result(report, 'driver.netns-linux').message).toMatch(/--netns linux/);
    } finally {
      await driver.close();
    }
  });
});
