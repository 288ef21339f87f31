/** dockerd's retry/backoff for transport failures and the empty-body resend (protocol.md §1.5). */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  backoffMs,
  connect,
  PluginClient,
  shouldAbort,
  TransportError,
  VirtualClock,
  type SendOptions,
  type Transport,
} from '../../src/client/index.js';
import type { RawReply, RawRequest } from '../../src/protocol/raw.js';
import { reply, startServer, tempDir, type TestServer } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
const servers: TestServer[] = [];
const clients: PluginClient[] = [];

beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.close();
  await tmp.cleanup();
});

const EP = { NetworkID: 'n', EndpointID: 'e' };
const EP_BODY = '{"NetworkID":"n","EndpointID":"e"}\n';

/** A transport that fails like a timing-out plugin and advances the virtual clock by the timeout. */
class TimingOut implements Transport {
  readonly info = { kind: 'unix' as const, address: '/p.sock', compression: false, urlBase: 'http://%2Fp.sock' };
  readonly bodies: number[] = [];
  constructor(
    private readonly clock: VirtualClock,
    private readonly takesMs: number,
  ) {}
  async send(req: RawRequest, opts: SendOptions): Promise<RawReply> {
    this.bodies.push(req.body.length);
    this.clock.advance(this.takesMs);
    throw new TransportError('timeout', 'headers', true, `context deadline exceeded (${opts.timeoutMs})`);
  }
  async close(): Promise<void> {}
}

describe('backoff arithmetic', () => {
  it('min(2^k, 30) s and the 30 s abort rule', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((k) => backoffMs(k))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(shouldAbort(15000, 16000)).toBe(true);
    expect(shouldAbort(7000, 8000)).toBe(false);
    expect(backoffMs(2, 0.001)).toBeCloseTo(4);
  });
});

describe('retries', () => {
  it('immediate failures: attempts at 0, 1, 3, 7, 15 s, then the error (missing socket, body kept)', async () => {
    const clock = new VirtualClock();
    const client = await connect({ socket: path.join(tmp.dir, 'none.sock') }, { retry: { mode: 'dockerd', faithful: true, clock } });
    clients.push(client);
    const out = await client.tryCall('Leave', EP);
    expect(out.ok).toBe(false);
    expect(out.record.attempts).toBe(5);
    expect(out.record.attemptLog!.map((a) => a.atMs)).toEqual([0, 1000, 3000, 7000, 15000]);
    // Nothing was sent, so even the faithful mode resends the full body.
    expect(out.record.attemptLog!.map((a) => a.bodyBytes)).toEqual(Array(5).fill(EP_BODY.length));
    expect(clock.sleeps).toEqual([1000, 2000, 4000, 8000]);
    if (!out.ok) expect(out.error.kind).toBe('transport-error');
  });

  it('mode none (the default): one attempt', async () => {
    const client = await connect({ socket: path.join(tmp.dir, 'none.sock') });
    clients.push(client);
    const out = await client.tryCall('Leave', EP);
    expect(out.record.attempts).toBe(1);
  });

  it('--timeout 5 schedule: attempts at 0, 6, 13, 22 s, failure at 27 s', async () => {
    const clock = new VirtualClock();
    const t = new TimingOut(clock, 5000);
    const client = new PluginClient(t, { timeoutMs: 5000, retry: { mode: 'dockerd', faithful: true, clock } });
    const out = await client.tryCall('Leave', EP);
    expect(out.record.attemptLog!.map((a) => a.atMs)).toEqual([0, 6000, 13000, 22000]);
    expect(clock.now()).toBe(27000);
    if (!out.ok) expect(out.error.kind).toBe('timeout');
    // Faithful: the drained buffer makes every retry empty.
    expect(t.bodies).toEqual([EP_BODY.length, 0, 0, 0]);
  });

  it('scaled real time: the same schedule in milliseconds', async () => {
    const client = await connect({ socket: path.join(tmp.dir, 'none.sock') }, { retry: { mode: 'dockerd', scale: 0.001 } });
    clients.push(client);
    const t0 = performance.now();
    const out = await client.tryCall('Leave', EP);
    expect(out.record.attempts).toBe(5);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(14);
  });

  it('a socket that appears during the backoff is reached with the full body', async () => {
    const sock = path.join(tmp.dir, 'late.sock');
    const clock = new VirtualClock(async () => {
      if (servers.length === 0) servers.push(await startServer({ unix: sock }, (req, s) => reply(s, 200, '{}')));
    });
    const client = await connect({ socket: sock }, { retry: { mode: 'dockerd', faithful: true, clock } });
    clients.push(client);
    const out = await client.tryCall('Leave', EP);
    expect(out.ok).toBe(true);
    expect(out.record.attempts).toBe(2);
    expect(servers[0]!.requests[0]!.body.toString()).toBe(EP_BODY);
  });

  for (const faithful of [true, false]) {
    it(`after a timeout the retry carries ${faithful ? 'an EMPTY body (faithful)' : 'the body (sane mode)'}`, async () => {
      const srv = await startServer({ unix: path.join(tmp.dir, 'slow.sock') }, (req, s) => {
        // First request: never answered. Later ones: answered.
        if (srv.requests.length > 1) reply(s, 200, '{}');
      });
      servers.push(srv);
      const client = await connect({ socket: srv.path! }, { timeoutMs: 100, retry: { mode: 'dockerd', faithful, clock: new VirtualClock() } });
      clients.push(client);
      const out = await client.tryCall('Leave', EP);
      expect(out.ok).toBe(true);
      expect(out.record.attempts).toBe(2);
      expect(out.record.request).toBe(EP_BODY);
      const second = srv.requests[1]!;
      expect(second.body.toString()).toBe(faithful ? '' : EP_BODY);
      expect(second.headerLines.find(([k]) => k === 'Content-Length')![1]).toBe(faithful ? '0' : String(EP_BODY.length));
    });
  }

  it('a reset after the request was written is retried with an empty body (faithful)', async () => {
    const srv = await startServer({ unix: path.join(tmp.dir, 'rst.sock') }, (req, s) => {
      if (srv.requests.length === 1) s.destroy();
      else reply(s, 200, '{}');
    });
    servers.push(srv);
    const client = await connect({ socket: srv.path! }, { faithful: true, retry: { mode: 'dockerd', faithful: true, clock: new VirtualClock() } });
    clients.push(client);
    const out = await client.tryCall('Leave', EP);
    expect(out.ok).toBe(true);
    expect(srv.requests.map((r) => r.body.length)).toEqual([EP_BODY.length, 0]);
    expect(out.record.attemptLog![0]!.error?.kind).toBe('eof');
  });

  it('HTTP errors and broken bodies are never retried', async () => {
    const srv = await startServer({ unix: path.join(tmp.dir, 'e.sock') }, (req, s) => {
      if (req.path === '/NetworkDriver.Leave') reply(s, 500, '{"Err":"x"}');
      else s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{');
    });
    servers.push(srv);
    const client = await connect({ socket: srv.path! }, { retry: { mode: 'dockerd', clock: new VirtualClock() } });
    clients.push(client);
    expect((await client.tryCall('Leave', EP)).record.attempts).toBe(1);
    expect((await client.tryCall('DeleteEndpoint', EP)).record.attempts).toBe(1);
    expect(srv.requests.length).toBe(2);
  });
});
