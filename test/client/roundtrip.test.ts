/** Property: whatever valid request the client encodes, Go-decoding the wire body gives it back. */
import fc from 'fast-check';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type PluginClient } from '../../src/client/index.js';
import { ALL_METHODS, arbitraryOf, goDecode, goEncode, validatorOf, zeroOf, type MethodKey, type MethodSpec, type Node, type Schema } from '../../src/protocol/index.js';
import { Methods } from '../../src/protocol/methods.js';
import { jsonBehaviour, startServer, tempDir, type TestServer } from './helpers.js';

const withRequest = (Object.keys(Methods) as MethodKey[]).filter((k) => Methods[k].request !== null);

const isEmpty = (v: unknown): boolean =>
  v === undefined || v === null || v === '' || v === false || v === 0 || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);

/** What a Go struct holds after decoding `v` sent through encoding/json: absent and omitempty-empty fields are zero values. */
function goView(node: Node, v: unknown): unknown {
  if (v === undefined) return zeroOf(node);
  switch (node.kind) {
    case 'nullable':
      return v === null ? null : goView(node.inner, v);
    case 'array':
      return v === null ? null : (v as unknown[]).map((x) => goView(node.items, x));
    case 'record':
      return v === null ? null : Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, goView(node.values, x)]));
    case 'object': {
      const obj = (v ?? {}) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [name, f] of Object.entries(node.fields)) {
        const fv = obj[name];
        out[name] = fv === undefined || (f.omitEmpty && isEmpty(fv)) ? zeroOf(f.node) : goView(f.node, fv);
      }
      return out;
    }
    case 'unknown':
      return JSON.parse(JSON.stringify(v)) as unknown;
    default:
      return v;
  }
}

function keyOf(spec: MethodSpec): MethodKey {
  return (Object.keys(Methods) as MethodKey[]).find((k) => Methods[k] === spec)!;
}

describe('encoded request bodies decode back (in-process)', () => {
  for (const key of withRequest) {
    const spec = Methods[key] as MethodSpec & { request: Schema<unknown> };
    it(key, async () => {
      const bodies: string[] = [];
      const client = await connect({
        handler: {
          async handle(req) {
            bodies.push(Buffer.from(req.body).toString('utf8'));
            return { status: 200, headers: {}, body: Buffer.from('{}') };
          },
        },
      });
      await fc.assert(
        fc.asyncProperty(arbitraryOf(spec.request), async (req) => {
          bodies.length = 0;
          await client.tryCall(key, req as never);
          const body = bodies[0]!;
          expect(body.endsWith('\n')).toBe(true);
          const decoded = goDecode(spec.request, JSON.parse(body));
          expect(decoded.ok).toBe(true);
          if (!decoded.ok) return;
          expect(validatorOf(spec.request)(decoded.value)).toBeNull();
          // Encoding what was decoded gives the same bytes: nothing was lost or reordered on the way.
          expect(goEncode(spec.request, decoded.value)).toBe(body);
          // And it equals an independent model of Go's view of the original request.
          expect(decoded.value).toEqual(goView(spec.request.node, req));
        }),
        { numRuns: 60 },
      );
      await client.close();
    });
  }
});

describe('over a real unix socket', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let server: TestServer;
  let client: PluginClient;
  beforeAll(async () => {
    tmp = await tempDir();
    server = await startServer({ unix: path.join(tmp.dir, 'rt.sock') }, jsonBehaviour());
    client = await connect({ socket: server.path! });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
    await tmp.cleanup();
  });

  it('the server receives exactly the goEncode bytes, Content-Length matching', async () => {
    const spec = Methods.CreateEndpoint;
    await fc.assert(
      fc.asyncProperty(arbitraryOf(spec.request), async (req) => {
        const before = server.requests.length;
        await client.call('CreateEndpoint', req);
        const seen = server.requests[before]!;
        expect(seen.body.toString('utf8')).toBe(goEncode(spec.request, req));
        expect(seen.headerLines.find(([k]) => k === 'Content-Length')![1]).toBe(String(seen.body.length));
      }),
      { numRuns: 40 },
    );
    // All on one keep-alive connection.
    expect(new Set(server.requests.map((r) => r.conn)).size).toBe(1);
  });

  it('covers every method with a request body', () => {
    expect(withRequest.length).toBe(ALL_METHODS.filter((m) => m.request !== null).length);
    expect(withRequest.map((k) => keyOf(Methods[k] as MethodSpec))).toEqual(withRequest);
  });
});
