import fc from 'fast-check';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arbitraryOf, RequestPoolRequest, type IpamApi } from '../../src/protocol/index.js';
import { servePlugin, type PluginServer } from '../../src/sdk/index.js';
import { testDriver, testIpam } from './doubles.js';
import { settled, until } from '../helpers/settle.js';
import { dial, exchange, parseReplies, post, tempDir, type WireReply } from './wire.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let server: PluginServer;
let sock: string;
let aborted: string[] = [];
const signals: AbortSignal[] = [];
/** ReleasePool calls with PoolID "counted" handled so far. */
let counted = 0;
/** Told when a "wait-for-abort" call starts and when its signal aborts. */
let onWaitStarted: () => void = () => undefined;
let onWaitAborted: () => void = () => undefined;

/** An IPAM whose ReleasePool waits until its connection goes away (to observe ctx.signal). */
function ipamWithSlowCall(): IpamApi {
  return {
    ...testIpam(),
    releasePool: (req, ctx) => {
      if (req.PoolID === 'record-signal') signals.push(ctx.signal);
      if (req.PoolID === 'counted') counted++;
      if (req.PoolID !== 'wait-for-abort') return undefined;
      onWaitStarted();
      return new Promise<void>((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          aborted.push(ctx.path);
          onWaitAborted();
          resolve();
        });
      });
    },
  };
}

beforeAll(async () => {
  tmp = await tempDir();
  sock = join(tmp.dir, 'p.sock');
  server = await servePlugin({ driver: testDriver(), ipam: ipamWithSlowCall(), listen: { socket: sock } });
});

afterAll(async () => {
  await server.close();
  await tmp.cleanup();
});

const okBody = '{"PoolID":"LocalDefault/10.0.0.0/16","Address":"","Options":{}}\n';

function expectErr(r: WireReply | undefined, status: number): void {
  expect(r, 'a reply').toBeDefined();
  expect(r!.status).toBe(status);
  expect(typeof (r!.json as { Err?: unknown }).Err, r!.body).toBe('string');
}

async function stillServes(): Promise<void> {
  const r = await exchange(sock, [post('/IpamDriver.RequestAddress', okBody)]);
  expect(r.replies[0]?.status).toBe(200);
}

