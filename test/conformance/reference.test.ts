/** The reference IPAM served by the SDK passes every check at every level (and how fast the run is). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSuites } from '../../conformance/runner.js';
import { exitCodeFor } from '../../conformance/report/exit-code.js';
import { createIpam } from '../../src/ipam/index.js';
import { createPluginHandler, servePlugin } from '../../src/sdk/index.js';
import { quickConfig, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

describe('reference IPAM', () => {
  it('passes protocol + ipam at level compat over a unix socket', async () => {
    const server = await servePlugin({ ipam: createIpam(), listen: { socket: dir.socket('ref') } });
    try {
      const report = await runSuites({ socket: dir.socket('ref') }, quickConfig(dir, { level: 'compat', runs: 50, suites: ['protocol', 'ipam'] }));
      const failed = report.checks.filter((c) => c.status === 'failed');
      expect(failed.map((f) => `${f.id}: ${f.message}`)).toEqual([]);
      expect(exitCodeFor(report, 'compat')).toBe(0);
      expect(report.summary.passed).toBeGreaterThanOrEqual(40);
      expect(report.leaks).toEqual([]);
      const skipped = report.checks.filter((c) => c.status === 'skipped').map((c) => c.id);
      // ipam.restart-keeps-allocations needs a way to restart the plugin (none for this in-process server).
      expect(skipped.every((id) => id.includes('network') || id.includes('driver') || id === 'ipam.restart-keeps-allocations')).toBe(true);
      console.log(`reference: ${report.summary.calls} calls in ${report.summary.seconds} s = ${report.summary.callsPerSecond} calls/s`);
    } finally {
      await server.close();
    }
  });

  it('passes the protocol suite over TCP (--url)', async () => {
    const server = await servePlugin({ ipam: createIpam(), listen: { tcp: 'tcp://127.0.0.1:0' } });
    try {
      const report = await runSuites({ url: `tcp://127.0.0.1:${server.port}` }, quickConfig(dir, { level: 'compat', suites: ['protocol'] }));
      expect(report.checks.filter((c) => c.status === 'failed').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
      expect(report.summary.passed).toBeGreaterThan(10);
    } finally {
      await server.close();
    }
  });

  it('finds a plugin by name (discovery) for both the client and the raw sender', async () => {
    const server = await servePlugin({ ipam: createIpam(), listen: { socket: dir.socket('named') } });
    try {
      const report = await runSuites({ plugin: 'named', dirs: { socketDir: dir.path, specDirs: [] } }, quickConfig(dir, { suites: ['protocol'] }));
      expect(report.target).toBe('plugin named');
      expect(report.capabilities).toContain('ipam');
      expect(report.checks.filter((c) => c.status === 'failed').map((c) => c.id)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('passes in-process through the SDK handler too', async () => {
    const handler = createPluginHandler({ ipam: createIpam() });
    const report = await runSuites({ handler, label: 'reference (in-process)' }, quickConfig(dir, { level: 'compat', runs: 20, suites: ['protocol', 'ipam'] }));
    expect(report.checks.filter((c) => c.status === 'failed').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
  });
});
