/**
 * The recorder forwards byte for byte: fast-check generates dockerd-like
 * request streams (empty Host, no Content-Type, keep-alive, pipelining,
 * split writes) and hostile upstream replies (any header case and order,
 * chunked with extensions and trailers, close-delimited, split writes,
 * garbage, a close in the middle of the body), and both ends must see
 * exactly the bytes the other end sent, while the trace holds each exchange.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrace, bodyBytes } from '../../src/record/trace.js';
import { recordInFront, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

type Framing = 'length' | 'chunked' | 'close';

interface ReplySpec {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
  readonly framing: Framing;
  /** Chunk sizes for chunked framing (cycled). */
  readonly chunkSizes: readonly number[];
  readonly extension: boolean;
  readonly trailer: boolean;
}

interface RequestSpec {
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

type Ending = { readonly kind: 'normal' } | { readonly kind: 'cut'; readonly at: number } | { readonly kind: 'garbage'; readonly bytes: Uint8Array };

interface Scenario {
  readonly exchanges: readonly { readonly request: RequestSpec; readonly reply: ReplySpec }[];
  readonly pipelined: boolean;
  readonly requestSplits: readonly number[];
  readonly replySplits: readonly number[];
  readonly ending: Ending;
}

const PATHS = ['/Plugin.Activate', '/IpamDriver.RequestPool', '/IpamDriver.RequestAddress', '/NetworkDriver.Join', '/NetworkDriver.CreateEndpoint', '/Foo.Bar'];

const headerName = fc.constantFrom('X-Trace', 'x-lower', 'X-UPPER', 'Server', 'content-type', 'Content-Type', 'Date', 'Vary');
const headerValue = fc.stringMatching(/^[ -~]{0,20}$/).map((s) => s.trim());

const bodyArb = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.json({ maxDepth: 2 }).map((j) => new TextEncoder().encode(`${j}\n`)),
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
);

const requestArb: fc.Arbitrary<RequestSpec> = fc.record({
  path: fc.constantFrom(...PATHS),
  host: fc.constantFrom('', 'plugin.moby.localhost'),
  extra: fc.array(fc.tuple(headerName, headerValue), { maxLength: 3 }),
  body: bodyArb,
}).map(({ path, host, extra, body }) => ({
  path,
  // dockerd's order (protocol.md App. B): Host, User-Agent, Content-Length, Accept; no Content-Type.
  headers: [['Host', host], ['User-Agent', 'Go-http-client/1.1'], ['Content-Length', String(body.length)], ['Accept', 'application/vnd.docker.plugins.v1.2+json'], ...extra] as const,
  body,
}));

const replyArb = (framing: fc.Arbitrary<Framing>): fc.Arbitrary<ReplySpec> =>
  fc.record({
    status: fc.constantFrom(200, 200, 200, 404, 500, 201, 400),
    reason: fc.constantFrom('OK', '', 'Whatever Text'),
    headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
    body: bodyArb,
    framing,
    chunkSizes: fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }),
    extension: fc.boolean(),
    trailer: fc.boolean(),
  });

function requestBytes(r: RequestSpec): Buffer {
  const head = `POST ${r.path} HTTP/1.1\r\n${r.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), r.body]);
}

function replyBytes(r: ReplySpec): Buffer {
  const framingHeader = r.framing === 'length' ? [['Content-Length', String(r.body.length)]] : r.framing === 'chunked' ? [['Transfer-Encoding', 'chunked']] : [];
  const headers = [...r.headers, ...framingHeader];
  const head = Buffer.from(`HTTP/1.1 ${r.status}${r.reason === '' ? '' : ` ${r.reason}`}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, 'latin1');
  if (r.framing !== 'chunked') return Buffer.concat([head, r.body]);
  const parts: Buffer[] = [head];
  let pos = 0;
  let i = 0;
  while (pos < r.body.length) {
    const size = Math.min(r.chunkSizes[i++ % r.chunkSizes.length]!, r.body.length - pos);
    parts.push(Buffer.from(`${size.toString(16)}${r.extension ? ';ext=1' : ''}\r\n`, 'latin1'), Buffer.from(r.body.subarray(pos, pos + size)), Buffer.from('\r\n'));
    pos += size;
  }
  parts.push(Buffer.from(`0\r\n${r.trailer ? 'X-Trailer: t\r\n' : ''}\r\n`, 'latin1'));
  return Buffer.concat(parts);
}