describe('HTTP/1.1 layer', () => {
  it('reuses one keep-alive connection for many sequential requests', async () => {
    const s = dial(sock);
    await once(s, 'connect');
    let buf: Buffer = Buffer.alloc(0);
    const replies: WireReply[] = [];
    let wake: (() => void) | null = null;
    s.on('data', (d: Buffer) => {
      const parsed = parseReplies(Buffer.concat([buf, d]));
      buf = parsed.rest;
      replies.push(...parsed.replies);
      wake?.();
    });
    let closed = false;
    s.on('close', () => (closed = true));
    for (let i = 0; i < 300; i++) {
      const got = new Promise<void>((r) => (wake = r));
      s.write(post(i % 2 === 0 ? '/IpamDriver.RequestAddress' : '/NetworkDriver.EndpointOperInfo', i % 2 === 0 ? okBody : '{"NetworkID":"n","EndpointID":"e"}'));
      await got;
    }
    expect(replies).toHaveLength(300);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(replies[1]!.json).toEqual({ Value: {} });
    expect(replies[0]!.headers['connection']).toBeUndefined();
    expect(closed).toBe(false);
    s.destroy();
  });

  it('answers pipelined requests in order', async () => {
    const reqs = Array.from({ length: 40 }, (_, i) => post('/IpamDriver.RequestPool', JSON.stringify({ AddressSpace: `s${i}` })));
    const r = await exchange(sock, [reqs.join('')], 40);
    expect(r.replies.map((x) => (x.json as { PoolID: string }).PoolID)).toEqual(reqs.map((_, i) => `s${i}/10.0.0.0/16`));
  });

  it('stops reading requests while the client does not read its replies, and answers all of them once it does (write backpressure)', async () => {
    // ~1 MB of pipelined requests, far more than the socket buffers hold in either direction.
    const n = 8000;
    counted = 0;
    const s = dial(sock);
    await once(s, 'connect');
    s.pause();
    let allSent = false;
    s.write(Array.from({ length: n }, () => post('/IpamDriver.ReleasePool', '{"PoolID":"counted"}')).join(''), () => {
      allSent = true;
    });
    // Until nothing moves any more: the server answered what it could, its replies filled the socket.
    await settled(() => counted);
    // It then stopped reading, so the client could not hand all its requests to the kernel
    // (a server that kept reading and queued its replies in memory would have taken them all).
    expect(counted).toBeGreaterThan(0);
    expect(counted).toBeLessThan(n);
    expect(allSent).toBe(false);
    let buf: Buffer = Buffer.alloc(0);
    let count = 0;
    await new Promise<void>((resolve) => {
      s.on('data', (d: Buffer) => {
        const parsed = parseReplies(Buffer.concat([buf, d]));
        buf = parsed.rest;
        count += parsed.replies.length;
        if (count >= n) resolve();
      });
      s.resume();
    });
    expect(count).toBe(n);
    expect(counted).toBe(n);
    expect(allSent).toBe(true);
    s.destroy();
  });

  const corpus: [string, string | Buffer, number][] = [
    ['garbage request line', 'GARBAGE\r\n\r\n', 400],
    ['request line without version', 'POST /IpamDriver.RequestPool\r\n\r\n', 400],
    ['HTTP/2.0', 'POST /IpamDriver.RequestPool HTTP/2.0\r\n\r\n', 505],
    ['bad version', 'POST /IpamDriver.RequestPool HTTX/1.1\r\n\r\n', 400],
    ['bad method token', 'PO(ST /IpamDriver.RequestPool HTTP/1.1\r\n\r\n', 400],
    ['target not a path', 'POST IpamDriver.RequestPool HTTP/1.1\r\n\r\n', 400],
    ['header without colon', 'POST /IpamDriver.RequestPool HTTP/1.1\r\nBad Header\r\n\r\n', 400],
    ['header name with space', 'POST /IpamDriver.RequestPool HTTP/1.1\r\nBad Name: x\r\n\r\n', 400],
    ['folded header', 'POST /IpamDriver.RequestPool HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n', 400],
    ['chunked body', 'POST /IpamDriver.RequestPool HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 411],
    ['TE and CL', 'POST /IpamDriver.RequestPool HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc', 400],
    ['non-numeric Content-Length', 'POST /IpamDriver.RequestPool HTTP/1.1\r\nContent-Length: 1x\r\n\r\n', 400],
    ['negative Content-Length', 'POST /IpamDriver.RequestPool HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400],
    ['conflicting Content-Length', 'POST /IpamDriver.RequestPool HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
    ['oversize body', 'POST /IpamDriver.RequestPool HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n{"AddressSpace":"', 413],
    ['oversize head', `POST /IpamDriver.RequestPool HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ['bare LF line ends', 'POST /IpamDriver.RequestPool HTTP/1.1\nContent-Length: 2\n\n{}', 400],
    ['unsupported Expect', 'POST /IpamDriver.RequestPool HTTP/1.1\r\nExpect: magic\r\nContent-Length: 2\r\n\r\n{}', 417],
    ['wrong HTTP method', 'GET /IpamDriver.RequestPool HTTP/1.1\r\n\r\n', 405],
    ['unknown path', post('/Nope.Nothing', '{}'), 404],
    ['empty body (retry)', post('/IpamDriver.RequestPool', ''), 400],
    ['malformed JSON', post('/IpamDriver.RequestPool', '{"AddressSpace":'), 400],
    ['non-object JSON', post('/IpamDriver.RequestPool', '[1]'), 400],
    ['wrong-typed field', post('/IpamDriver.RequestPool', '{"AddressSpace":1}'), 400],
    ['missing field', post('/IpamDriver.RequestPool', '{"Pool":""}'), 400],
    ['binary junk', Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]), 400],
  ];
  for (const [name, bytes, status] of corpus) {
    it(`answers ${status} {"Err"} for ${name} and keeps serving`, async () => {
      const r = await exchange(sock, [bytes]);
      expectErr(r.replies[0], status);
      await stillServes();
    });
  }

  it('answers HEAD with 405 headers and no body, keeping the connection usable', async () => {
    const s = dial(sock);
    await once(s, 'connect');
    s.write('HEAD /IpamDriver.ReleasePool HTTP/1.1\r\n\r\n');
    const [first] = (await once(s, 'data')) as [Buffer];
    const text = first.toString('latin1');
    expect(text.startsWith('HTTP/1.1 405 ')).toBe(true);
    expect(text.endsWith('\r\n\r\n')).toBe(true);
    s.write(post('/IpamDriver.ReleasePool', '{"PoolID":"p"}'));
    const [second] = (await once(s, 'data')) as [Buffer];
    expect(parseReplies(second).replies[0]!.status).toBe(200);
    s.destroy();
  });

  it('assembles a request dribbled in tiny pieces, with a pipelined one behind it', async () => {
    const space = 'x'.repeat(6000);
    const bytes = Buffer.from(post('/IpamDriver.RequestPool', JSON.stringify({ AddressSpace: space })) + post('/IpamDriver.RequestPool', '{"AddressSpace":"b"}'));
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const r = await exchange(sock, chunks, 2, 10_000);
    expect(r.replies.map((x) => (x.json as { PoolID: string }).PoolID)).toEqual([`${space}/10.0.0.0/16`, 'b/10.0.0.0/16']);
  });

  it('ignores empty lines before a request line', async () => {
    const r = await exchange(sock, ['\r\n', `\r\n${post('/IpamDriver.ReleasePool', '{"PoolID":"p"}')}\r\n`, post('/IpamDriver.ReleasePool', '{"PoolID":"p"}')], 2);
    expect(r.replies.map((x) => x.status)).toEqual([200, 200]);
  });

  it('names the field in a 400 over the wire', async () => {
    const r = await exchange(sock, [post('/IpamDriver.RequestAddress', '{"PoolID":"p","Options":[]}')]);
    expect(r.replies[0]!.json).toEqual({ Err: 'field Options: expected object or null, got array' });
  });

  it('fuzz: random bytes get a 4xx {"Err"} (or nothing) and never stop the server', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 300 }),
          fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from('POST /IpamDriver.RequestPool HTTP/1.1\r\n'), b])),
          fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from('POST /IpamDriver.RequestPool HTTP/1.1\r\nContent-Length: 20\r\n\r\n'), b])),
        ),
        fc.boolean(),
        async (bytes, terminate) => {
          const payload = terminate ? Buffer.concat([bytes, Buffer.from('\r\n\r\n')]) : Buffer.from(bytes);
          const r = await exchange(sock, [payload], 50, 3000, { end: true });
          expect(r.replies.length).toBeGreaterThan(0);
          for (const reply of r.replies) {
            expect(reply.status >= 400 && reply.status < 500, `${reply.status} ${reply.body}`).toBe(true);
            expect(typeof (reply.json as { Err?: unknown }).Err).toBe('string');
          }
        },
      ),
      { numRuns: 60 },
    );
    await stillServes();
  });

  it('fuzz: valid requests split at random points across writes are all answered in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbitraryOf(RequestPoolRequest), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { maxLength: 8 }),
        async (reqs, cuts) => {
          const bytes = Buffer.from(reqs.map((q) => post('/IpamDriver.RequestPool', JSON.stringify(q))).join(''));
          const points = [...new Set(cuts.map((c) => c % bytes.length))].filter((c) => c > 0).sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let prev = 0;
          for (const p of [...points, bytes.length]) {
            chunks.push(bytes.subarray(prev, p));
            prev = p;
          }
          const r = await exchange(sock, chunks, reqs.length);
          expect(r.replies.map((x) => x.status)).toEqual(reqs.map(() => 200));
          expect(r.replies.map((x) => (x.json as { PoolID: string }).PoolID)).toEqual(reqs.map((q) => `${q.AddressSpace}/10.0.0.0/16`));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('answers another client promptly while 300 connections stall mid-request', async () => {
    const stalled = [];
    for (let i = 0; i < 300; i++) {
      const s = dial(sock);
      s.on('error', () => undefined);
      s.write(i % 2 === 0 ? 'POST /IpamDriver.RequestPool HTTP/1.1\r\nContent-Le' : 'POST /IpamDriver.RequestPool HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"Addr');
      stalled.push(s);
    }
    await Promise.all(stalled.map((s) => (s.connecting ? once(s, 'connect') : undefined)));
    await until(() => server.connections >= 300, 'the server to accept the 300 stalled connections');
    const t0 = Date.now();
    const r = await exchange(sock, [post('/IpamDriver.RequestAddress', okBody)], 1, 2000);
    expect(r.replies[0]?.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    for (const s of stalled) s.destroy();
  });

  it('honours Connection: close and HTTP/1.0', async () => {
    const c = await exchange(sock, [post('/IpamDriver.ReleasePool', '{"PoolID":"p"}', 'Connection: close\r\n'), post('/IpamDriver.ReleasePool', '{"PoolID":"p"}')], 2);
    expect(c.replies).toHaveLength(1);
    expect(c.replies[0]!.headers['connection']).toBe('close');
    expect(c.closed).toBe(true);

    const h10 = 'POST /IpamDriver.ReleasePool HTTP/1.0\r\nContent-Length: 14\r\n\r\n{"PoolID":"p"}';
    const plain = await exchange(sock, [h10, h10], 2);
    expect(plain.replies).toHaveLength(1);
    expect(plain.closed).toBe(true);

    const ka = 'POST /IpamDriver.ReleasePool HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 14\r\n\r\n{"PoolID":"p"}';
    const kept = await exchange(sock, [ka, ka], 2);
    expect(kept.replies.map((r) => r.status)).toEqual([200, 200]);
    expect(kept.replies[0]!.headers['connection']).toBe('keep-alive');
  });

  it('sends 100 Continue for Expect: 100-continue', async () => {
    const s = dial(sock);
    await once(s, 'connect');
    s.write('POST /IpamDriver.ReleasePool HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 14\r\n\r\n');
    const [first] = (await once(s, 'data')) as [Buffer];
    expect(first.toString('latin1')).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    s.write('{"PoolID":"p"}');
    const [second] = (await once(s, 'data')) as [Buffer];
    expect(parseReplies(second).replies[0]!.status).toBe(200);
    s.destroy();
  });

  it('gives each call on a keep-alive connection its own signal', async () => {
    signals.length = 0;
    const req = post('/IpamDriver.ReleasePool', '{"PoolID":"record-signal"}');
    const r = await exchange(sock, [req, req, req], 3);
    expect(r.replies.map((x) => x.status)).toEqual([200, 200, 200]);
    expect(new Set(signals).size).toBe(3);
    expect(signals.some((s) => s.aborted)).toBe(false);
  });

  it('aborts the call signal when the client goes away while the call runs', async () => {
    aborted = [];
    const started = new Promise<void>((r) => (onWaitStarted = r));
    const abortSeen = new Promise<void>((r) => (onWaitAborted = r));
    const s = dial(sock);
    await once(s, 'connect');
    s.write(post('/IpamDriver.ReleasePool', '{"PoolID":"wait-for-abort"}'));
    // Go away only once the call runs (earlier, the server would see the close before the call).
    await started;
    s.destroy();
    await abortSeen;
    expect(aborted).toEqual(['/IpamDriver.ReleasePool']);
  });
});

describe('HTTP/1.1 timeouts', () => {
  it('answers 408 to a stalled request and closes idle keep-alive connections', async () => {
    const t = await tempDir();
    const srv = await servePlugin({
      ipam: testIpam(),
      listen: { socket: join(t.dir, 't.sock') },
      headersTimeoutMs: 150,
      bodyTimeoutMs: 150,
      keepAliveTimeoutMs: 150,
    });
    try {
      const head = await exchange(srv.address, ['POST /IpamDriver.RequestPool HTTP/1.1\r\nConte'], 2, 3000);
      expectErr(head.replies[0], 408);
      expect(head.closed).toBe(true);
      const body = await exchange(srv.address, ['POST /IpamDriver.RequestPool HTTP/1.1\r\nContent-Length: 10\r\n\r\n{"'], 1, 3000);
      expectErr(body.replies[0], 408);
      const idle = await exchange(srv.address, [post('/IpamDriver.ReleasePool', '{"PoolID":"p"}')], 2, 3000);
      expect(idle.replies).toHaveLength(1);
      expect(idle.closed).toBe(true);
    } finally {
      await srv.close();
      await t.cleanup();
    }
  });
});
