/** Reply interpretation exactly as dockerd (protocol.md §1.4), with the deviations the client reports. */
import { describe, expect, it } from 'vitest';
import { connect, goDecodeFirst, goUnmarshalErr, PluginCallError, type CallRecord } from '../../src/client/index.js';
import type { MethodKey, RequestOf } from '../../src/protocol/methods.js';
import { tableHandler } from './helpers.js';

async function callWith<K extends MethodKey>(key: K, req: RequestOf<K>, path: string, status: number, body: string) {
  const client = await connect({ handler: tableHandler({ [path]: [status, body] }) });
  const out = await client.tryCall(key, req);
  await client.close();
  return out;
}
const ids = (r: CallRecord): string[] => r.deviations.map((d) => d.id);

const POOL_REQ = { AddressSpace: 'A', Pool: '', SubPool: '', Options: {}, V6: false };
const EP = { NetworkID: 'n', EndpointID: 'e' };

describe('HTTP 200 replies', () => {
  it('decodes keys case-insensitively and flags the case difference', async () => {
    const out = await callWith('RequestPool', POOL_REQ, '/IpamDriver.RequestPool', 200, '{"poolid":"pX","pool":"10.1.0.0/16"}');
    expect(out.ok).toBe(true);
    if (out.ok) expect(out.value).toEqual({ PoolID: 'pX', Pool: '10.1.0.0/16', Data: null });
    expect(ids(out.record)).toEqual(['reply.key-case']);
    expect(out.record.deviations[0]!.level).toBe('should');
  });

  it('accepts null as all zero values (compat note)', async () => {
    const out = await callWith('CreateNetwork', { NetworkID: 'n' }, '/NetworkDriver.CreateNetwork', 200, 'null');
    expect(out.ok).toBe(true);
    expect(ids(out.record)).toEqual(['reply.null-body']);
  });

  it('an empty 200 body fails with "EOF"', async () => {
    const out = await callWith('Leave', EP, '/NetworkDriver.Leave', 200, '');
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.error).toBeInstanceOf(PluginCallError);
      expect(out.error.kind).toBe('decode-error');
      expect(out.error.message).toBe('EOF');
      expect(out.error.code).toBe('E_DECODE');
    }
    expect(ids(out.record)).toEqual(['reply.empty-body']);
  });

  it('non-JSON fails with Go\'s syntax error text', async () => {
    const out = await callWith('Leave', EP, '/NetworkDriver.Leave', 200, 'OK');
    expect(out.ok ? '' : out.error.message).toBe("invalid character 'O' looking for beginning of value");
    expect(ids(out.record)).toEqual(['reply.not-json']);
  });

  it('reads only the first JSON value and flags trailing bytes', async () => {
    const out = await callWith('Leave', EP, '/NetworkDriver.Leave', 200, '{} garbage');
    expect(out.ok).toBe(true);
    expect(ids(out.record)).toEqual(['reply.trailing-data']);
  });

  it('a type mismatch is a decode error', async () => {
    const out = await callWith('NetworkGetCapabilities', undefined, '/NetworkDriver.GetCapabilities', 200, '{"Scope":1}');
    expect(out.ok).toBe(false);
    expect(out.record.outcome).toBe('decode-error');
    expect(ids(out.record)).toEqual(['reply.type-mismatch']);
  });

  it('driver 200 with Err is a plugin error "remote: <text>"', async () => {
    const out = await callWith('Join', { ...EP, SandboxKey: '/x', Options: {} }, '/NetworkDriver.Join', 200, '{"Err":"no such endpoint"}');
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.error.kind).toBe('plugin-error');
      expect(out.error.message).toBe('remote: no such endpoint');
      expect(out.error.pluginMessage).toBe('no such endpoint');
    }
    expect(ids(out.record)).toEqual(['reply.error-in-200']);
  });

  it('lower-case "err" is honoured like dockerd does', async () => {
    const out = await callWith('Leave', EP, '/NetworkDriver.Leave', 200, '{"err":"lower"}');
    expect(out.ok ? '' : out.error.message).toBe('remote: lower');
  });

  it('IPAM 200 with Error is a plugin error', async () => {
    const out = await callWith('ReleasePool', { PoolID: 'p' }, '/IpamDriver.ReleasePool', 200, '{"Error":"busy"}');
    expect(out.ok ? '' : out.error.message).toBe('remote: busy');
  });

  it('IPAM 200 with Err is read as SUCCESS (as dockerd does) and flagged as a must deviation', async () => {
    const out = await callWith('RequestPool', POOL_REQ, '/IpamDriver.RequestPool', 200, '{"Err":"pool exhausted"}');
    expect(out.ok).toBe(true);
    if (out.ok) expect(out.value).toEqual({ PoolID: '', Pool: '', Data: null });
    const d = out.record.deviations.find((x) => x.id === 'reply.ipam-error-in-Err-field');
    expect(d?.level).toBe('must');
    expect(d?.rule).toBe('protocol.md §1.4');
    // Required fields missing as well.
    expect(ids(out.record)).toContain('reply.schema');
  });

  it('driver 200 with Error is read as success and flagged', async () => {
    const out = await callWith('Leave', EP, '/NetworkDriver.Leave', 200, '{"Error":"x"}');
    expect(out.ok).toBe(true);
    expect(ids(out.record)).toEqual(['reply.driver-error-in-Error-field']);
  });

  it('a valid JSON reply failing the strict schema (Scope) is flagged, dockerd-decoding still succeeds', async () => {
    const out = await callWith('NetworkGetCapabilities', undefined, '/NetworkDriver.GetCapabilities', 200, '{"Scope":"bogus"}');
    expect(out.ok).toBe(true);
    const d = out.record.deviations.find((x) => x.id === 'reply.schema');
    expect(d?.message).toContain('Scope');
    expect(d?.level).toBe('must');
  });

  it('a clean reply has no deviations and the record carries request and response', async () => {
    const out = await callWith('NetworkGetCapabilities', undefined, '/NetworkDriver.GetCapabilities', 200, '{"Scope":"local","ConnectivityScope":"global"}\n');
    expect(out.ok).toBe(true);
    expect(out.record).toMatchObject({ path: '/NetworkDriver.GetCapabilities', request: '', status: 200, attempts: 1, outcome: 'ok', deviations: [] });
    expect(out.record.response).toBe('{"Scope":"local","ConnectivityScope":"global"}\n');
  });
});

