/**
 * A plugin that dies or hangs mid-run gets one clear verdict: the check during which it
 * happened fails at must with the call and its reproducer, every later check is `not run`
 * (never a cascade of "connection refused" failures or false passes), unless the checker
 * can restart it and carry on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleReport } from '../../conformance/report/console.js';
import { jsonReport } from '../../conformance/report/json.js';
import { runSuites } from '../../conformance/runner.js';
import { startMiniIpam } from './plugins/mini-ipam.js';
import { quickConfig, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

describe('a plugin that dies or hangs', () => {
  it('crash mid-run: one must failure naming the check and call, the rest not run', async () => {
    const plugin = await startMiniIpam(dir.socket('crash'), ['crash-after-calls'], { afterCalls: 40 });
    try {
      const report = await runSuites({ socket: plugin.socketPath }, quickConfig(dir, { suites: ['protocol', 'ipam'] }));
      expect(report.deaths).toHaveLength(1);
      const death = report.deaths[0]!;
      expect(death.restarted).toBe(false);
      expect(death.message).toMatch(new RegExp(`^plugin died \\(or stopped answering\\) during ${death.check.replace('.', '\\.')} on /`));
      expect(death.reproducer).toMatch(/^curl .*--unix-socket/);
      const i = report.checks.findIndex((c) => c.id === death.check);
      const died = report.checks[i]!;
      expect(died.status).toBe('failed');
      expect(died.level).toBe('must');
      expect(died.message).toBe(death.message);
      const later = report.checks.slice(i + 1);
      expect(later.length).toBeGreaterThan(10);
      expect(later.every((c) => c.status === 'not-run' && c.message.includes(`during ${death.check}`))).toBe(true);
      // Nothing before the death failed for the death's sake, and nothing after it passed or failed.
      expect(report.summary.failed).toBe(1);
      expect(report.summary.notRun).toBe(later.length);
      expect(consoleReport(report)).toContain(`${death.message} (no way to restart it: later checks not run)`);
      expect((JSON.parse(jsonReport(report)) as { deaths: unknown[] }).deaths).toHaveLength(1);
    } finally {
      await plugin.close();
    }
  });

  it('hang after its fifth call: a verdict within about 30 s at --timeout 5', async () => {
    const plugin = await startMiniIpam(dir.socket('hang'), ['hang-after-calls'], { afterCalls: 5 });
    const started = Date.now();
    try {
      const report = await runSuites({ socket: plugin.socketPath }, quickConfig(dir, { suites: ['protocol', 'ipam'], timeoutMs: 5000 }));
      const seconds = (Date.now() - started) / 1000;
      expect(seconds).toBeLessThan(30);
      expect(report.deaths).toHaveLength(1);
      expect(report.summary.notRun).toBeGreaterThan(20);
      expect(report.checks.filter((c) => c.status === 'failed')).toHaveLength(1);
    } finally {
      await plugin.close();
    }
  }, 45_000);

  it('with a way to restart it, the crash is still a must failure and the run goes on', async () => {
    const plugin = await startMiniIpam(dir.socket('phoenix'), ['crash-after-calls'], { afterCalls: 60 });
    let restarts = 0;
    try {
      const report = await runSuites(
        { socket: plugin.socketPath },
        quickConfig(dir, { suites: ['protocol', 'ipam'] }),
        {
          restart: async () => {
            restarts++;
            await plugin.restart();
          },
        },
      );
      expect(restarts).toBeGreaterThanOrEqual(1);
      // ipam.restart-keeps-allocations restarts the plugin once itself when it runs to the end.
      const byChecks = report.checks.filter((c) => c.id === 'ipam.restart-keeps-allocations' && c.status === 'passed').length;
      expect(report.deaths.length).toBe(restarts - byChecks);
      expect(report.deaths.every((d) => d.restarted)).toBe(true);
      expect(report.summary.notRun).toBe(0);
      for (const d of report.deaths) {
        const c = report.checks.find((x) => x.id === d.check)!;
        expect(c.status).toBe('failed');
        expect(c.level).toBe('must');
      }
      // The checks after the first death really ran.
      const first = report.checks.findIndex((c) => c.id === report.deaths[0]!.check);
      expect(report.checks.slice(first + 1).some((c) => c.status === 'passed')).toBe(true);
    } finally {
      await plugin.close();
    }
  });

  it('hostile-input checks run after every other check', async () => {
    const plugin = await startMiniIpam(dir.socket('order'), ['crash-on-bad-json']);
    try {
      const report = await runSuites({ socket: plugin.socketPath }, quickConfig(dir, { suites: ['protocol', 'ipam'] }));
      const ids = report.checks.map((c) => c.id);
      const firstHostile = ids.indexOf('protocol.malformed-json');
      expect(firstHostile).toBeGreaterThan(ids.lastIndexOf(ids.find((id) => id.startsWith('ipam.'))!));
      // The model checks ran before the plugin was killed by bad input.
      expect(report.checks.filter((c) => c.id.startsWith('ipam.') && c.status === 'passed').length).toBeGreaterThan(15);
      expect(report.deaths).toHaveLength(1);
      expect(report.deaths[0]!.check).toMatch(/^protocol\.(malformed-json|wrong-typed-fields|empty-body|survives-bad-input)$/);
    } finally {
      await plugin.close();
    }
  });
});
