/** What goes on the wire: request bytes and headers exactly as dockerd sends them (protocol.md §1.3, Appendix B). */
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, SocketTransport, type PluginClient } from '../../src/client/index.js';
import { jsonBehaviour, reply, startServer, tempDir, waitFor, type TestServer } from './helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let server: TestServer | undefined;
let client: PluginClient | undefined;

beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
  await tmp.cleanup();
});

const ACCEPT = 'application/vnd.docker.plugins.v1.2+json';

function expectedUnix(p: string, body: string, host = ''): string {
  return `POST ${p} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\nAccept: ${ACCEPT}\r\n\r\n${body}`;
}

describe('request bytes over a unix socket (docker-20.10 profile)', () => {
  beforeEach(async () => {
    server = await startServer({ unix: path.join(tmp.dir, 'p.sock') }, jsonBehaviour({ '/IpamDriver.RequestPool': [200, '{"PoolID":"x","Pool":"10.253.0.0/24","Data":{}}'] }));
    client = await connect({ socket: server.path! });
  });

  it('RequestPool matches Appendix B byte for byte, with an empty Host header', async () => {
    await client!.call('RequestPool', { AddressSpace: 'RPLocal', Pool: '10.253.0.0/24', SubPool: '', Options: { iopt: 'ival' }, V6: false });
    const body = '{"AddressSpace":"RPLocal","Pool":"10.253.0.0/24","SubPool":"","Options":{"iopt":"ival"},"V6":false}\n';
    expect(server!.requests[0]!.raw.toString('latin1')).toBe(expectedUnix('/IpamDriver.RequestPool', body));
  });

  it('RequestAddress (gateway), ReleaseAddress and CreateNetwork match Appendix B', async () => {
    await client!.tryCall('RequestAddress', { PoolID: 'RPLocal/10.251.0.0/24', Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } });
    await client!.tryCall('ReleaseAddress', { PoolID: 'RPLocal/10.252.0.0/16', Address: '10.252.1.77' });
    await client!.tryCall('CreateNetwork', {
      NetworkID: '75bd94645',
      Options: { 'com.docker.network.generic': {}, 'com.docker.network.enable_ipv6': true },
      IPv4Data: [{ Pool: '10.254.0.0/24', Gateway: '10.254.0.1/24', AddressSpace: 'RPLocal' }],
      IPv6Data: [{ AddressSpace: 'RPLocal', AuxAddresses: { a6: 'fd11::5/64' }, Gateway: 'fd11::1/64', Pool: 'fd11::/64' }],
    });
    const bodies = server!.requests.map((r) => r.body.toString());
    expect(bodies).toEqual([
      '{"PoolID":"RPLocal/10.251.0.0/24","Address":"","Options":{"RequestAddressType":"com.docker.network.gateway"}}\n',
      '{"PoolID":"RPLocal/10.252.0.0/16","Address":"10.252.1.77"}\n',
      '{"NetworkID":"75bd94645","Options":{"com.docker.network.enable_ipv6":true,"com.docker.network.generic":{}},"IPv4Data":[{"AddressSpace":"RPLocal","Gateway":"10.254.0.1/24","Pool":"10.254.0.0/24"}],"IPv6Data":[{"AddressSpace":"RPLocal","AuxAddresses":{"a6":"fd11::5/64"},"Gateway":"fd11::1/64","Pool":"fd11::/64"}]}\n',
    ]);
  });

  it('argument-less calls send an empty body with Content-Length: 0 and no Content-Type', async () => {
    await client!.tryCall('Activate', undefined);
    await client!.tryCall('IpamGetCapabilities', undefined);
    for (const r of server!.requests) {
      expect(r.body.length).toBe(0);
      expect(r.headerLines).toEqual([
        ['Host', ''],
        ['User-Agent', 'Go-http-client/1.1'],
        ['Content-Length', '0'],
        ['Accept', ACCEPT],
      ]);
    }
  });

  it('reuses one keep-alive connection for sequential calls', async () => {
    for (let i = 0; i < 3; i++) await client!.call('Leave', { NetworkID: 'n', EndpointID: `e${i}` });
    expect(server!.requests.map((r) => r.conn)).toEqual([0, 0, 0]);
    expect(server!.accepted()).toBe(1);
  });
});

