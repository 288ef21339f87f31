/** A hostile plugin yields a typed error within the timeout: never a hang, never an unbounded buffer. */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, SocketTransport, TransportError, type PluginClient, type TransportErrorKind } from '../../src/client/index.js';
import { startServer, tempDir, waitFor, type Behaviour, type TestServer } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer | undefined;
let client: PluginClient | undefined;
const timers = new Set<NodeJS.Timeout>();

beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  for (const t of timers) clearInterval(t);
  timers.clear();
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
  await tmp.cleanup();
});

const EP = { NetworkID: 'n', EndpointID: 'e' };
const TIMEOUT = 200;

async function against(behaviour: Behaviour, opts: { tcp?: boolean; maxBodyBytes?: number; timeoutMs?: number } = {}) {
  server = opts.tcp ? await startServer({ tcp: true }, behaviour) : await startServer({ unix: path.join(tmp.dir, 'h.sock') }, behaviour);
  client = await connect(opts.tcp ? { url: `tcp://127.0.0.1:${server.port}` } : { socket: server.path! }, {
    timeoutMs: opts.timeoutMs ?? TIMEOUT,
    ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}),
  });
  const t0 = performance.now();
  const out = await client.tryCall('Leave', EP);
  const elapsed = performance.now() - t0;
  expect(out.ok).toBe(false);
  if (out.ok) throw new Error('unreachable');
  const cause = out.error.cause as TransportError;
  expect(cause).toBeInstanceOf(TransportError);
  return { out, err: out.error, cause, elapsed };
}

async function expectNoLeak(): Promise<void> {
  expect((client!.transport as SocketTransport).openConnections).toBe(0);
  await waitFor(() => server!.open() === 0);
}

