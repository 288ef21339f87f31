/** Plugins that are correct but differ from Docker in every way dockerd accepts pass at the default level. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeFor } from '../../conformance/report/exit-code.js';
import { startDifferentIpam } from './plugins/different-ipam.js';
import { startLooseIpam } from './plugins/loose-ipam.js';
import { quickConfig, runOn, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

describe('correct but different plugins', () => {
  it('opaque IDs, highest-first order, Data gateway, refcounted pools, text errors: conformant at should', async () => {
    const plugin = await startDifferentIpam(dir.socket('different'));
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['protocol', 'ipam'] }));
      const failing = report.checks.filter((c) => c.status === 'failed' && c.level !== 'compat');
      expect(failing.map((f) => `${f.id}: ${f.message}`)).toEqual([]);
      expect(exitCodeFor(report)).toBe(0);
      // The differences are reported at the compat level.
      const compat = report.checks.filter((c) => c.status === 'failed' && c.level === 'compat').map((c) => c.id);
      expect(compat).toEqual(expect.arrayContaining(['ipam.address-order-compat', 'ipam.pool-id-compat', 'ipam.error-text-compat']));
      expect(exitCodeFor(report, 'compat')).toBe(1);
      expect(report.leaks).toEqual([]);
    } finally {
      await plugin.close();
    }
  });

  it('lower-case reply keys, null replies, random order, 200 {"error"} / 503 errors: conformant at should', async () => {
    const plugin = await startLooseIpam(dir.socket('loose'));
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['protocol', 'ipam'] }));
      const failing = report.checks.filter((c) => c.status === 'failed' && c.level !== 'compat');
      expect(failing.map((f) => `${f.id}: ${f.message}`)).toEqual([]);
      expect(exitCodeFor(report)).toBe(0);
    } finally {
      await plugin.close();
    }
  });
});
