/** Finding a plugin by name as dockerd does (protocol.md §1.1, §1.2), including TLS from .spec/.json. */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  connect,
  discoveryCandidates,
  findPlugin,
  lookupPlugin,
  managedPluginSocket,
  parsePluginAddr,
  PluginNotFoundError,
  PluginSpecError,
  TransportError,
  VirtualClock,
  type PluginClient,
} from '../../src/client/index.js';
import { UsageError } from '../../src/errors.js';
import { jsonBehaviour, reply, startServer, tempDir, type TestServer } from './helpers.js';

const run = promisify(execFile);
let tmp: Awaited<ReturnType<typeof tempDir>>;
let dirs: { socketDir: string; specDirs: string[] };
const servers: TestServer[] = [];
const clients: PluginClient[] = [];

beforeEach(async () => {
  tmp = await tempDir();
  dirs = { socketDir: path.join(tmp.dir, 'run'), specDirs: [path.join(tmp.dir, 'etc'), path.join(tmp.dir, 'lib')] };
  for (const d of [dirs.socketDir, ...dirs.specDirs]) await mkdir(d, { recursive: true });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.close();
  await tmp.cleanup();
});

const CAPS = jsonBehaviour({ '/NetworkDriver.GetCapabilities': [200, '{"Scope":"local"}'] });

async function unixServer(file: string): Promise<TestServer> {
  await mkdir(path.dirname(file), { recursive: true });
  const s = await startServer({ unix: file }, CAPS);
  servers.push(s);
  return s;
}
async function tcpServer(): Promise<TestServer> {
  const s = await startServer({ tcp: true }, CAPS);
  servers.push(s);
  return s;
}
async function put(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}
async function callVia(name: string) {
  const client = await connect({ plugin: name, dirs });
  clients.push(client);
  const caps = await client.call('NetworkGetCapabilities', undefined);
  return { client, caps };
}

describe('discovery order', () => {
  it('lists the paths in dockerd order', () => {
    expect(discoveryCandidates('p', dirs).map((c) => path.relative(tmp.dir, c.file))).toEqual([
      'run/p.sock', 'run/p/p.sock',
      'etc/p.spec', 'etc/p/p.spec', 'etc/p.json', 'etc/p/p.json',
      'lib/p.spec', 'lib/p/p.spec', 'lib/p.json', 'lib/p/p.json',
    ]);
  });

  it('finds N.sock', async () => {
    const s = await unixServer(path.join(dirs.socketDir, 'p.sock'));
    const { client, caps } = await callVia('p');
    expect(caps.Scope).toBe('local');
    expect(client.endpoint).toMatchObject({ source: 'sock', addr: `unix://${s.path}` });
    expect(s.requests).toHaveLength(1);
  });

  it('finds N/N.sock', async () => {
    const s = await unixServer(path.join(dirs.socketDir, 'p', 'p.sock'));
    const { client } = await callVia('p');
    expect(client.endpoint?.file).toBe(s.path);
  });

  it('a socket wins over spec files; a regular file named N.sock is skipped', async () => {
    const tcp = await tcpServer();
    await put(path.join(dirs.specDirs[0]!, 'p.spec'), `tcp://127.0.0.1:${tcp.port}\n`);
    await put(path.join(dirs.socketDir, 'p.sock'), 'not a socket');
    const first = await findPlugin('p', dirs);
    expect(first.source).toBe('spec');
    const s = await unixServer(path.join(dirs.socketDir, 'p', 'p.sock'));
    expect((await findPlugin('p', dirs)).file).toBe(s.path);
  });

  it('finds N.spec (tcp://, whitespace trimmed) and N/N.spec', async () => {
    const tcp = await tcpServer();
    await put(path.join(dirs.specDirs[1]!, 'q', 'q.spec'), `  tcp://127.0.0.1:${tcp.port}  \n`);
    const { client } = await callVia('q');
    expect(client.endpoint).toMatchObject({ source: 'spec', addr: `tcp://127.0.0.1:${tcp.port}` });
    expect(client.transport.info.kind).toBe('tcp');
    expect(tcp.requests[0]!.headerLines[0]).toEqual(['Host', `127.0.0.1:${tcp.port}`]);
  });

  it('finds N.json (Addr, case-insensitive keys)', async () => {
    const tcp = await tcpServer();
    await put(path.join(dirs.specDirs[0]!, 'j.json'), JSON.stringify({ Name: 'ignored', addr: `tcp://127.0.0.1:${tcp.port}` }));
    const { client } = await callVia('j');
    expect(client.endpoint?.source).toBe('json');
    expect(tcp.requests).toHaveLength(1);
  });

  it('.json of the first spec dir wins over .spec of the second', async () => {
    await put(path.join(dirs.specDirs[1]!, 'o.spec'), 'tcp://127.0.0.1:1');
    await put(path.join(dirs.specDirs[0]!, 'o', 'o.json'), '{"Addr":"tcp://127.0.0.1:2"}');
    expect(await findPlugin('o', dirs)).toMatchObject({ source: 'json', addr: 'tcp://127.0.0.1:2' });
  });

  it('a .spec without a scheme fails with "Unknown protocol"', async () => {
    await put(path.join(dirs.specDirs[0]!, 'b.spec'), '127.0.0.1:80');
    await expect(findPlugin('b', dirs)).rejects.toThrow(PluginSpecError);
    await expect(findPlugin('b', dirs)).rejects.toThrow(/Unknown protocol/);
  });

  it('not found: E_PLUGIN_NOT_FOUND with every path tried', async () => {
    const err = await findPlugin('nope', dirs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginNotFoundError);
    expect((err as PluginNotFoundError).code).toBe('E_PLUGIN_NOT_FOUND');
    expect((err as PluginNotFoundError).tried).toHaveLength(10);
    expect((err as PluginNotFoundError).message).toContain(path.join(dirs.specDirs[1]!, 'nope', 'nope.json'));
  });

  it('lookup retry (dockerd backoff) finds a socket that appears later; gives up after ≈15 s virtual', async () => {
    const file = path.join(dirs.socketDir, 'late.sock');
    const clock = new VirtualClock(async () => {
      if (clock.sleeps.length === 2) await unixServer(file);
    });
    const found = await lookupPlugin('late', dirs, { mode: 'dockerd', clock });
    expect(found.file).toBe(file);
    expect(clock.now()).toBe(3000);
    const never = new VirtualClock();
    await expect(lookupPlugin('never', dirs, { mode: 'dockerd', clock: never })).rejects.toThrow(PluginNotFoundError);
    expect(never.now()).toBe(15000);
  });

  it('rejects names that are not plain file names', () => {
    for (const bad of ['', '..', 'a/b', 'x\0']) expect(() => discoveryCandidates(bad, dirs)).toThrow(UsageError);
  });
});