describe('non-200 replies', () => {
  it('500 {"Err"} gives "<Interface>.<Method>: <Err>"', async () => {
    const out = await callWith('CreateNetwork', { NetworkID: 'n' }, '/NetworkDriver.CreateNetwork', 500, '{"Err":"boom500"}');
    expect(out.ok ? '' : out.error.message).toBe('NetworkDriver.CreateNetwork: boom500');
    expect(out.ok ? '' : out.error.pluginMessage).toBe('boom500');
    expect(ids(out.record)).toEqual([]);
  });

  it('a non-JSON error body becomes the message verbatim', async () => {
    const out = await callWith('Leave', EP, '/NetworkDriver.Leave', 500, 'it broke\n');
    expect(out.ok ? '' : out.error.message).toBe('NetworkDriver.Leave: it broke\n');
    expect(ids(out.record)).toEqual(['reply.error-body-not-err-json']);
  });

  it('IPAM 500 {"Error"} surfaces as the raw JSON text', async () => {
    const out = await callWith('RequestAddress', { PoolID: 'p', Address: '', Options: null }, '/IpamDriver.RequestAddress', 500, '{"Error":"full"}');
    expect(out.ok ? '' : out.error.message).toBe('IpamDriver.RequestAddress: {"Error":"full"}');
    expect(ids(out.record)).toEqual(['reply.error-body-uses-Error']);
  });

  it('404 is not-implemented', async () => {
    const client = await connect({ handler: tableHandler({}) });
    const out = await client.tryCall('EndpointOperInfo', EP);
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.error.kind).toBe('not-implemented');
      expect(out.error.message).toBe('NetworkDriver.EndpointOperInfo: 404 page not found\n');
    }
    expect(out.record.outcome).toBe('not-implemented');
    await expect(client.call('EndpointOperInfo', EP)).rejects.toMatchObject({ kind: 'not-implemented', code: 'E_NOT_IMPLEMENTED' });
  });

  it('201 with a good body is still a failure (only 200 is success)', async () => {
    const out = await callWith('Leave', EP, '/NetworkDriver.Leave', 201, '{}');
    expect(out.ok).toBe(false);
    expect(ids(out.record)).toEqual(['reply.success-status-not-200', 'reply.error-body-not-err-json']);
  });

  it('400 {"Err"} is an error with a compat note only', async () => {
    const out = await callWith('Leave', EP, '/NetworkDriver.Leave', 400, '{"Err":"bad"}');
    expect(out.ok ? '' : out.error.message).toBe('NetworkDriver.Leave: bad');
    expect(out.record.deviations.map((d) => [d.id, d.level])).toEqual([['reply.error-status-not-500', 'compat']]);
  });
});

