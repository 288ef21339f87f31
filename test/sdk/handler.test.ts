import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALL_METHODS,
  arbitraryOf,
  CONTENT_TYPE,
  corruptionOf,
  DRIVER_METHODS,
  IPAM_METHODS,
  type IpamApi,
  type MethodSpec,
  type NetworkDriverApi,
  type Schema,
} from '../../src/protocol/index.js';
import { createPluginHandler, inject, PluginError, SdkOptionsError } from '../../src/sdk/index.js';
import { testDriver, testIpam } from './doubles.js';

/** Every handler of both interfaces, answering `{}` (enough where validation is under test). */
function fullObjects(): { driver: NetworkDriverApi; ipam: IpamApi } {
  const driver = Object.fromEntries(DRIVER_METHODS.map((m) => [m.handler, () => ({})])) as unknown as NetworkDriverApi;
  const ipam = Object.fromEntries(IPAM_METHODS.map((m) => [m.handler, () => ({})])) as unknown as IpamApi;
  return { driver, ipam };
}

const withRequest = ALL_METHODS.filter((m): m is MethodSpec & { request: Schema<unknown> } => m.request !== null);

describe('activation', () => {
  it('lists only the implemented interfaces, NetworkDriver first', async () => {
    const cases: [Parameters<typeof createPluginHandler>[0], string[]][] = [
      [{ driver: testDriver() }, ['NetworkDriver']],
      [{ ipam: testIpam() }, ['IpamDriver']],
      [{ ipam: testIpam(), driver: testDriver() }, ['NetworkDriver', 'IpamDriver']],
    ];
    for (const [opts, want] of cases) {
      const r = await inject(createPluginHandler(opts), '/Plugin.Activate');
      expect(r.status).toBe(200);
      expect(r.text).toBe(`${JSON.stringify({ Implements: want })}\n`);
      expect(r.headers['content-type']).toBe(CONTENT_TYPE);
    }
  });

  it('ignores any body on argument-less methods', async () => {
    const h = createPluginHandler({ driver: testDriver(), ipam: testIpam() });
    for (const body of [undefined, 'garbage{', '[1,2]', '{"x":1}']) {
      expect((await inject(h, '/Plugin.Activate', body)).status).toBe(200);
      const caps = await inject(h, '/NetworkDriver.GetCapabilities', body);
      expect(caps.json).toEqual({ Scope: 'local', ConnectivityScope: 'local' });
      expect((await inject(h, '/IpamDriver.GetDefaultAddressSpaces', body)).json).toEqual({
        LocalDefaultAddressSpace: 'LocalDefault',
        GlobalDefaultAddressSpace: 'GlobalDefault',
      });
    }
  });

  it('refuses to build a handler for nothing', () => {
    expect(() => createPluginHandler({})).toThrow(SdkOptionsError);
  });
});

describe('routing', () => {
  it('answers 404 {"Err"} for unimplemented optional methods, other interfaces and unknown paths', async () => {
    const h = createPluginHandler({ driver: testDriver() });
    for (const path of ['/NetworkDriver.AllocateNetwork', '/NetworkDriver.ProgramExternalConnectivity', '/IpamDriver.RequestPool', '/Nope', '/']) {
      const r = await inject(h, path, { NetworkID: 'n' });
      expect(r.status, path).toBe(404);
      expect(r.json).toEqual({ Err: '404 page not found' });
    }
    expect(h.paths).not.toContain('/NetworkDriver.AllocateNetwork');
    expect(h.paths).toContain('/NetworkDriver.Join');
  });

  it('answers 405 with Allow: POST for other HTTP methods', async () => {
    const h = createPluginHandler({ ipam: testIpam() });
    for (const method of ['GET', 'PUT', 'DELETE', 'HEAD']) {
      const r = await inject(h, '/IpamDriver.RequestPool', { AddressSpace: 'x' }, { method });
      expect(r.status).toBe(405);
      expect(r.headers['allow']).toBe('POST');
      expect(typeof (r.json as { Err: unknown }).Err).toBe('string');
    }
    expect((await inject(h, '/Plugin.Activate', undefined, { method: 'GET' })).status).toBe(405);
  });

  it('serves GwAllocCheck when implemented, except under the docker-20.10 profile', async () => {
    const driver = { ...testDriver(), gwAllocCheck: () => ({ SkipIPv4: true }) };
    expect((await inject(createPluginHandler({ driver }), '/NetworkDriver.GwAllocCheck', { Options: {} })).json).toEqual({ SkipIPv4: true });
    expect((await inject(createPluginHandler({ driver, profile: 'moby' }), '/NetworkDriver.GwAllocCheck', {})).status).toBe(200);
    expect((await inject(createPluginHandler({ driver, profile: 'docker-20.10' }), '/NetworkDriver.GwAllocCheck', {})).status).toBe(404);
    expect((await inject(createPluginHandler({ driver: testDriver() }), '/NetworkDriver.GwAllocCheck', {})).status).toBe(404);
  });

  it('ignores a query string when routing', async () => {
    const r = await inject(createPluginHandler({ ipam: testIpam() }), '/IpamDriver.ReleasePool?x=1', { PoolID: 'p' });
    expect(r.status).toBe(200);
  });
});

