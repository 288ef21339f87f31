/**
 * Another correct IPAM that leans on everything Go's decoder in dockerd
 * tolerates (protocol.md §1.4): lower-case reply keys, `null` for empty
 * replies, numeric-string pool IDs, addresses handed out in random order,
 * errors as 200 {"error": ...} (case-insensitive "Error") or 503 with a JSON
 * {"Err"}; ReleasePool of an unknown id is an error (also accepted).
 * Written from the protocol doc only.
 */
import { createServer } from 'node:http';
import ipaddr from 'ipaddr.js';
import { listenOn } from './listen.js';

interface Pool {
  family: 4 | 6;
  base: bigint;
  size: bigint;
  prefix: number;
  lo: bigint;
  hi: bigint;
  used: Set<bigint>;
}

const toBig = (a: ipaddr.IPv4 | ipaddr.IPv6): bigint => a.toByteArray().reduce((v, b) => (v << 8n) | BigInt(b), 0n);
function show(family: 4 | 6, v: bigint): string {
  const out: number[] = [];
  for (let i = family === 4 ? 3 : 15; i >= 0; i--) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
  return ipaddr.fromByteArray(out).toString();
}
function net(cidr: unknown): { family: 4 | 6; base: bigint; size: bigint; prefix: number } {
  if (typeof cidr !== 'string' || !ipaddr.isValidCIDR(cidr)) throw new Error(`invalid pool ${String(cidr)}`);
  const [a, prefix] = ipaddr.parseCIDR(cidr);
  const bits = a.kind() === 'ipv4' ? 32 : 128;
  const size = 1n << BigInt(bits - prefix);
  return { family: bits === 32 ? 4 : 6, base: toBig(a) - (toBig(a) % size), size, prefix };
}

export async function startLooseIpam(socketPath: string, seed = 1): Promise<{ socketPath: string; close(): Promise<void> }> {
  let rnd = seed;
  const random = (n: number): number => {
    rnd = (rnd * 1103515245 + 12345) % 2147483648;
    return rnd % n;
  };
  const pools = new Map<string, Pool>();
  let nextId = 1;
  const reserved = (p: Pool, a: bigint): boolean => a === p.base || (p.family === 4 && a === p.base + p.size - 1n);

  const api: Record<string, (b: Record<string, unknown>) => unknown> = {
    '/Plugin.Activate': () => ({ implements: ['IpamDriver'] }),
    '/IpamDriver.GetCapabilities': () => ({ requiresmacaddress: false }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ localdefaultaddressspace: 'L', globaldefaultaddressspace: 'G' }),
    '/IpamDriver.RequestPool': (b) => {
      if (typeof b['AddressSpace'] !== 'string' || !b['AddressSpace']) throw new Error('address space required');
      if (b['Pool'] === undefined || b['Pool'] === '') throw new Error('give a subnet');
      const n = net(b['Pool']);
      for (const p of pools.values()) if (p.family === n.family && p.base < n.base + n.size && n.base < p.base + p.size) throw new Error('overlap');
      let [lo, hi] = [n.base, n.base + n.size - 1n];
      if (b['SubPool']) {
        const s = net(b['SubPool']);
        if (s.base < n.base || s.base + s.size > n.base + n.size) throw new Error('bad range');
        [lo, hi] = [s.base, s.base + s.size - 1n];
      }
      const id = String(nextId++);
      pools.set(id, { ...n, lo, hi, used: new Set() });
      return { poolid: id, pool: `${show(n.family, n.base)}/${n.prefix}`, data: null };
    },
    '/IpamDriver.ReleasePool': (b) => {
      if (!pools.delete(String(b['PoolID']))) throw new Error('unknown pool');
      return null;
    },
    '/IpamDriver.RequestAddress': (b) => {
      if (typeof b['PoolID'] !== 'string') throw new Error('bad pool id');
      const p = pools.get(b['PoolID']);
      if (!p) throw new Error('unknown pool');
      if (b['Address']) {
        if (typeof b['Address'] !== 'string' || !ipaddr.isValid(b['Address'])) throw new Error('bad address');
        const a = toBig(ipaddr.parse(b['Address']));
        if (a < p.base || a >= p.base + p.size || reserved(p, a) || p.used.has(a)) throw new Error('taken');
        p.used.add(a);
        return { address: `${show(p.family, a)}/${p.prefix}` };
      }
      const free: bigint[] = [];
      for (let a = p.lo; a <= p.hi && free.length < 4096; a++) if (!reserved(p, a) && !p.used.has(a)) free.push(a);
      if (free.length === 0) throw new Error('full');
      const a = free[random(free.length)]!;
      p.used.add(a);
      return { address: `${show(p.family, a)}/${p.prefix}` };
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const p = pools.get(String(b['PoolID']));
      if (!p) throw new Error('unknown pool');
      if (typeof b['Address'] !== 'string' || !ipaddr.isValid(b['Address'])) throw new Error('bad address');
      p.used.delete(toBig(ipaddr.parse(b['Address'])));
      return null;
    },
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const fn = api[req.url ?? ''];
      if (!fn) return void res.writeHead(404).end();
      let status = 200;
      let out: unknown;
      try {
        const raw = Buffer.concat(chunks).toString();
        const body: unknown = /Activate|GetCapabilities|GetDefaultAddressSpaces/.test(req.url ?? '') ? {} : JSON.parse(raw);
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('expected an object');
        out = fn(body as Record<string, unknown>);
      } catch (e) {
        // Alternate the two error styles dockerd understands.
        if (random(2) === 0) out = { error: (e as Error).message };
        else {
          status = 503;
          out = { Err: (e as Error).message };
        }
      }
      res.writeHead(status).end(JSON.stringify(out));
    });
  });
  return listenOn(server, socketPath);
}