describe('addresses', () => {
  it('parses plugin URLs like pkg/plugins', () => {
    expect(parsePluginAddr('unix:///run/x.sock')).toEqual({ kind: 'unix', path: '/run/x.sock' });
    expect(parsePluginAddr('tcp://127.0.0.1:99', { caFile: '/ca' })).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 99, authority: '127.0.0.1:99' });
    expect(parsePluginAddr('http://[::1]:8080/')).toEqual({ kind: 'tcp', host: '::1', port: 8080, authority: '[::1]:8080' });
    expect(parsePluginAddr('https://localhost')).toEqual({ kind: 'tls', host: 'localhost', port: 443, tls: {}, authority: 'localhost' });
    expect(() => parsePluginAddr('udp://1.2.3.4:5')).toThrow(UsageError);
    expect(() => parsePluginAddr('tcp://h:99999')).toThrow(UsageError);
  });

  it('managed plugin sockets live under /run/docker/plugins/<id>/', () => {
    const id = 'a'.repeat(64);
    expect(managedPluginSocket(id, 'net.sock')).toBe(`/run/docker/plugins/${id}/net.sock`);
    expect(() => managedPluginSocket('short', 'net.sock')).toThrow(UsageError);
    expect(() => managedPluginSocket(id, '../x')).toThrow(UsageError);
  });
});

// ---------------------------------------------------------------------------
// TLS, with throw-away certificates made by openssl.

let certs: { dir: string; serverKey: string; serverCert: string; otherCert: string; clientKey: string; clientCert: string; cleanup: () => Promise<void> } | undefined;
let noTls = '';

