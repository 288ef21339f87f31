/** The raw sender reads a reply that came before the plugin closed, whatever happened to the rest of the request. */
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketRawSender } from '../../conformance/raw.js';
import { tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

/** Answers 404 as soon as the request head has arrived and closes at once, never reading the body (a strict router). */
async function answerOnHead(socketPath: string): Promise<Server> {
  const server = createServer((c) => {
    let head = '';
    c.on('data', (d: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      c.pause();
      c.write('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 19\r\nConnection: close\r\n\r\n404 page not found\n', () => c.destroy());
    });
    c.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return server;
}

describe('raw sender', () => {
  it('a 404 sent before the body was read is the reply, not "no reply (EPIPE)"', async () => {
    const socketPath = dir.socket('early-404');
    const server = await answerOnHead(socketPath);
    try {
      const raw = socketRawSender({ socketPath });
      for (const size of [2, 64 * 1024, 4 * 1024 * 1024]) {
        for (let i = 0; i < 10; i++) {
          const res = await raw.send({ path: '/NetworkDriver.CnmkitNoSuchMethod', body: `{${'x'.repeat(size)}}` }, { timeoutMs: 5000 });
          expect(res.kind === 'reply' ? res.status : `${res.kind}: ${res.message}`, `body of ${size} bytes, try ${i}`).toBe(404);
        }
      }
    } finally {
      server.close();
    }
  });

  it('a plugin that closes without answering is a transport error that says so', async () => {
    const socketPath = dir.socket('slam');
    const server = createServer((c) => c.destroy());
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const res = await socketRawSender({ socketPath }).send({ path: '/Plugin.Activate' }, { timeoutMs: 2000 });
      expect(res.kind).toBe('transport-error');
    } finally {
      server.close();
    }
  });
  /** Serves one canned reply to every connection, then closes. */
  async function canned(name: string, bytes: string | Buffer): Promise<{ socketPath: string; server: Server }> {
    const socketPath = dir.socket(name);
    const server = createServer((c) => {
      c.on('error', () => {});
      c.once('data', () => c.end(bytes));
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    return { socketPath, server };
  }

  it('an oversize body is cut at the cap and marked truncated, whatever its framing', async () => {
    const big = 'x'.repeat(5000);
    const replies = {
      length: `HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n${big}`,
      chunked: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(1000).toString(16)}\r\n${big.slice(0, 1000)}\r\n`.repeat(1) + `${(4000).toString(16)}\r\n${big.slice(1000)}\r\n0\r\n\r\n`,
      close: `HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${big}`,
    };
    for (const [name, bytes] of Object.entries(replies)) {
      const { socketPath, server } = await canned(`big-${name}`, bytes);
      try {
        const res = await socketRawSender({ socketPath }).send({ path: '/Plugin.Activate' }, { timeoutMs: 2000, maxBody: 1500 });
        expect(res.kind, name).toBe('reply');
        if (res.kind !== 'reply') continue;
        expect(res.truncated, name).toBe(true);
        expect(res.body, name).toBe(big.slice(0, 1500));
        const whole = await socketRawSender({ socketPath }).send({ path: '/Plugin.Activate' }, { timeoutMs: 2000 });
        expect(whole.kind === 'reply' && !whole.truncated && whole.body === big, name).toBe(true);
      } finally {
        server.close();
      }
    }
  });

  it('a reply that is not HTTP, or cut short, is a bad reply', async () => {
    for (const [name, bytes] of [
      ['garbage', 'hello there\r\n\r\n'],
      ['short', 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"Implements":'],
    ] as const) {
      const { socketPath, server } = await canned(name, bytes);
      try {
        const res = await socketRawSender({ socketPath }).send({ path: '/Plugin.Activate' }, { timeoutMs: 2000 });
        expect(res.kind, name).toBe('bad-reply');
      } finally {
        server.close();
      }
    }
  });
});