function split(buf: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < buf.length) {
    const n = sizes.length === 0 ? buf.length : Math.max(1, sizes[i++ % sizes.length]!);
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .tuple(
    fc.array(fc.record({ request: requestArb, reply: replyArb(fc.constantFrom<Framing>('length', 'chunked')) }), { minLength: 1, maxLength: 4 }),
    fc.option(replyArb(fc.constant<Framing>('close')), { nil: undefined }),
    requestArb,
    fc.boolean(),
    fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 4 }),
    fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 4 }),
    fc.oneof(
      { weight: 3, arbitrary: fc.constant<Ending>({ kind: 'normal' }) },
      fc.integer({ min: 1, max: 10_000 }).map((at): Ending => ({ kind: 'cut', at })),
      fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes): Ending => ({ kind: 'garbage', bytes: Buffer.concat([Buffer.from('NOT-HTTP '), bytes]) })),
    ),
  )
  .map(([ex, closeReply, closeRequest, pipelined, requestSplits, replySplits, ending]) => ({
    // A close-delimited reply can only be the last one on its connection.
    exchanges: closeReply !== undefined && ending.kind === 'normal' ? [...ex, { request: closeRequest, reply: closeReply }] : ex,
    pipelined,
    requestSplits,
    replySplits,
    ending,
  }));

/** An upstream that answers the scenario's replies, each after its request's last byte arrived. */
async function scriptedUpstream(path: string, s: Scenario, received: Buffer[]): Promise<Server> {
  const reqEnds: number[] = [];
  let total = 0;
  for (const e of s.exchanges) reqEnds.push((total += requestBytes(e.request).length));
  const server = createServer({ allowHalfOpen: true }, (sock: Socket) => {
    let got = 0;
    let answered = 0;
    let writing = Promise.resolve();
    sock.on('error', () => undefined);
    sock.on('data', (c: Buffer) => {
      received.push(Buffer.from(c));
      got += c.length;
      while (answered < s.exchanges.length && got >= reqEnds[answered]!) {
        const idx = answered++;
        const last = idx === s.exchanges.length - 1;
        writing = writing.then(async () => {
          let bytes = replyBytes(s.exchanges[idx]!.reply);
          if (last && s.ending.kind === 'garbage') bytes = Buffer.from(s.ending.bytes);
          if (last && s.ending.kind === 'cut') bytes = bytes.subarray(0, Math.min(bytes.length - 1, s.ending.at));
          for (const piece of split(bytes, s.replySplits)) {
            sock.write(piece);
            await tick();
          }
          if (last && (s.ending.kind !== 'normal' || s.exchanges[idx]!.reply.framing === 'close')) sock.end();
        });
      }
    });
    sock.on('end', () => void writing.then(() => sock.end()));
  });
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}

/** What the scenario's upstream sends in total (what the client must receive). */
function expectedReplyStream(s: Scenario): Buffer {
  return Buffer.concat(
    s.exchanges.map((e, i) => {
      const last = i === s.exchanges.length - 1;
      const bytes = replyBytes(e.reply);
      if (last && s.ending.kind === 'garbage') return Buffer.from(s.ending.bytes);
      if (last && s.ending.kind === 'cut') return bytes.subarray(0, Math.min(bytes.length - 1, s.ending.at));
      return bytes;
    }),
  );
}

let runNo = 0;

