/**
 * A correct IPAM that differs from Docker's in every way dockerd allows
 * (protocol.md §1.4, §1.6, §2.3): opaque random pool IDs, reference-counted
 * identical pools, highest-address-first order, a gateway in RequestPool Data,
 * no GetCapabilities (404), errors as text/plain 409 or as 200 {"Error"},
 * releases of unknown ids answered with success. Written from the protocol
 * doc only (no src/ipam, no src/sdk).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import ipaddr from 'ipaddr.js';
import { listenOn } from './listen.js';

interface Pool {
  readonly cidr: string;
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
  readonly prefix: number;
  readonly range: readonly [bigint, bigint];
  readonly taken: Set<bigint>;
  refs: number;
}

class Refusal extends Error {
  constructor(
    message: string,
    readonly style: 'text' | 'error-field',
  ) {
    super(message);
  }
}

const big = (a: ipaddr.IPv4 | ipaddr.IPv6): bigint => a.toByteArray().reduce((v, b) => v * 256n + BigInt(b), 0n);
const text = (family: 4 | 6, v: bigint): string => {
  const bytes: number[] = [];
  for (let i = (family === 4 ? 4 : 16) - 1; i >= 0; i--) bytes.push(Number((v >> BigInt(i * 8)) & 255n));
  return ipaddr.fromByteArray(bytes).toString();
};
function span(cidr: string): { family: 4 | 6; first: bigint; last: bigint; prefix: number } {
  if (!ipaddr.isValidCIDR(cidr)) throw new Refusal(`bad subnet ${cidr}`, 'text');
  const [a, prefix] = ipaddr.parseCIDR(cidr);
  const bits = a.kind() === 'ipv4' ? 32 : 128;
  const size = 1n << BigInt(bits - prefix);
  const first = big(a) - (big(a) % size);
  return { family: bits === 32 ? 4 : 6, first, last: first + size - 1n, prefix };
}

export async function startDifferentIpam(socketPath: string): Promise<{ socketPath: string; close(): Promise<void> }> {
  const pools = new Map<string, Pool>();
  const byCidr = new Map<string, string>();
  const isReserved = (p: Pool, a: bigint): boolean => a === p.first || (p.family === 4 && a === p.last);
  const gatewayOf = (p: Pool): bigint => p.first + 1n;

  const handlers: Record<string, (b: Record<string, unknown>) => unknown> = {
    '/Plugin.Activate': () => ({ Implements: ['IpamDriver'] }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'alpha', GlobalDefaultAddressSpace: 'beta' }),
    '/IpamDriver.RequestPool': (b) => {
      const want = b['Pool'];
      const sub = b['SubPool'];
      if (typeof b['AddressSpace'] !== 'string' || (want !== undefined && typeof want !== 'string') || (sub !== undefined && typeof sub !== 'string')) throw new Refusal('malformed request', 'text');
      if (!want) throw new Refusal('this IPAM only manages explicit subnets', 'error-field');
      const s = span(want);
      const cidr = `${text(s.family, s.first)}/${s.prefix}`;
      const key = `${cidr}|${sub ?? ''}`;
      const existing = byCidr.get(key);
      if (existing) {
        pools.get(existing)!.refs++;
        return { PoolID: existing, Pool: cidr, Data: { 'com.docker.network.gateway': `${text(s.family, gatewayOf(pools.get(existing)!))}/${s.prefix}` } };
      }
      for (const p of pools.values()) if (p.family === s.family && p.first <= s.last && s.first <= p.last) throw new Refusal(`conflict: ${cidr} collides with ${p.cidr}`, 'text');
      let range: [bigint, bigint] = [s.first, s.last];
      if (sub) {
        const r = span(sub);
        if (r.first < s.first || r.last > s.last) throw new Refusal('ip-range outside subnet', 'text');
        range = [r.first, r.last];
      }
      const id = `p-${randomBytes(6).toString('hex')}`;
      const pool: Pool = { cidr, ...s, range, taken: new Set(), refs: 1 };
      pool.taken.add(gatewayOf(pool));
      pools.set(id, pool);
      byCidr.set(key, id);
      return { PoolID: id, Pool: cidr, Data: { 'com.docker.network.gateway': `${text(s.family, gatewayOf(pool))}/${s.prefix}` } };
    },
    '/IpamDriver.ReleasePool': (b) => {
      const id = String(b['PoolID']);
      const p = pools.get(id);
      if (p && --p.refs === 0) {
        pools.delete(id);
        for (const [k, v] of byCidr) if (v === id) byCidr.delete(k);
      }
      return {};
    },
    '/IpamDriver.RequestAddress': (b) => {
      if (typeof b['PoolID'] !== 'string') throw new Refusal('PoolID must be a string', 'text');
      const p = pools.get(b['PoolID']);
      if (!p) throw new Refusal('no such pool', 'error-field');
      const pref = b['Address'];
      if (typeof pref === 'string' && pref !== '') {
        if (!ipaddr.isValid(pref)) throw new Refusal('bad address', 'text');
        const a = big(ipaddr.parse(pref));
        if (a < p.first || a > p.last || isReserved(p, a) || p.taken.has(a)) throw new Refusal(`${pref} unavailable`, 'error-field');
        p.taken.add(a);
        return { Address: `${pref}/${p.prefix}`, Data: null };
      }
      // Highest free address first.
      for (let a = p.range[1]; a >= p.range[0]; a--) {
        if (!isReserved(p, a) && !p.taken.has(a)) {
          p.taken.add(a);
          return { Address: `${text(p.family, a)}/${p.prefix}`, Data: null };
        }
      }
      throw new Refusal('exhausted', 'text');
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const p = pools.get(String(b['PoolID']));
      if (p && typeof b['Address'] === 'string' && ipaddr.isValid(b['Address'])) p.taken.delete(big(ipaddr.parse(b['Address'])));
      return {};
    },
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const handler = handlers[req.url ?? ''];
      if (!handler) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
        return;
      }
      try {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        if (!/Activate|GetDefaultAddressSpaces/.test(req.url ?? '')) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(raw);
          } catch {
            throw new Refusal('cannot decode request', 'text');
          }
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Refusal('request must be an object', 'text');
          body = parsed as Record<string, unknown>;
        }
        const out = JSON.stringify(handler(body));
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(out);
      } catch (e) {
        const r = e instanceof Refusal ? e : new Refusal(String(e), 'text');
        if (r.style === 'error-field') res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Error: r.message }));
        else res.writeHead(409, { 'Content-Type': 'text/plain' }).end(r.message);
      }
    });
  });
  return listenOn(server, socketPath);
}
