/**
 * The checker survives a hostile plugin: endless bodies, silence, resets and
 * garbage are reported as failures within the per-call timeout, and the run
 * moves on instead of hanging.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetUnreachableError } from '../../conformance/errors.js';
import { runSuites } from '../../conformance/runner.js';
import { quickConfig, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

function ok(sock: Socket, body: string): void {
  sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Answers the handshake, then misbehaves differently per method. */
function hostileServer(path: string): Promise<Server> {
  const server = createServer((sock) => {
    let buf = '';
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const line = buf.slice(0, buf.indexOf('\r\n'));
      buf = '';
      const url = line.split(' ')[1] ?? '';
      if (url === '/Plugin.Activate') return ok(sock, '{"Implements":["IpamDriver"]}');
      if (url === '/IpamDriver.GetDefaultAddressSpaces') return ok(sock, '{"LocalDefaultAddressSpace":"H","GlobalDefaultAddressSpace":"H"}');
      if (url === '/IpamDriver.RequestPool') {
        // An endless chunked body.
        sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        const timer = setInterval(() => {
          if (sock.destroyed) return clearInterval(timer);
          sock.write('400\r\n' + '{'.repeat(1024) + '\r\n');
        }, 1);
        sock.on('close', () => clearInterval(timer));
        return;
      }
      if (url === '/IpamDriver.RequestAddress') return; // silence
      if (url === '/IpamDriver.GetCapabilities') return void sock.end('NOT HTTP AT ALL\r\n\r\n');
      sock.destroy(); // reset everything else
    });
  });
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

describe('hostile plugins', () => {
  it('reports and moves on within the timeout', async () => {
    const path = dir.socket('hostile');
    const server = await hostileServer(path);
    try {
      const started = Date.now();
      const checks = ['protocol.*', 'ipam.request-pool-explicit', 'ipam.no-duplicate-address', 'ipam.concurrent-no-duplicate', 'ipam.unknown-pool-refused'];
      const report = await runSuites({ socket: path }, quickConfig(dir, { timeoutMs: 200, runs: 3, checkBudgetMs: 4000, capabilities: ['ipam'], checks }));
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(report.summary.failed).toBeGreaterThan(6);
      expect(report.checks.find((c) => c.id === 'protocol.reply-json')!.status).toBe('failed');
      expect(report.checks.find((c) => c.id === 'ipam.request-pool-explicit')!.status).toBe('failed');
    } finally {
      server.close();
    }
  }, 30_000);

  it('an unreachable target is a TargetUnreachableError (exit code 2), not a report', async () => {
    await expect(runSuites({ socket: dir.socket('nobody-here') }, quickConfig(dir))).rejects.toBeInstanceOf(TargetUnreachableError);
  });
});
