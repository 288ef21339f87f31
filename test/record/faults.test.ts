/**
 * Faults around the recorder: a plugin that cannot be reached (dockerd's
 * connection closes without a reply, the trace says why), dockerd hanging up
 * before the reply, and a recorder stopped and started again on the same
 * trace (a second session, the first one's calls kept).
 */
import { connect as netConnect, createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrace } from '../../src/record/trace.js';
import { startRecorder } from '../../conformance/live/recorder.js';
import { startProxy } from '../../src/record/proxy.js';
import { startMiniIpam } from '../conformance/plugins/mini-ipam.js';
import { connect } from '../../src/client/index.js';
import { recordInFront, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

const REQ = Buffer.from('POST /IpamDriver.RequestPool HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 2\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n\r\n{}');

/** Sends REQ and collects what comes back until the connection closes. */
function exchange(socket: string, closeAfterMs?: number): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    const s = netConnect(socket);
    s.on('data', (c: Buffer) => got.push(c));
    s.on('error', () => undefined);
    s.on('close', () => resolve({ bytes: Buffer.concat(got), closed: true }));
    s.on('connect', () => {
      s.write(REQ);
      if (closeAfterMs !== undefined) setTimeout(() => s.destroy(), closeAfterMs);
    });
  });
}

describe('cnmkit record faults', () => {
  it('an unreachable plugin: dockerd\'s connection closes without a byte, the trace records upstream-unreachable', async () => {
    const rec = await recordInFront(dir.path, `${dir.path}/nobody-here.sock`);
    const r = await exchange(rec.socket);
    await rec.stop();
    expect(r.closed).toBe(true);
    expect(r.bytes.length).toBe(0);
    const call = parseTrace(readFileSync(rec.trace, 'utf8')).sessions[0]!.calls[0]!;
    expect(call.error?.kind).toBe('upstream-unreachable');
    expect(call.error?.message).toMatch(/ENOENT/);
    expect(call.call.ok).toBe(false);
    expect(call.request.body).toBe('{}');
  });

  it('dockerd hangs up before the reply: client-closed, and the plugin\'s connection is closed too', async () => {
    let upstreamClosed = false;
    const silent: Server = createServer((s) => {
      s.resume(); // reads (and so sees the close) but never answers
      s.on('error', () => undefined);
      s.on('close', () => (upstreamClosed = true));
    });
    await new Promise<void>((r) => silent.listen(`${dir.path}/silent.sock`, r));
    const rec = await recordInFront(dir.path, `${dir.path}/silent.sock`);
    await exchange(rec.socket, 50);
    await new Promise((r) => setTimeout(r, 50));
    await rec.stop();
    await new Promise<void>((r) => silent.close(() => r()));
    expect(upstreamClosed).toBe(true);
    const call = parseTrace(readFileSync(rec.trace, 'utf8')).sessions[0]!.calls[0]!;
    expect(call.error?.kind).toBe('client-closed');
  });

  it('a recorder started again on the same trace appends a second session; both sessions\' calls are there', async () => {
    const plugin = await startMiniIpam(`${dir.path}/ipam-r.sock`);
    const out = `${dir.path}/restarted.jsonl`;
    for (let round = 0; round < 2; round++) {
      const socket = `${dir.path}/restart-${round}.sock`;
      const r = await startRecorder({ name: 'r', socket, upstream: { kind: 'socket', address: plugin.socketPath, dial: { path: plugin.socketPath } }, out, profile: 'docker-20.10', level: 'should', kernel: false });
      const c = await connect({ socket }, { timeoutMs: 3000 });
      await c.call('GetDefaultAddressSpaces', undefined as never);
      await c.close();
      await r.stop();
    }
    await plugin.close();
    const t = parseTrace(readFileSync(out, 'utf8'));
    expect(t.sessions.map((s) => s.calls.map((c) => c.call.method))).toEqual([['GetDefaultAddressSpaces'], ['GetDefaultAddressSpaces']]);
    expect(t.sessions.every((s) => s.summary?.calls === 1)).toBe(true);
  });

  it('many connections at once: each gets its own upstream connection and its own replies', async () => {
    const plugin = await startMiniIpam(`${dir.path}/ipam-c.sock`);
    const rec = await recordInFront(dir.path, plugin.socketPath);
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect({ socket: rec.socket }, { timeoutMs: 3000 })));
    const pool = await clients[0]!.call('RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.79.0.0/24', SubPool: '', Options: {}, V6: false });
    const got = await Promise.all(clients.flatMap((c) => [1, 2, 3].map(() => c.call('RequestAddress', { PoolID: pool.PoolID, Address: '', Options: null }))));
    for (const c of clients) await c.close();
    await rec.stop();
    await plugin.close();
    expect(new Set(got.map((g) => g.Address)).size).toBe(24);
    expect(new Set(rec.calls.map((c) => c.conn)).size).toBeGreaterThan(1);
    expect(rec.violations()).toEqual([]);
  });

  it('a checker that throws never breaks the traffic: the reply still reaches dockerd, the fault is reported', async () => {
    const plugin = await startMiniIpam(`${dir.path}/ipam-t.sock`);
    const faults: unknown[] = [];
    let n = 0;
    const proxy = await startProxy<number>({
      listen: { path: `${dir.path}/throwing.sock` },
      upstream: { path: plugin.socketPath },
      hooks: {
        request: () => {
          if (++n % 2 === 0) throw new Error('request hook bug');
          return n;
        },
        end: (t) => (t % 4 === 1 ? Promise.reject(new Error('async end bug')) : undefined),
        failed: (_c, e) => faults.push(e),
      },
    });
    const c = await connect({ socket: `${dir.path}/throwing.sock` }, { timeoutMs: 3000 });
    for (let i = 0; i < 6; i++) expect((await c.call('GetDefaultAddressSpaces', undefined as never)).LocalDefaultAddressSpace).not.toBe('');
    await c.close();
    await proxy.close();
    await plugin.close();
    expect(faults.length).toBeGreaterThanOrEqual(4);
  });
});