describe('client plumbing', () => {
  it('onCall listeners see every record with increasing seq; unsubscribe works; a throwing listener is harmless', async () => {
    const client = await connect({ handler: tableHandler({ '/NetworkDriver.Leave': [200, '{}'] }) });
    const seen: CallRecord[] = [];
    const off = client.onCall((r) => seen.push(r));
    client.onCall(() => {
      throw new Error('listener bug');
    });
    await client.call('Leave', EP);
    await client.tryCall('Join', { ...EP, SandboxKey: '', Options: null });
    off();
    await client.call('Leave', EP);
    expect(seen.map((r) => [r.seq, r.path, r.outcome])).toEqual([
      [1, '/NetworkDriver.Leave', 'ok'],
      [2, '/NetworkDriver.Join', 'not-implemented'],
    ]);
  });

  it('the in-process handler gets dockerd headers and its own copy of the body', async () => {
    const h = tableHandler({ '/NetworkDriver.Leave': [200, '{}'] });
    const client = await connect({ handler: h });
    await client.call('Leave', EP);
    expect(h.seen[0]!.headers).toEqual({ host: '', 'user-agent': 'Go-http-client/1.1', 'content-length': '35', accept: 'application/vnd.docker.plugins.v1.2+json' });
    expect(Buffer.from(h.seen[0]!.body).toString()).toBe('{"NetworkID":"n","EndpointID":"e"}\n');
  });
});

describe('Go JSON texts', () => {
  it.each([
    ['', 'EOF'],
    ['   \n', 'EOF'],
    ['{"a":', 'unexpected EOF'],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b":2}', "invalid character '\"' after object key:value pair"],
    ['{a:1}', "invalid character 'a' looking for beginning of object key string"],
    ['[1 2]', "invalid character '2' after array element"],
    ['tru', 'unexpected EOF'],
    ['trxe', "invalid character 'x' in literal true (expecting 'u')"],
    ['"a\\qb"', "invalid character 'q' in string escape code"],
    ['-x', "invalid character 'x' in numeric literal"],
    ['<html>', "invalid character '<' looking for beginning of value"],
  ])('goDecodeFirst(%j) fails with %j', (text, message) => {
    expect(goDecodeFirst(text)).toEqual({ ok: false, message });
  });

  it('goDecodeFirst reads the first value only', () => {
    expect(goDecodeFirst('{"a":[1,2.5e3,"x\\u00e9"]} {"b":1}')).toEqual({ ok: true, value: { a: [1, 2500, 'xé'] }, trailing: '{"b":1}' });
    expect(goDecodeFirst('123')).toEqual({ ok: true, value: 123, trailing: '' });
  });

  it.each([
    ['{"Err":"x"}', 'x'],
    ['{"err":"y"}', 'y'],
    ['{"Err":"a","ERR":"b"}', 'b'],
    ['{"Err":""}', undefined],
    ['{"Err":5}', undefined],
    ['{"Err":"x"} trailing', undefined],
    ['null', undefined],
    ['["Err"]', undefined],
    ['{"Error":"z"}', undefined],
  ])('goUnmarshalErr(%j) = %j', (text, expected) => {
    expect(goUnmarshalErr(text)).toBe(expected);
  });
});