describe('hostile servers', () => {
  it('silent server: timeout', async () => {
    const { err, cause, out, elapsed } = await against(() => {});
    expect(err.kind).toBe('timeout');
    expect(err.code).toBe('E_TIMEOUT');
    expect(cause.phase).toBe('headers');
    expect(cause.sent).toBe(true);
    expect(err.message).toMatch(/^Post "http:\/\/%2F.*h\.sock\/NetworkDriver\.Leave": context deadline exceeded/);
    expect(out.record.deviations.map((d) => d.id)).toEqual(['transport.timeout']);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 5);
    expect(elapsed).toBeLessThan(TIMEOUT + 2000);
    await expectNoLeak();
  });

  it('endless chunked body: timeout, partial body kept in the record', async () => {
    const { err, cause, out } = await against((req, sock) => {
      sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      const t = setInterval(() => sock.write('1\r\n \r\n'), 5);
      timers.add(t);
      sock.on('close', () => clearInterval(t));
    });
    expect(err.kind).toBe('timeout');
    expect(cause.phase).toBe('body');
    expect(out.record.status).toBe(200);
    expect(out.record.response!.length).toBeGreaterThan(0);
    expect(out.record.response!.trim()).toBe('');
    await expectNoLeak();
  });

  it('endless body with no timeout at all still ends at the body limit', async () => {
    const { err, cause } = await against(
      (req, sock) => {
        sock.write('HTTP/1.1 200 OK\r\n\r\n');
        const t = setInterval(() => sock.write(Buffer.alloc(4096, 0x20)), 1);
        timers.add(t);
        sock.on('close', () => clearInterval(t));
      },
      { timeoutMs: 0, maxBodyBytes: 64 * 1024 },
    );
    expect(err.kind).toBe('transport-error');
    expect(cause.kind).toBe('body-too-large');
  });

  it('huge body with Content-Length over the limit: refused at once', async () => {
    const { err, cause, out } = await against((req, sock) => sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n{`), { maxBodyBytes: 1024 });
    expect(err.kind).toBe('transport-error');
    expect(cause.kind).toBe('body-too-large');
    expect(out.record.deviations.map((d) => d.id)).toEqual(['transport.body-too-large']);
    await expectNoLeak();
  });

  it('huge close-delimited body: cut at the limit', async () => {
    const { cause, out } = await against((req, sock) => sock.end(Buffer.concat([Buffer.from('HTTP/1.1 500 X\r\n\r\n'), Buffer.alloc(5000, 0x61)])), { maxBodyBytes: 1000 });
    expect(cause.kind).toBe('body-too-large');
    expect(out.record.response).toBe('a'.repeat(1000));
    expect(out.record.status).toBe(500);
  });

  it('huge header block: bounded too', async () => {
    const { cause } = await against((req, sock) => sock.write(`HTTP/1.1 200 OK\r\nX-A: ${'a'.repeat(100_000)}`));
    expect(cause.kind).toBe('body-too-large');
    expect(cause.phase).toBe('headers');
  });

  it('connection reset mid-reply (TCP RST): transport error, not retried into a hang', async () => {
    const { err, cause } = await against(
      (req, sock) => {
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"Sco');
        setTimeout(() => sock.resetAndDestroy(), 10);
      },
      { tcp: true },
    );
    expect(err.kind).toBe('transport-error');
    expect(['reset', 'eof']).toContain(cause.kind as TransportErrorKind);
    expect(cause.phase).toBe('body');
    await expectNoLeak();
  });

  it('connection closed mid-body on a unix socket: "unexpected EOF"', async () => {
    const { err, cause, out } = await against((req, sock) => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"Sco'));
    expect(cause.kind).toBe('eof');
    expect(err.message).toBe('unexpected EOF');
    expect(out.record.deviations.map((d) => d.id)).toEqual(['transport.connection-lost']);
  });

  it('connection closed without any reply: "EOF"', async () => {
    const { err, cause } = await against((req, sock) => sock.end());
    expect(cause.kind).toBe('eof');
    expect(err.message).toMatch(/": EOF$/);
  });

  it('garbage bytes that never end a line: not-http at once, not at the timeout', async () => {
    const { err, cause, out, elapsed } = await against((req, sock) => sock.write('SSH-2.0-OpenSSH_9.2'), { timeoutMs: 10_000 });
    expect(err.kind).toBe('transport-error');
    expect(cause.kind).toBe('not-http');
    expect(err.message).toContain('malformed HTTP response "SSH-2.0-OpenSSH_9.2"');
    expect(out.record.deviations.map((d) => [d.id, d.level])).toEqual([['transport.not-http', 'must']]);
    expect(elapsed).toBeLessThan(5000);
    await expectNoLeak();
  });

  it('a bad status line and bad chunk sizes are not-http', async () => {
    const a = await against((req, sock) => sock.write('HTTP/1.1 OK\r\n\r\n'));
    expect(a.cause.kind).toBe('not-http');
    await server!.close();
    await client!.close();
    const b = await against((req, sock) => sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'));
    expect(b.cause.kind).toBe('not-http');
  });

  it('an AbortSignal ends a call at once', async () => {
    server = await startServer({ unix: path.join(tmp.dir, 'a.sock') }, () => {});
    client = await connect({ socket: server.path! }, { timeoutMs: 0 });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 30);
    const out = await client.tryCall('Leave', EP, { signal: ctl.signal });
    expect(out.ok).toBe(false);
    if (!out.ok) expect((out.error.cause as TransportError).kind).toBe('aborted');
    await expectNoLeak();
  });

  it('closing the client aborts calls in flight', async () => {
    server = await startServer({ unix: path.join(tmp.dir, 'x.sock') }, () => {});
    client = await connect({ socket: server.path! }, { timeoutMs: 0 });
    const pending = client.tryCall('Leave', EP);
    await waitFor(() => server!.requests.length === 1);
    await client.close();
    const out = await pending;
    expect(out.ok ? '' : (out.error.cause as TransportError).kind).toBe('aborted');
    await expectNoLeak();
  });

  it('a missing socket is a fast transport error (no-socket)', async () => {
    client = await connect({ socket: path.join(tmp.dir, 'absent.sock') });
    const out = await client.tryCall('Leave', EP);
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect((out.error.cause as TransportError).kind).toBe('no-socket');
      expect(out.error.message).toContain('connect: no such file or directory');
    }
  });

  it('100 Continue before the real reply is skipped; Connection: close is honoured', async () => {
    server = await startServer({ unix: path.join(tmp.dir, 'c.sock') }, (req, sock) =>
      sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}'),
    );
    client = await connect({ socket: server.path! });
    await client.call('Leave', EP);
    await client.call('Leave', EP);
    expect(server.accepted()).toBe(2);
    await waitFor(() => server!.open() === 0);
  });
});