async function selfSigned(dir: string, name: string, cn: string, san?: string): Promise<[string, string]> {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`];
  if (san) args.push('-addext', `subjectAltName=${san}`);
  await run('openssl', args);
  return [key, cert];
}

beforeAll(async () => {
  try {
    const t = await tempDir();
    const [serverKey, serverCert] = await selfSigned(t.dir, 'server', '127.0.0.1', 'IP:127.0.0.1');
    const [, otherCert] = await selfSigned(t.dir, 'other', 'other', 'IP:127.0.0.1');
    const [clientKey, clientCert] = await selfSigned(t.dir, 'client', 'rp-client');
    certs = { dir: t.dir, serverKey, serverCert, otherCert, clientKey, clientCert, cleanup: t.cleanup };
  } catch (e) {
    noTls = `openssl unavailable or failed: ${(e as Error).message}`;
    console.log(`skipping TLS discovery tests: ${noTls}`);
  }
});
afterAll(async () => {
  await certs?.cleanup();
});

describe('TLS discovery', () => {
  async function tlsServer(requireClientCert = false): Promise<{ server: TestServer; peers: string[] }> {
    const c = certs!;
    const peers: string[] = [];
    const server = await startServer(
      {
        tls: {
          key: await readFile(c.serverKey),
          cert: await readFile(c.serverCert),
          ...(requireClientCert ? { requestCert: true, rejectUnauthorized: true, ca: [await readFile(c.clientCert)] } : {}),
        },
      },
      (req, sock) => {
        const cert = (sock as TLSSocket).getPeerCertificate();
        peers.push(cert && 'subject' in cert && cert.subject ? String(cert.subject.CN) : '');
        reply(sock, 200, '{"Scope":"global"}');
      },
    );
    servers.push(server);
    return { server, peers };
  }

  it('.spec with https:// skips verification (any server cert works)', async (ctx) => {
    if (!certs) return ctx.skip(noTls);
    const { server } = await tlsServer();
    await put(path.join(dirs.specDirs[0]!, 's.spec'), `https://127.0.0.1:${server.port}`);
    const { client, caps } = await callVia('s');
    expect(caps.Scope).toBe('global');
    expect(client.transport.info.kind).toBe('tls');
  });

  it('.json TLSConfig without CAFile forces InsecureSkipVerify even when it says false', async (ctx) => {
    if (!certs) return ctx.skip(noTls);
    const { server } = await tlsServer();
    await put(path.join(dirs.specDirs[0]!, 'i.json'), JSON.stringify({ Addr: `https://127.0.0.1:${server.port}`, TLSConfig: { InsecureSkipVerify: false } }));
    expect((await findPlugin('i', dirs)).tls).toEqual({ insecureSkipVerify: true });
    const { caps } = await callVia('i');
    expect(caps.Scope).toBe('global');
  });

  it('.json with CAFile verifies the server: right CA passes, wrong CA is a tls transport error', async (ctx) => {
    if (!certs) return ctx.skip(noTls);
    const { server } = await tlsServer();
    await put(path.join(dirs.specDirs[0]!, 'v.json'), JSON.stringify({ Addr: `https://127.0.0.1:${server.port}`, TLSConfig: { CAFile: certs.serverCert } }));
    expect((await callVia('v')).caps.Scope).toBe('global');
    await put(path.join(dirs.specDirs[0]!, 'w.json'), JSON.stringify({ Addr: `https://127.0.0.1:${server.port}`, TLSConfig: { CAFile: certs.otherCert } }));
    const client = await connect({ plugin: 'w', dirs });
    clients.push(client);
    const out = await client.tryCall('NetworkGetCapabilities', undefined);
    expect(out.ok).toBe(false);
    if (!out.ok) expect((out.error.cause as TransportError).kind).toBe('tls');
  });

  it('.json without TLSConfig and an https Addr verifies against system roots (self-signed fails)', async (ctx) => {
    if (!certs) return ctx.skip(noTls);
    const { server } = await tlsServer();
    await put(path.join(dirs.specDirs[0]!, 'n.json'), JSON.stringify({ Addr: `https://127.0.0.1:${server.port}` }));
    const client = await connect({ plugin: 'n', dirs });
    clients.push(client);
    const out = await client.tryCall('NetworkGetCapabilities', undefined);
    expect(out.ok ? '' : (out.error.cause as TransportError).kind).toBe('tls');
  });

  it('.json CertFile + KeyFile present a client certificate (mutual TLS)', async (ctx) => {
    if (!certs) return ctx.skip(noTls);
    const { server, peers } = await tlsServer(true);
    await put(
      path.join(dirs.specDirs[0]!, 'm.json'),
      JSON.stringify({ Addr: `https://127.0.0.1:${server.port}`, TLSConfig: { CAFile: certs.serverCert, CertFile: certs.clientCert, KeyFile: certs.clientKey } }),
    );
    expect((await callVia('m')).caps.Scope).toBe('global');
    expect(peers).toEqual(['rp-client']);
  });
});
