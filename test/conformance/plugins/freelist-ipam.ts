/**
 * A broken IPAM written independently (protocol.md only): allocation from a
 * bump pointer plus a free list. The bug: ReleaseAddress pushes the address on
 * the free list without checking that it was allocated, so releasing an
 * address twice (dockerd retries and rollbacks do that) later hands it out to
 * two containers. Everything else is correct.
 */
import { createServer } from 'node:http';
import { listenOn } from './listen.js';

interface Pool {
  readonly base: number; // IPv4 only, as a 32-bit number
  readonly prefix: number;
  readonly size: number;
  next: number; // bump pointer: next never-used host ordinal
  readonly free: number[]; // released ordinals (BUG: may contain duplicates)
  readonly used: Set<number>;
}

const ipToInt = (s: string): number | null => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.some((p) => p > 255) ? null : ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
};
const intToIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

export async function startFreelistIpam(socketPath: string): Promise<{ socketPath: string; close(): Promise<void> }> {
  const pools = new Map<string, Pool>();
  const handlers: Record<string, (b: Record<string, unknown>) => unknown> = {
    '/Plugin.Activate': () => ({ Implements: ['IpamDriver'] }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'fl', GlobalDefaultAddressSpace: 'fl' }),
    '/IpamDriver.RequestPool': (b) => {
      const m = /^([\d.]+)\/(\d+)$/.exec(String(b['Pool'] ?? ''));
      const ip = m ? ipToInt(m[1]!) : null;
      const prefix = m ? Number(m[2]) : NaN;
      if (ip === null || !(prefix >= 8 && prefix <= 30)) throw new Error('only explicit IPv4 pools /8../30');
      const size = 2 ** (32 - prefix);
      const base = ip - (ip % size);
      for (const p of pools.values()) if (base < p.base + p.size && p.base < base + size) throw new Error('overlaps');
      const id = `fl-${intToIp(base)}-${prefix}`;
      pools.set(id, { base, prefix, size, next: 1, free: [], used: new Set() });
      return { PoolID: id, Pool: `${intToIp(base)}/${prefix}` };
    },
    '/IpamDriver.ReleasePool': (b) => (pools.delete(String(b['PoolID'])) ? {} : Promise.reject(new Error('no such pool'))),
    '/IpamDriver.RequestAddress': (b) => {
      const p = pools.get(String(b['PoolID']));
      if (!p) throw new Error('no such pool');
      let ord: number;
      if (b['Address']) {
        const a = ipToInt(String(b['Address']));
        if (a === null || a <= p.base || a >= p.base + p.size - 1) throw new Error('address out of range');
        ord = a - p.base;
        if (p.used.has(ord)) throw new Error('in use');
        const i = p.free.indexOf(ord);
        if (i >= 0) p.free.splice(i, 1);
        else if (ord >= p.next) {
          for (let o = p.next; o < ord; o++) p.free.push(o);
          p.next = ord + 1;
        }
      } else if (p.free.length > 0) {
        ord = p.free.shift()!;
      } else if (p.next < p.size - 1) {
        ord = p.next++;
      } else {
        throw new Error('pool full');
      }
      p.used.add(ord);
      return { Address: `${intToIp(p.base + ord)}/${p.prefix}` };
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const p = pools.get(String(b['PoolID']));
      if (!p) throw new Error('no such pool');
      const a = ipToInt(String(b['Address']));
      if (a === null || a <= p.base || a >= p.base + p.size - 1) return {};
      const ord = a - p.base;
      if (ord >= p.next) return {};
      p.used.delete(ord);
      p.free.push(ord); // BUG: no check that it was allocated; a second release queues it twice
      return {};
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const h = handlers[req.url ?? ''];
      if (!h) return void res.writeHead(404).end('404 page not found');
      void (async () => {
        try {
          const text = Buffer.concat(chunks).toString();
          const body = text ? (JSON.parse(text) as unknown) : {};
          if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('bad body');
          if (text === '' && !/Activate|GetDefault/.test(req.url ?? '')) throw new Error('EOF');
          const out = await h(body as Record<string, unknown>);
          res.writeHead(200).end(JSON.stringify(out));
        } catch (e) {
          res.writeHead(500).end(JSON.stringify({ Err: (e as Error).message }));
        }
      })();
    });
  });
  return listenOn(server, socketPath);
}
