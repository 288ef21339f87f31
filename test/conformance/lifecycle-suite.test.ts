/**
 * The lifecycle suite: the reference plugin and a correct independent driver
 * pass dockerd's sequences; a driver that loses its state on restart is caught
 * by lifecycle.restart-keeps-state when --restart-cmd restarts it.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSuites } from '../../conformance/runner.js';
import { exitCodeFor } from '../../conformance/report/exit-code.js';
import { startReferenceTarget } from '../../src/cli/reference-target.js';
import { type FlawedDriver, type FlawedDriverOptions, startFlawedDriver } from './driver-plugins/flawed-driver.js';
import { quickConfig, result, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

/** A control socket whose POST /restart restarts `driver`; returns the argv of a command that calls it (no shell). */
async function restartControl(driver: FlawedDriver, name: string): Promise<{ argv: string[]; restarts: () => number; close(): Promise<void> }> {
  const socketPath = dir.socket(`${name}-ctl`);
  let count = 0;
  const server: Server = createServer((req, res) => {
    void driver.restart().then(() => {
      count++;
      res.end('restarted\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const script = `require('http').request({ socketPath: ${JSON.stringify(socketPath)}, path: '/restart', method: 'POST' }, (r) => { r.resume(); r.on('end', () => process.exit(r.statusCode === 200 ? 0 : 1)); }).end()`;
  return { argv: [process.execPath, '-e', script], restarts: () => count, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function withRestart(name: string, opts: FlawedDriverOptions) {
  const socket = dir.socket(name);
  const driver = await startFlawedDriver(socket, opts);
  const ctl = await restartControl(driver, name);
  try {
    const report = await runSuites({ socket }, quickConfig(dir, { suites: ['lifecycle'], restartCmd: ctl.argv }));
    return { report, restarts: ctl.restarts() };
  } finally {
    await ctl.close();
    await driver.close();
  }
}

describe('lifecycle suite', () => {
  it('the reference plugin passes every lifecycle check (restart skipped without --restart-cmd)', async () => {
    const t = await startReferenceTarget();
    try {
      const report = await runSuites({ socket: t.socket }, quickConfig(dir, { suites: ['lifecycle'], level: 'compat' }));
      expect(report.checks.filter((c) => c.status === 'failed').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
      expect(report.summary.passed).toBe(6);
      expect(result(report, 'lifecycle.dual-stack').status).toBe("passed");
      expect(result(report, 'lifecycle.restart-keeps-state').message).toMatch(/--restart-cmd/);
      expect(report.leaks).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('a correct independent driver keeps its state over a restart and passes', async () => {
    const { report, restarts } = await withRestart('keeps', {});
    expect(report.checks.filter((c) => c.status !== 'passed').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
    expect(restarts).toBe(1);
    expect(exitCodeFor(report, 'compat')).toBe(0);
  });

  it('a driver that loses its state on restart is caught by lifecycle.restart-keeps-state', async () => {
    const { report, restarts } = await withRestart('loses', { flaw: 'state-lost-on-restart' });
    expect(restarts).toBe(1);
    expect(report.checks.filter((c) => c.status === 'failed').map((c) => c.id)).toEqual(['lifecycle.restart-keeps-state']);
    const r = result(report, 'lifecycle.restart-keeps-state');
    expect(r.message).toMatch(/not found/);
    expect(r.counterexample!.steps.some((s) => s.startsWith('restart the plugin'))).toBe(true);
    expect(r.counterexample!.calls.some((c) => c.path === '/NetworkDriver.CreateEndpoint')).toBe(true);
  });

  it('a driver whose EndpointOperInfo 404s fails every container start under the 20.10 profile, not under moby', async () => {
    const socket = dir.socket('oper');
    const driver = await startFlawedDriver(socket, { flaw: 'operinfo-404' });
    try {
      const old = await runSuites({ socket }, quickConfig(dir, { checks: ['lifecycle.container-run-stop'] }));
      expect(result(old, 'lifecycle.container-run-stop').message).toMatch(/EndpointOperInfo/);
      const moby = await runSuites({ socket }, quickConfig(dir, { checks: ['lifecycle.container-run-stop', 'driver.endpoint-oper-info'], profile: 'moby' }));
      expect(moby.checks.filter((c) => c.status === 'failed').map((c) => c.id)).toEqual([]);
    } finally {
      await driver.close();
    }
  });
});
