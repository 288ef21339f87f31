/**
 * The reference plugin served by `cnmkit serve --state` keeps its state over a
 * kill -9 and restart in the middle of dockerd's sequences: it passes
 * lifecycle.restart-keeps-state (and the rest of the lifecycle suite) when the
 * checker's --restart-cmd kills and restarts the real process.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runSuites } from '../../conformance/index.js';
import { startCli, waitExit } from './run-cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnmkit-restart-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('cnmkit serve --state passes lifecycle.restart-keeps-state across kill -9', async () => {
  const socket = join(dir, 'ref.sock');
  const args = ['serve', '--socket', socket, '--state', join(dir, 'state')];
  let child: ChildProcess = (await startCli(args, /cnmkit serve: .* on /)).child;
  let restarts = 0;
  // POST /restart on this control socket: SIGKILL the server, start it again on the same state.
  const control: Server = createServer((_req, res) => {
    void (async () => {
      child.kill('SIGKILL');
      await waitExit(child);
      child = (await startCli(args, /cnmkit serve: .* on /)).child;
      restarts++;
      res.end('restarted\n');
    })().catch((e: unknown) => {
      res.statusCode = 500;
      res.end(String(e));
    });
  });
  const controlSocket = join(dir, 'control.sock');
  await new Promise<void>((r) => control.listen(controlSocket, r));
  const restartCmd = [
    process.execPath,
    '-e',
    `require('http').request({ socketPath: ${JSON.stringify(controlSocket)}, path: '/restart', method: 'POST' }, (r) => { r.resume(); r.on('end', () => process.exit(r.statusCode === 200 ? 0 : 1)); }).end()`,
  ];
  try {
    const report = await runSuites({ socket }, { suites: ['lifecycle'], level: 'compat', seed: 7, runs: 10, timeoutMs: 5000, restartCmd, replayDir: null });
    expect(report.checks.filter((c) => c.status !== 'passed').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
    expect(restarts).toBe(1);
  } finally {
    await new Promise<void>((r) => control.close(() => r()));
    child.kill('SIGTERM');
    await waitExit(child);
  }
}, 90_000);
