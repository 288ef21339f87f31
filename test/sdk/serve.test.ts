import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IpamApi } from '../../src/protocol/index.js';
import { servePlugin, SocketInUseError, SocketPathError } from '../../src/sdk/index.js';
import { testDriver, testIpam } from './doubles.js';
import { settled, until } from '../helpers/settle.js';
import { dial, exchange, parseReplies, post, tempDir } from './wire.js';

const run = promisify(execFile);
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const activate = post('/Plugin.Activate', '');

/** Leave a socket file behind with nobody listening: a child binds it and is SIGKILLed. */
async function staleSocket(path: string): Promise<void> {
  const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  await run(process.execPath, ['-e', script]).catch(() => undefined);
  expect((await stat(path)).isSocket()).toBe(true);
}

describe('unix sockets', () => {
  it('serves <socketDir>/<name>.sock with mode 0660 and removes it on close', async () => {
    const dir = join(tmp.dir, 'plugins');
    const gid = process.getgid!();
    const srv = await servePlugin({ driver: testDriver(), listen: { name: 'mynet', socketDir: dir, gid } });
    const path = join(dir, 'mynet.sock');
    expect(srv.address).toBe(path);
    expect((await stat(path)).mode & 0o777).toBe(0o660);
    expect((await stat(path)).gid).toBe(gid);
    const r = await exchange(path, [activate]);
    expect(r.replies[0]!.json).toEqual({ Implements: ['NetworkDriver'] });
    await srv.close();
    expect(existsSync(path)).toBe(false);
  });

  it('replaces a stale socket file', async () => {
    const path = join(tmp.dir, 'stale.sock');
    await staleSocket(path);
    const srv = await servePlugin({ ipam: testIpam(), listen: { socket: path } });
    expect((await exchange(path, [activate])).replies[0]!.json).toEqual({ Implements: ['IpamDriver'] });
    await srv.close();
  });

  it('refuses a socket a live server is using, and leaves it alone', async () => {
    const path = join(tmp.dir, 'live.sock');
    const other = createServer((s) => {
      s.on('error', () => undefined);
      s.end('other\n');
    });
    await new Promise<void>((r) => other.listen(path, r));
    try {
      const err = await servePlugin({ ipam: testIpam(), listen: { socket: path } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SocketInUseError);
      expect((err as SocketInUseError).code).toBe('E_SOCKET_IN_USE');
      expect((await stat(path)).isSocket()).toBe(true);
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  it('refuses to remove a path that is not a socket, and overlong paths', async () => {
    const path = join(tmp.dir, 'file.sock');
    await writeFile(path, 'keep me');
    await expect(servePlugin({ ipam: testIpam(), listen: { socket: path } })).rejects.toBeInstanceOf(SocketPathError);
    expect(await readFile(path, 'utf8')).toBe('keep me');
    await expect(servePlugin({ ipam: testIpam(), listen: { socket: join(tmp.dir, 'x'.repeat(120)) } })).rejects.toMatchObject({ code: 'E_SOCKET_PATH' });
    await expect(servePlugin({ ipam: testIpam(), listen: { name: '../evil', socketDir: tmp.dir } })).rejects.toMatchObject({ code: 'E_SDK_OPTIONS' });
    await expect(servePlugin({ ipam: testIpam(), listen: { socket: join(tmp.dir, 'k.sock') }, keepAliveTimeoutMs: 0 })).rejects.toMatchObject({ code: 'E_SDK_OPTIONS' });
    await expect(servePlugin({ ipam: testIpam(), listen: { socket: join(tmp.dir, 'k.sock') }, bodyLimit: -1 })).rejects.toMatchObject({ code: 'E_SDK_OPTIONS' });
    expect(existsSync(join(tmp.dir, 'k.sock'))).toBe(false);
  });
});

describe('graceful close', () => {
  it('closes idle connections at once, answers the in-flight call (Connection: close), then resolves and removes the socket', async () => {
    // The call ends only when the test says so: every step below waits on an event, none on the clock.
    let started!: () => void;
    const callStarted = new Promise<void>((r) => (started = r));
    let finishCall!: () => void;
    const callMayFinish = new Promise<void>((r) => (finishCall = r));
    const ipam: IpamApi = {
      ...testIpam(),
      releasePool: async () => {
        started();
        await callMayFinish;
      },
    };
    const path = join(tmp.dir, 'g.sock');
    const srv = await servePlugin({ ipam, listen: { socket: path } });
    const idle = dial(path);
    await once(idle, 'connect');
    await until(() => srv.connections === 1, 'the server to accept the idle connection');
    const idleClosed = once(idle, 'close');
    const inflight = exchange(path, [post('/IpamDriver.ReleasePool', '{"PoolID":"p"}')], 2, 10_000);
    await callStarted;
    let closeResolved = false;
    const closing = srv.close().then(() => {
      closeResolved = true;
    });
    // While the call still runs: the idle connection goes (a close() that waited for
    // in-flight calls first would never get here), the busy one stays, close() waits.
    await idleClosed;
    await settled(() => srv.connections);
    expect(srv.connections).toBe(1);
    expect(closeResolved).toBe(false);
    finishCall();
    const r = await inflight;
    expect(r.replies).toHaveLength(1);
    expect(r.replies[0]!.status).toBe(200);
    expect(r.replies[0]!.headers['connection']).toBe('close');
    expect(r.closed).toBe(true);
    await closing;
    expect(existsSync(path)).toBe(false);
    expect(srv.connections).toBe(0);
    await srv.close(); // idempotent
  });

  it('destroys connections still busy after the grace period and aborts their calls', async () => {
    let started!: () => void;
    const callStarted = new Promise<void>((r) => (started = r));
    let aborted!: () => void;
    const callAborted = new Promise<void>((r) => (aborted = r));
    const ipam: IpamApi = {
      ...testIpam(),
      releasePool: (_req, ctx) => {
        ctx.signal.addEventListener('abort', () => aborted());
        started();
        return new Promise<void>(() => undefined); // never answers
      },
    };
    const srv = await servePlugin({ ipam, listen: { socket: join(tmp.dir, 'h.sock') }, closeGraceMs: 100 });
    const stuck = exchange(srv.address, [post('/IpamDriver.ReleasePool', '{"PoolID":"p"}')], 1, 10_000);
    // Close only once the call runs: closing earlier would find an idle connection and pass without a grace period.
    await callStarted;
    await srv.close();
    await callAborted;
    const r = await stuck;
    expect(r.replies).toHaveLength(0);
    expect(r.closed).toBe(true);
    expect(srv.connections).toBe(0);
  });
});

describe('GC setting for latency (src/sdk/gc.ts)', () => {
  /** preferLatencyGc(), twice, in a fresh node started with these flags. */
  async function decision(flags: string[]): Promise<string> {
    const code = "import('./src/sdk/gc.ts').then((m) => console.log(m.preferLatencyGc(), m.preferLatencyGc()))";
    const { stdout } = await run(process.execPath, [...flags, '--import', 'tsx', '-e', code], {
      cwd: join(import.meta.dirname, '../..'),
    });
    return stdout.trim();
  }

  it('turns parallel scavenging off unless the process was started with its own choice', async () => {
    expect(await decision([])).toBe('true true');
    expect(await decision(['--parallel-scavenge'])).toBe('false false');
    expect(await decision(['--single-threaded-gc'])).toBe('false false');
    expect(await decision(['--no-parallel-scavenge'])).toBe('false false');
  });
});

describe('TCP', () => {
  it('listens on loopback and writes a .spec file, removed on close', async () => {
    const srv = await servePlugin({ ipam: testIpam(), driver: testDriver(), listen: { tcp: 'tcp://127.0.0.1:0', name: 'tcpnet', specDir: tmp.dir } });
    expect(srv.address).toBe(`tcp://127.0.0.1:${srv.port}`);
    const spec = join(tmp.dir, 'tcpnet.spec');
    expect(srv.specFile).toBe(spec);
    expect(await readFile(spec, 'utf8')).toBe(`tcp://127.0.0.1:${srv.port}\n`);
    const r = await exchange({ host: '127.0.0.1', port: srv.port }, [activate, post('/IpamDriver.RequestAddress', '{"PoolID":"p"}')], 2);
    expect(r.replies.map((x) => x.status)).toEqual([200, 200]);
    expect(r.replies[0]!.json).toEqual({ Implements: ['NetworkDriver', 'IpamDriver'] });
    await srv.close();
    expect(existsSync(spec)).toBe(false);
  });

  it('defaults the host to 127.0.0.1 and rejects malformed addresses', async () => {
    const srv = await servePlugin({ ipam: testIpam(), listen: { tcp: 'tcp://:0' } });
    expect(srv.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(srv.specFile).toBeUndefined();
    await srv.close();
    await expect(servePlugin({ ipam: testIpam(), listen: { tcp: 'http://127.0.0.1:1' } })).rejects.toMatchObject({ code: 'E_SDK_OPTIONS' });
  });
});

async function hasOpenssl(): Promise<boolean> {
  try {
    await run('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

describe('TLS', async () => {
  const openssl = await hasOpenssl();
  if (!openssl) console.log('TLS tests skipped: no openssl binary on this machine to make a test certificate');

  async function selfSigned(): Promise<{ cert: string; key: string }> {
    const cert = join(tmp.dir, 'cert.pem');
    const key = join(tmp.dir, 'key.pem');
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]);
    return { cert, key };
  }

  function tlsActivate(port: number, ca: Buffer, client?: { cert: Buffer; key: Buffer }): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...client }, () => s.write(activate));
      let buf: Buffer = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const { replies } = parseReplies(buf);
        if (replies.length > 0) {
          s.destroy();
          resolve(replies[0]!.json);
        }
      });
      s.on('error', reject);
      s.on('close', () => reject(new Error('closed without a reply')));
    });
  }

  it.skipIf(!openssl)('serves HTTPS with a self-signed cert and writes an https:// .spec', async () => {
    const { cert, key } = await selfSigned();
    const srv = await servePlugin({ ipam: testIpam(), listen: { tcp: 'tcp://127.0.0.1:0', name: 'tlsnet', specDir: tmp.dir, tls: { cert, key } } });
    expect(await readFile(join(tmp.dir, 'tlsnet.spec'), 'utf8')).toBe(`https://127.0.0.1:${srv.port}\n`);
    expect(await tlsActivate(srv.port, await readFile(cert))).toEqual({ Implements: ['IpamDriver'] });
    await srv.close();
    expect(existsSync(join(tmp.dir, 'tlsnet.spec'))).toBe(false);
  });

  it.skipIf(!openssl)('writes a .json with TLSConfig.CAFile when a CA is given', async () => {
    const { cert, key } = await selfSigned();
    const srv = await servePlugin({ ipam: testIpam(), listen: { tcp: 'tcp://127.0.0.1:0', name: 'tlsca', specDir: tmp.dir, tls: { cert, key, ca: cert } } });
    const spec = JSON.parse(await readFile(join(tmp.dir, 'tlsca.json'), 'utf8')) as unknown;
    expect(spec).toEqual({ Name: 'tlsca', Addr: `https://127.0.0.1:${srv.port}`, TLSConfig: { InsecureSkipVerify: false, CAFile: cert } });
    expect(await tlsActivate(srv.port, await readFile(cert))).toEqual({ Implements: ['IpamDriver'] });
    await srv.close();
    expect(existsSync(join(tmp.dir, 'tlsca.json'))).toBe(false);
  });

  it.skipIf(!openssl)('requires a client certificate with clientCa and lists the daemon cert in the .json', async () => {
    const { cert, key } = await selfSigned();
    const srv = await servePlugin({
      ipam: testIpam(),
      listen: { tcp: 'tcp://127.0.0.1:0', name: 'mtls', specDir: tmp.dir, tls: { cert, key, ca: cert, clientCa: cert, daemonCert: cert, daemonKey: key } },
    });
    const spec = JSON.parse(await readFile(join(tmp.dir, 'mtls.json'), 'utf8')) as { TLSConfig: unknown };
    expect(spec.TLSConfig).toEqual({ InsecureSkipVerify: false, CAFile: cert, CertFile: cert, KeyFile: key });
    const pem = await readFile(cert);
    await expect(tlsActivate(srv.port, pem)).rejects.toBeInstanceOf(Error);
    expect(await tlsActivate(srv.port, pem, { cert: pem, key: await readFile(key) })).toEqual({ Implements: ['IpamDriver'] });
    await srv.close();
  });
});
