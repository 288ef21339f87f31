/**
 * Which conformance runs check links on the real kernel (`--netns`): the
 * decision, and the check reported skipped with its reason for a non-root run
 * and for `--netns none`. Needs no root (driver-netns.test.ts runs the check
 * on the kernel, root tier).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ConformanceConfig } from '../../conformance/config.js';
import { netnsMode } from '../../conformance/driver/netns-check.js';
import { runSuites } from '../../conformance/runner.js';
import { startFlawedDriver } from './driver-plugins/flawed-driver.js';
import { quickConfig, result, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir?.remove();
});

describe('netnsMode (which runs happen on the real kernel)', () => {
  it('auto runs as root on Linux; skips with the reason otherwise; none is off; linux insists', () => {
    const cfg = (netns: ConformanceConfig['netns']) => ({ netns, netnsHost: null });
    expect(netnsMode(cfg('auto'), { uid: 0, platform: 'linux' })).toMatchObject({ run: true, note: expect.stringMatching(/--netns auto: links checked on the real kernel/) });
    expect(netnsMode(cfg('auto'), { uid: 1000, platform: 'linux' })).toMatchObject({ run: false, reason: expect.stringMatching(/--netns auto: not root/) });
    expect(netnsMode(cfg('auto'), { uid: 0, platform: 'darwin' })).toMatchObject({ run: false, reason: expect.stringMatching(/not Linux/) });
    expect(netnsMode(cfg('linux'), { uid: 1000, platform: 'linux' })).toMatchObject({ run: false, reason: expect.stringMatching(/--netns linux needs root/) });
    expect(netnsMode(cfg('none'), { uid: 0, platform: 'linux' })).toMatchObject({ run: false, reason: expect.stringMatching(/turned off by --netns none/) });
    expect(netnsMode({ netns: 'linux', netnsHost: 'cnmt-ref-1' }, { uid: 0, platform: 'linux' })).toMatchObject({ run: true, note: expect.stringMatching(/--netns linux: .*cnmt-ref-1/) });
  });

  it('a non-root run reports the check skipped with the reason', async () => {
    const driver = await startFlawedDriver(dir.socket('nonroot'), {});
    const uid = vi.spyOn(process, 'getuid').mockReturnValue(1000);
    try {
      const report = await runSuites({ socket: dir.socket('nonroot') }, quickConfig(dir, { checks: ['driver.netns-linux'], netns: 'auto' }));
      const r = result(report, 'driver.netns-linux');
      console.log(`non-root run: driver.netns-linux ${r.status}: ${r.message}`);
      expect(r.status).toBe('skipped');
      expect(r.message).toMatch(process.platform === 'linux' ? /--netns auto: not root/ : /linux/);
    } finally {
      uid.mockRestore();
      await driver.close();
    }
  });

  it('--netns none reports the check skipped with that reason', async () => {
    const driver = await startFlawedDriver(dir.socket('plain'), {});
    try {
      const report = await runSuites({ socket: dir.socket('plain') }, quickConfig(dir, { checks: ['driver.netns-linux'], netns: 'none' }));
      const r = result(report, 'driver.netns-linux');
      expect(r.status).toBe('skipped');
      expect(r.message).toMatch(/turned off by --netns none/);
    } finally {
      await driver.close();
    }
  });
});
