import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALL_METHODS,
  arbitraryOf,
  corruptionOf,
  formatPath,
  goDecode,
  goEncode,
  Methods,
  RequestPoolResponse,
  validatorOf,
  type MethodSpec,
  type Schema,
} from '../../src/protocol/index.js';

const withRequest = ALL_METHODS.filter((m): m is MethodSpec & { request: Schema<unknown> } => m.request !== null);

describe('method table', () => {
  it('covers every endpoint of protocol.md §2 with the right paths', () => {
    const paths = ALL_METHODS.map((m) => m.path).sort();
    expect(paths).toEqual(
      [
        '/IpamDriver.GetCapabilities', '/IpamDriver.GetDefaultAddressSpaces', '/IpamDriver.ReleaseAddress',
        '/IpamDriver.ReleasePool', '/IpamDriver.RequestAddress', '/IpamDriver.RequestPool',
        '/NetworkDriver.AllocateNetwork', '/NetworkDriver.CreateEndpoint', '/NetworkDriver.CreateNetwork',
        '/NetworkDriver.DeleteEndpoint', '/NetworkDriver.DeleteNetwork', '/NetworkDriver.DiscoverDelete',
        '/NetworkDriver.DiscoverNew', '/NetworkDriver.EndpointOperInfo', '/NetworkDriver.FreeNetwork',
        '/NetworkDriver.GetCapabilities', '/NetworkDriver.GwAllocCheck', '/NetworkDriver.Join', '/NetworkDriver.Leave',
        '/NetworkDriver.ProgramExternalConnectivity', '/NetworkDriver.RevokeExternalConnectivity', '/Plugin.Activate',
      ].sort(),
    );
    expect(Methods.RequestAddress.errorField).toBe('Error');
    expect(Methods.Join.errorField).toBe('Err');
    expect(Methods.GwAllocCheck.profiles).toEqual(['moby']);
  });
});

describe('validators', () => {
  for (const spec of withRequest) {
    it(`${spec.path}: generated valid requests pass, and survive a Go encode/decode round trip`, () => {
      const validate = validatorOf(spec.request);
      fc.assert(
        fc.property(arbitraryOf(spec.request), (req) => {
          expect(validate(req)).toBeNull();
          const decoded = goDecode(spec.request, JSON.parse(goEncode(spec.request, req)));
          expect(decoded.ok).toBe(true);
          if (decoded.ok) expect(validate(decoded.value)).toBeNull();
        }),
        { numRuns: 100 },
      );
    });
    it(`${spec.path}: corrupted requests are rejected naming the field`, () => {
      const validate = validatorOf(spec.request);
      fc.assert(
        fc.property(corruptionOf(spec.request), (c) => {
          const issue = validate(c.value);
          expect(issue).not.toBeNull();
          expect(formatPath(issue!.path).startsWith(c.field)).toBe(true);
        }),
        { numRuns: 100 },
      );
    });
  }

  it('names nested fields precisely', () => {
    const issue = validatorOf(Methods.CreateNetwork.request)({ NetworkID: 'n', IPv4Data: [{ AddressSpace: 'a', Pool: 7 }] });
    expect(issue && formatPath(issue.path)).toBe('IPv4Data[0].Pool');
    expect(issue?.expected).toBe('string');
  });

  it('treats prototype-pollution keys as inert data', () => {
    const body = JSON.parse('{"PoolID":"p","Address":"","__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}');
    expect(validatorOf(Methods.RequestAddress.request)(body)).toBeNull();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('Go encoding and decoding', () => {
  it('encodes like Go: declaration order, sorted map keys, HTML escapes, trailing newline', () => {
    const out = goEncode(Methods.RequestPool.request, { AddressSpace: 'L', Pool: '', SubPool: '', Options: { z: '1', a: '<&>' }, V6: false });
    expect(out).toBe('{"AddressSpace":"L","Pool":"","SubPool":"","Options":{"a":"\\u003c\\u0026\\u003e","z":"1"},"V6":false}\n');
  });
  it('encodes IPAMData with alphabetical keys and omits empty Gateway / AuxAddresses', () => {
    const out = goEncode(Methods.CreateNetwork.request, {
      NetworkID: 'n', Options: {}, IPv4Data: [{ AddressSpace: 'L', Pool: '10.0.0.0/24', Gateway: '' }], IPv6Data: [],
    });
    expect(out).toBe('{"NetworkID":"n","Options":{},"IPv4Data":[{"AddressSpace":"L","Pool":"10.0.0.0/24"}],"IPv6Data":[]}\n');
  });
  it('decodes case-insensitively, ignores unknown keys and reports both', () => {
    const r = goDecode(RequestPoolResponse, { poolid: 'p', Pool: '10.0.0.0/8', extra: 1 });
    expect(r.ok && r.value).toEqual({ PoolID: 'p', Pool: '10.0.0.0/8', Data: null });
    expect(r.ok && r.notes.map((n) => n.kind)).toEqual(['key-case', 'unknown-key']);
  });
  it('reads null as zero values and fails on a type mismatch', () => {
    expect(goDecode(Methods.CreateNetwork.response, null).ok).toBe(true);
    const bad = goDecode(Methods.NetworkGetCapabilities.response, { Scope: 1 });
    expect(bad.ok).toBe(false);
  });
});