async function runScenario(s: Scenario): Promise<void> {
  const id = ++runNo;
  const upstreamReceived: Buffer[] = [];
  const upstream = await scriptedUpstream(`${dir.path}/up-${id}.sock`, s, upstreamReceived);
  const rec = await recordInFront(dir.path, `${dir.path}/up-${id}.sock`);
  const expected = expectedReplyStream(s);
  const requests = s.exchanges.map((e) => requestBytes(e.request));
  try {
    const clientGot: Buffer[] = [];
    const sock = netConnect(rec.socket);
    sock.on('error', () => undefined);
    let gotLen = 0;
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    const enough = new Promise<void>((resolve) => {
      sock.on('data', (c: Buffer) => {
        clientGot.push(c);
        gotLen += c.length;
        if (gotLen >= expected.length && s.ending.kind === 'normal' && s.exchanges.at(-1)!.reply.framing !== 'close') resolve();
      });
      sock.on('end', () => resolve());
    });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const stream = s.pipelined ? [Buffer.concat(requests)] : requests;
    for (const [i, r] of stream.entries()) {
      for (const piece of split(r, s.requestSplits)) {
        sock.write(piece);
        await tick();
      }
      if (!s.pipelined && i < stream.length - 1) {
        // Keep-alive, one at a time: wait for this reply to arrive before sending the next request.
        const want = expectedReplyStream({ ...s, exchanges: s.exchanges.slice(0, i + 1), ending: { kind: 'normal' } }).length;
        while (gotLen < want) await new Promise((r) => setTimeout(r, 1));
      }
    }
    await Promise.race([enough, new Promise((r) => setTimeout(r, 3000))]);
    sock.end();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
    sock.destroy();
    expect(Buffer.concat(clientGot).equals(expected), 'dockerd gets exactly the plugin\'s bytes').toBe(true);
    expect(Buffer.concat(upstreamReceived).equals(Buffer.concat(requests)), 'the plugin gets exactly dockerd\'s bytes').toBe(true);
  } finally {
    await rec.stop();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
  // The trace: one call line per exchange, with the bytes as they passed.
  const trace = parseTrace(readFileSync(rec.trace, 'utf8'));
  const calls = trace.sessions[0]!.calls;
  expect(calls.length).toBe(s.exchanges.length);
  for (const [i, e] of s.exchanges.entries()) {
    const c = calls.find((x) => x.seq === i + 1)!;
    expect(c.request.path).toBe(e.request.path);
    expect(c.request.headers).toEqual(e.request.headers.map(([k, v]) => [k, v]));
    expect(bodyBytes(c.request).equals(Buffer.from(e.request.body))).toBe(true);
    const last = i === s.exchanges.length - 1;
    if (last && s.ending.kind !== 'normal') {
      expect(c.reply).toBeUndefined();
      expect(c.error?.kind).toBe(s.ending.kind === 'garbage' ? 'upstream-not-http' : 'upstream-closed');
      continue;
    }
    expect(c.reply?.status).toBe(e.reply.status);
    expect(bodyBytes(c.reply!).equals(Buffer.from(e.reply.body))).toBe(true);
    expect(c.reply!.headers.slice(0, e.reply.headers.length)).toEqual(e.reply.headers.map(([k, v]) => [k, v]));
  }
}

describe('cnmkit record: byte-exact forwarding', () => {
  it('under generated traffic and hostile replies, both ends see exactly the other end\'s bytes', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, runScenario), { numRuns: 60, seed: 1305 });
  }, 120_000);

  it('a reply larger than the hold limit streams through unchanged, the trace keeps its first MiB', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024 + 17, 'x');
    const s: Scenario = {
      exchanges: [{ request: { path: '/IpamDriver.RequestPool', headers: [['Host', ''], ['Content-Length', '0']], body: new Uint8Array(0) }, reply: { status: 200, reason: 'OK', headers: [], body, framing: 'chunked', chunkSizes: [65536], extension: false, trailer: false } }],
      pipelined: false,
      requestSplits: [],
      replySplits: [100_000],
      ending: { kind: 'normal' },
    };
    const id = ++runNo;
    const got: Buffer[] = [];
    const upstream = await scriptedUpstream(`${dir.path}/big-${id}.sock`, s, got);
    const rec = await recordInFront(dir.path, `${dir.path}/big-${id}.sock`, { holdBytes: 1024 * 1024 });
    const sock = netConnect(rec.socket);
    const chunks: Buffer[] = [];
    const want = replyBytes(s.exchanges[0]!.reply);
    await new Promise<void>((resolve) => {
      let n = 0;
      sock.on('data', (c: Buffer) => {
        chunks.push(c);
        n += c.length;
        if (n >= want.length) resolve();
      });
      sock.write(requestBytes(s.exchanges[0]!.request));
    });
    sock.destroy();
    await rec.stop();
    await new Promise<void>((r) => upstream.close(() => r()));
    expect(Buffer.concat(chunks).equals(want)).toBe(true);
    const call = parseTrace(readFileSync(rec.trace, 'utf8')).sessions[0]!.calls[0]!;
    expect(call.reply?.truncated).toBe(body.length);
    expect(bodyBytes(call.reply!).length).toBe(1024 * 1024);
  }, 30_000);
});