describe('other profiles and transports', () => {
  it('moby profile sends Host: plugin.moby.localhost on unix sockets', async () => {
    server = await startServer({ unix: path.join(tmp.dir, 'm.sock') }, jsonBehaviour());
    client = await connect({ socket: server.path! }, { profile: 'moby' });
    await client.call('DeleteNetwork', { NetworkID: 'abc' });
    expect(server.requests[0]!.raw.toString()).toBe(expectedUnix('/NetworkDriver.DeleteNetwork', '{"NetworkID":"abc"}\n', 'plugin.moby.localhost'));
  });

  it('TCP sends Host: host:port and Accept-Encoding: gzip, and inflates gzip replies', async () => {
    const gz = zlib.gzipSync(Buffer.from('{"PoolID":"p1","Pool":"10.0.0.0/24","Data":null}'));
    server = await startServer({ tcp: true }, (req, sock) => reply(sock, 200, gz, { 'Content-Encoding': 'gzip' }));
    client = await connect({ url: `tcp://127.0.0.1:${server.port}` });
    const res = await client.call('RequestPool', { AddressSpace: 'A', Pool: '', SubPool: '', Options: {}, V6: false });
    expect(res).toEqual({ PoolID: 'p1', Pool: '10.0.0.0/24', Data: null });
    expect(server.requests[0]!.headerLines).toEqual([
      ['Host', `127.0.0.1:${server.port}`],
      ['User-Agent', 'Go-http-client/1.1'],
      ['Content-Length', String(server.requests[0]!.body.length)],
      ['Accept', ACCEPT],
      ['Accept-Encoding', 'gzip'],
    ]);
  });

  it('a gzip reply on a unix socket (not requested) is a decode error with a deviation', async () => {
    const gz = zlib.gzipSync(Buffer.from('{}'));
    server = await startServer({ unix: path.join(tmp.dir, 'g.sock') }, (req, sock) => reply(sock, 200, gz, { 'Content-Encoding': 'gzip' }));
    client = await connect({ socket: server.path! });
    const out = await client.tryCall('Leave', { NetworkID: 'n', EndpointID: 'e' });
    expect(out.ok).toBe(false);
    expect(out.record.outcome).toBe('decode-error');
    expect(out.record.deviations.map((d) => d.id)).toContain('reply.unrequested-gzip');
  });

  it('concurrent calls open extra connections; idle ones are pooled and closed with the client', async () => {
    server = await startServer({ unix: path.join(tmp.dir, 'c.sock') }, (req, sock) => setTimeout(() => reply(sock, 200, '{}'), 20));
    client = await connect({ socket: server.path! }, { maxIdle: 2 });
    const outs = await Promise.all(Array.from({ length: 5 }, (_, i) => client!.tryCall('Leave', { NetworkID: 'n', EndpointID: String(i) })));
    expect(outs.every((o) => o.ok)).toBe(true);
    expect(server.accepted()).toBe(5);
    expect((client.transport as SocketTransport).openConnections).toBe(2);
    await client.close();
    expect((client.transport as SocketTransport).openConnections).toBe(0);
    await waitFor(() => server!.open() === 0);
  });

  it('sendRaw sends arbitrary bytes with dockerd headers (for malformed-request suites)', async () => {
    server = await startServer({ unix: path.join(tmp.dir, 'r.sock') }, (req, sock) => reply(sock, 400, 'EOF\n'));
    client = await connect({ socket: server.path! });
    const ex = await client.sendRaw('/NetworkDriver.Join', '{"NetworkID":');
    expect(ex.reply.status).toBe(400);
    expect(Buffer.from(ex.reply.body).toString()).toBe('EOF\n');
    expect(server.requests[0]!.body.toString()).toBe('{"NetworkID":');
  });
});