describe('requests', () => {
  it('passes valid requests to the handler and answers JSON + newline; void -> {}', async () => {
    const driver = testDriver();
    const h = createPluginHandler({ driver });
    const req = { NetworkID: 'n1', Options: { a: 1 }, IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16' }], IPv6Data: [] };
    const r = await inject(h, '/NetworkDriver.CreateNetwork', req);
    expect(r.status).toBe(200);
    expect(r.text).toBe('{}\n');
    expect(driver.calls).toEqual([{ handler: 'createNetwork', req }]);
    const j = await inject(h, '/NetworkDriver.Join', { NetworkID: 'n1', EndpointID: 'e1', SandboxKey: '/x', Options: null });
    expect(j.json).toEqual({ InterfaceName: { SrcName: 'veth0', DstPrefix: 'eth' }, Gateway: '10.0.0.1' });
    expect(j.text.endsWith('}\n')).toBe(true);
  });

  it('accepts every generated valid request of every method', async () => {
    const { driver, ipam } = fullObjects();
    const h = createPluginHandler({ driver, ipam });
    for (const spec of withRequest) {
      await fc.assert(
        fc.asyncProperty(arbitraryOf(spec.request), async (value) => {
          const r = await inject(h, spec.path, value);
          expect(r.status, `${spec.path} ${r.text}`).toBe(200);
        }),
        { numRuns: 25 },
      );
    }
  });

  it('answers 400 {"Err"} naming the field for a generated corpus of corrupted requests', async () => {
    const { driver, ipam } = fullObjects();
    const h = createPluginHandler({ driver, ipam });
    let checked = 0;
    for (const spec of withRequest) {
      let arb: fc.Arbitrary<{ value: unknown; field: string }>;
      try {
        arb = corruptionOf(spec.request);
      } catch {
        continue; // nothing required to corrupt
      }
      checked++;
      await fc.assert(
        fc.asyncProperty(arb, async (c) => {
          const r = await inject(h, spec.path, c.value);
          expect(r.status, `${spec.path} ${JSON.stringify(c.value)}`).toBe(400);
          const err = (r.json as { Err: string }).Err;
          expect(err.startsWith(`field ${c.field}`), err).toBe(true);
        }),
        { numRuns: 40 },
      );
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('answers 400 for an empty body on a method with arguments (dockerd retries)', async () => {
    const ipam = testIpam();
    const h = createPluginHandler({ ipam });
    for (const body of [undefined, '', '  \n']) {
      const r = await inject(h, '/IpamDriver.ReleaseAddress', body);
      expect(r.status).toBe(400);
      expect((r.json as { Err: string }).Err).toMatch(/empty request body: IpamDriver\.ReleaseAddress/);
    }
    expect(ipam.calls).toEqual([]);
  });

  it('answers 400 for malformed JSON and for non-object bodies', async () => {
    const h = createPluginHandler({ ipam: testIpam() });
    const cases: [string, RegExp][] = [
      ['{"PoolID":', /^malformed JSON body/],
      ['{"PoolID":"p"} trailing', /^malformed JSON body/],
      ['\u00ff\u00fe', /^malformed JSON body/],
      ['null', /^body: expected a JSON object, got null/],
      ['[]', /^body: expected a JSON object, got array/],
      ['"str"', /^body: expected a JSON object, got string/],
      ['42', /^body: expected a JSON object, got number/],
      ['true', /^body: expected a JSON object, got boolean/],
    ];
    for (const [body, re] of cases) {
      const r = await inject(h, '/IpamDriver.ReleasePool', body);
      expect(r.status, body).toBe(400);
      expect((r.json as { Err: string }).Err).toMatch(re);
    }
  });

  it('answers 400, not 500, for absurdly nested bodies', async () => {
    const deep = `{"PoolID":"p","Options":${'['.repeat(200_000)}"proto"${']'.repeat(200_000)}}`;
    const r = await inject(createPluginHandler({ ipam: testIpam() }), '/IpamDriver.ReleasePool', deep);
    expect(r.status).toBe(400);
  });

  it('answers 413 for bodies over the limit', async () => {
    const h = createPluginHandler({ ipam: testIpam(), bodyLimit: 64 });
    const r = await inject(h, '/IpamDriver.ReleasePool', { PoolID: 'x'.repeat(100) });
    expect(r.status).toBe(413);
    expect((await inject(h, '/IpamDriver.ReleasePool', { PoolID: 'short' })).status).toBe(200);
  });

  it('keeps prototype-pollution keys inert', async () => {
    let seen: Record<string, unknown> = {};
    const ipam: IpamApi = {
      ...testIpam(),
      requestAddress: (req) => {
        seen = Object.assign({}, req) as Record<string, unknown>;
        const opts = Object.assign({}, req.Options) as Record<string, unknown>;
        return { Address: `${String(opts['polluted'])}`, Data: {} };
      },
    };
    const h = createPluginHandler({ ipam });
    const body =
      '{"PoolID":"p","Address":"","Options":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}},' +
      '"__proto__":{"isAdmin":true},"constructor":{"prototype":{"isAdmin":true}}}';
    const r = await inject(h, '/IpamDriver.RequestAddress', body);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ Address: 'undefined', Data: {} });
    expect(seen['isAdmin']).toBeUndefined();
    expect(Object.getPrototypeOf(seen)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
  });
});

describe('handler failures', () => {
  it('turns a throw or rejection into 500 {"Err": message} for both interfaces', async () => {
    const driver: NetworkDriverApi = {
      ...testDriver(),
      createNetwork: () => {
        throw new Error('boom sync');
      },
      join: async () => {
        throw new Error('boom async');
      },
      leave: () => Promise.reject('plain string'),
    };
    const ipam: IpamApi = {
      ...testIpam(),
      requestPool: () => {
        throw new PluginError('pool conflict', { status: 409 });
      },
      releasePool: () => {
        throw new Error('');
      },
    };
    const h = createPluginHandler({ driver, ipam });
    const expectations: [string, unknown, number, string][] = [
      ['/NetworkDriver.CreateNetwork', { NetworkID: 'n' }, 500, 'boom sync'],
      ['/NetworkDriver.Join', { NetworkID: 'n', EndpointID: 'e', SandboxKey: 'k' }, 500, 'boom async'],
      ['/NetworkDriver.Leave', { NetworkID: 'n', EndpointID: 'e' }, 500, 'plain string'],
      ['/IpamDriver.RequestPool', { AddressSpace: 'a' }, 409, 'pool conflict'],
      ['/IpamDriver.ReleasePool', { PoolID: 'p' }, 500, 'IpamDriver.ReleasePool failed'],
    ];
    for (const [path, body, status, err] of expectations) {
      const r = await inject(h, path, body);
      expect(r.status, path).toBe(status);
      expect(r.json).toEqual({ Err: err });
      expect(r.headers['content-type']).toBe(CONTENT_TYPE);
    }
  });

  it('answers 500 for results that are not JSON', async () => {
    const ipam: IpamApi = { ...testIpam(), requestAddress: () => ({ Address: 'a', Data: {}, n: 1n }) as never };
    const r = await inject(createPluginHandler({ ipam }), '/IpamDriver.RequestAddress', { PoolID: 'p' });
    expect(r.status).toBe(500);
    expect((r.json as { Err: string }).Err).toMatch(/not JSON-serializable/);
  });

  it('checks results against the response schema only when asked', async () => {
    const ipam: IpamApi = { ...testIpam(), requestAddress: () => ({ Address: 7 }) as never };
    const lax = await inject(createPluginHandler({ ipam }), '/IpamDriver.RequestAddress', { PoolID: 'p' });
    expect(lax.status).toBe(200);
    const strict = await inject(createPluginHandler({ ipam, validateResponses: true }), '/IpamDriver.RequestAddress', { PoolID: 'p' });
    expect(strict.status).toBe(500);
    expect((strict.json as { Err: string }).Err).toMatch(/invalid reply: field Address: expected string, got integer/);
  });

  it('rejects PluginError statuses outside 400..599', () => {
    expect(() => new PluginError('x', { status: 200 })).toThrow(RangeError);
    expect(new PluginError('x').status).toBe(500);
    expect(new PluginError('x').code).toBe('E_PLUGIN');
  });
});

describe('call context', () => {
  it('passes the path and the caller signal', async () => {
    let seenPath = '';
    let seenSignal: AbortSignal | undefined;
    const ipam: IpamApi = {
      ...testIpam(),
      releasePool: (_req, ctx) => {
        seenPath = ctx.path;
        seenSignal = ctx.signal;
      },
    };
    const ac = new AbortController();
    await inject(createPluginHandler({ ipam }), '/IpamDriver.ReleasePool', { PoolID: 'p' }, { signal: ac.signal });
    expect(seenPath).toBe('/IpamDriver.ReleasePool');
    expect(seenSignal).toBe(ac.signal);
  });
});
