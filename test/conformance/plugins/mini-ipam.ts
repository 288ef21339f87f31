/**
 * A small IPAM plugin written from protocol.md alone (no src/ipam, no src/sdk):
 * node:http on a unix socket, in-memory pools, lowest-free allocation. Correct
 * by default; each `Flaw` switches on one realistic bug, marked `FLAW` below,
 * so the tests can show that the right check catches it.
 */
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import ipaddr from 'ipaddr.js';
import { listenOn } from './listen.js';

export type Flaw =
  | 'accept-overlap' // no overlap check between pools
  | 'cursor-wrap-duplicate' // round-robin cursor wraps without checking what is in use
  | 'network-broadcast' // hands out the network and broadcast addresses
  | 'ignore-preferred' // treats every request as automatic
  | 'release-noop' // ReleaseAddress answers {} but frees nothing
  | 'pool-never-freed' // ReleasePool forgets the id but keeps the subnet reserved
  | 'race' // awaits between choosing and marking an address
  | 'bare-ip' // answers "10.0.0.5" instead of "10.0.0.5/24"
  | 'ignore-subpool' // allocates from the whole pool despite --ip-range
  | 'full-returns-duplicate' // when full, answers the last address again
  | 'err-field-200' // IPAM errors as 200 {"Err": ...}
  | 'crash-on-bad-json' // dies on a body it cannot parse
  | 'slow' // every reply takes 1.2 s
  | 'needs-content-type' // 415 unless Content-Type: application/json
  | 'empty-body-allocates' // reads an empty body as {}
  | 'unknown-method-500' // unknown paths answer 500 instead of 404
  | 'release-wraps' // ReleaseAddress maps any address onto the pool (ordinal modulo size)
  | 'crash-after-calls' // the process dies after `afterCalls` requests (socket gone, connections reset)
  | 'hang-after-calls'; // stops answering after `afterCalls` requests (connections stay open, no reply)

interface Pool {
  readonly id: string;
  readonly family: 4 | 6;
  readonly base: bigint;
  readonly prefix: number;
  readonly bits: number;
  readonly sub: { start: bigint; end: bigint } | null;
  readonly used: Set<bigint>;
  cursor: bigint;
}

class PluginFailure extends Error {}

function toBig(addr: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  return addr.toByteArray().reduce((v, b) => (v << 8n) | BigInt(b), 0n);
}
function fromBig(family: 4 | 6, v: bigint): string {
  const n = family === 4 ? 4 : 16;
  const bytes: number[] = [];
  for (let i = n - 1; i >= 0; i--) bytes.push(Number((v >> BigInt(8 * i)) & 255n));
  return ipaddr.fromByteArray(bytes).toString();
}
function parseNet(text: string): { family: 4 | 6; base: bigint; prefix: number; bits: number } {
  if (typeof text !== 'string' || !ipaddr.isValidCIDR(text)) throw new PluginFailure(`invalid CIDR ${JSON.stringify(text)}`);
  const [addr, prefix] = ipaddr.parseCIDR(text);
  const bits = addr.kind() === 'ipv4' ? 32 : 128;
  const size = 1n << BigInt(bits - prefix);
  return { family: bits === 32 ? 4 : 6, base: toBig(addr) - (toBig(addr) % size), prefix, bits };
}
const str = (v: unknown, name: string): string => {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new PluginFailure(`${name} must be a string`);
  return v;
};

export interface MiniPlugin {
  readonly socketPath: string;
  /** Kill and start again on the same socket (state kept, as a plugin that persists it); the call count starts over. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface MiniOptions {
  /** For `crash-after-calls` / `hang-after-calls`: requests served normally first. */
  readonly afterCalls?: number;
}

export async function startMiniIpam(socketPath: string, flaws: readonly Flaw[] = [], opts: MiniOptions = {}): Promise<MiniPlugin> {
  const flaw = new Set(flaws);
  let served = 0;
  const pools = new Map<string, Pool>();
  const reservedNets: { family: number; base: bigint; last: bigint }[] = []; // FLAW pool-never-freed keeps entries here
  let autoNext = 0;

  const overlapsHeld = (family: number, base: bigint, last: bigint): boolean =>
    [...pools.values()].some((p) => p.family === family && p.base <= last && base <= p.base + (1n << BigInt(p.bits - p.prefix)) - 1n) ||
    reservedNets.some((r) => r.family === family && r.base <= last && base <= r.last);

  const methods: Record<string, (body: Record<string, unknown>) => Promise<unknown> | unknown> = {
    '/Plugin.Activate': () => ({ Implements: ['IpamDriver'] }),
    '/IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'MiniLocal', GlobalDefaultAddressSpace: 'MiniGlobal' }),
    '/IpamDriver.RequestPool': (b) => {
      const space = str(b['AddressSpace'], 'AddressSpace');
      let poolText = str(b['Pool'], 'Pool');
      const subText = str(b['SubPool'], 'SubPool');
      if (b['V6'] !== undefined && typeof b['V6'] !== 'boolean') throw new PluginFailure('V6 must be a boolean');
      if (!space && !flaw.has('empty-body-allocates')) throw new PluginFailure('AddressSpace is required'); // FLAW: lenient defaults
      if (!poolText) {
        if (subText) throw new PluginFailure('SubPool requires Pool');
        if (b['V6'] === true) throw new PluginFailure('no automatic IPv6 pools');
        for (;;) {
          if (autoNext > 255) throw new PluginFailure('no automatic pool left');
          const candidate = parseNet(`10.250.${autoNext++}.0/24`);
          if (!overlapsHeld(4, candidate.base, candidate.base + 255n)) {
            poolText = `10.250.${autoNext - 1}.0/24`;
            break;
          }
        }
      }
      const net = parseNet(poolText);
      const last = net.base + (1n << BigInt(net.bits - net.prefix)) - 1n;
      if (!flaw.has('accept-overlap') && overlapsHeld(net.family, net.base, last)) throw new PluginFailure(`pool ${poolText} overlaps an existing pool`);
      let sub: Pool['sub'] = null;
      if (subText) {
        const s = parseNet(subText);
        const sLast = s.base + (1n << BigInt(s.bits - s.prefix)) - 1n;
        if (s.family !== net.family || s.base < net.base || sLast > last) throw new PluginFailure('SubPool must lie inside Pool');
        sub = { start: s.base, end: sLast };
      }
      const cidr = `${fromBig(net.family, net.base)}/${net.prefix}`;
      const id = `${space}/${cidr}${subText ? `/${subText}` : ''}`;
      pools.set(id, { id, ...net, sub, used: new Set(), cursor: 0n });
      return { PoolID: id, Pool: cidr, Data: {} };
    },
    '/IpamDriver.ReleasePool': (b) => {
      const id = str(b['PoolID'], 'PoolID');
      const p = pools.get(id);
      if (!p) throw new PluginFailure(`unknown pool ${id}`);
      pools.delete(id);
      if (flaw.has('pool-never-freed')) reservedNets.push({ family: p.family, base: p.base, last: p.base + (1n << BigInt(p.bits - p.prefix)) - 1n }); // FLAW
      return {};
    },
    '/IpamDriver.RequestAddress': async (b) => {
      const p = pools.get(str(b['PoolID'], 'PoolID'));
      if (!p) throw new PluginFailure('unknown pool');
      const pref = str(b['Address'], 'Address');
      if (b['Options'] !== undefined && b['Options'] !== null && typeof b['Options'] !== 'object') throw new PluginFailure('Options must be an object');
      const size = 1n << BigInt(p.bits - p.prefix);
      const reserved = (a: bigint): boolean => !flaw.has('network-broadcast') && (a === p.base || (p.family === 4 && a === p.base + size - 1n)); // FLAW network-broadcast
      const answer = (a: bigint): { Address: string; Data: Record<string, string> } => ({
        Address: flaw.has('bare-ip') ? fromBig(p.family, a) : `${fromBig(p.family, a)}/${p.prefix}`, // FLAW bare-ip
        Data: {},
      });
      if (pref && !flaw.has('ignore-preferred')) {
        if (!ipaddr.isValid(pref)) throw new PluginFailure(`invalid address ${pref}`);
        const a = toBig(ipaddr.parse(pref));
        if (a < p.base || a >= p.base + size) throw new PluginFailure(`${pref} is outside the pool`);
        if (reserved(a) || p.used.has(a)) throw new PluginFailure(`${pref} is already in use`);
        if (flaw.has('race')) await new Promise((r) => setTimeout(r, 1)); // FLAW: check-then-set again
        p.used.add(a);
        return answer(a);
      }
      const [start, end] = p.sub && !flaw.has('ignore-subpool') ? [p.sub.start, p.sub.end] : [p.base, p.base + size - 1n]; // FLAW ignore-subpool
      let found: bigint | null = null;
      if (flaw.has('cursor-wrap-duplicate')) {
        // FLAW: a round-robin cursor that skips only reserved addresses.
        for (let i = 0n; i <= end - start && found === null; i++) {
          const a = start + ((p.cursor + i) % (end - start + 1n));
          if (!reserved(a)) found = a;
        }
        if (found !== null) p.cursor = found - start + 1n;
      } else {
        for (let a = start; a <= end; a++) {
          if (!reserved(a) && !p.used.has(a)) {
            found = a;
            break;
          }
        }
      }
      if (found === null) {
        if (flaw.has('full-returns-duplicate') && p.used.size > 0) return answer([...p.used].pop()!); // FLAW
        throw new PluginFailure('no available addresses');
      }
      if (flaw.has('race')) await new Promise((r) => setTimeout(r, 1)); // FLAW: the check-then-set is not atomic
      p.used.add(found);
      return answer(found);
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const p = pools.get(str(b['PoolID'], 'PoolID'));
      if (!p) throw new PluginFailure('unknown pool');
      const addr = str(b['Address'], 'Address');
      if (!ipaddr.isValid(addr)) throw new PluginFailure(`invalid address ${JSON.stringify(addr)}`);
      let a = toBig(ipaddr.parse(addr));
      const size = 1n << BigInt(p.bits - p.prefix);
      if (flaw.has('release-wraps')) a = p.base + (((a - p.base) % size) + size) % size; // FLAW: no range check
      if (!flaw.has('release-noop')) p.used.delete(a); // FLAW release-noop
      return {};
    },
  };

  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    const send = (): void => {
      res.writeHead(status, { 'Content-Type': 'application/vnd.docker.plugins.v1.1+json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (flaw.has('slow')) setTimeout(send, 1200); // FLAW slow
    else send();
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1024 * 1024) {
        reply(res, 413, { Err: 'request body too large' });
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        if (++served > (opts.afterCalls ?? Infinity)) {
          if (flaw.has('crash-after-calls')) {
            // FLAW crash-after-calls: the process "exits".
            server.close();
            server.closeAllConnections();
          }
          if (flaw.has('crash-after-calls') || flaw.has('hang-after-calls')) return; // FLAW hang-after-calls: never answers
        }
        const path = req.url ?? '';
        const method = methods[path];
        if (!method) return flaw.has('unknown-method-500') ? reply(res, 500, { Err: 'unsupported' }) : reply(res, 404, { Err: 'page not found' }); // FLAW unknown-method-500
        if (flaw.has('needs-content-type') && req.headers['content-type'] !== 'application/json') return reply(res, 415, { Err: 'Content-Type must be application/json' }); // FLAW
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        const needsBody = !path.endsWith('Activate') && !path.endsWith('GetCapabilities') && !path.endsWith('GetDefaultAddressSpaces');
        if (needsBody) {
          try {
            const parsed: unknown = text === '' && flaw.has('empty-body-allocates') ? {} : JSON.parse(text); // FLAW empty-body-allocates
            if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('body must be a JSON object');
            body = parsed as Record<string, unknown>;
          } catch (e) {
            if (flaw.has('crash-on-bad-json')) {
              // FLAW: the process "exits" (server and every connection go away).
              server.close();
              server.closeAllConnections();
              return;
            }
            return reply(res, 400, { Err: text === '' ? 'EOF' : `bad request: ${(e as Error).message}` });
          }
        }
        try {
          reply(res, 200, await method(body));
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          if (flaw.has('err-field-200')) reply(res, 200, { Err: msg }); // FLAW err-field-200
          else reply(res, 500, { Err: msg });
        }
      })();
    });
  });
  server.keepAliveTimeout = 120_000;
  let listening = await listenOn(server, socketPath);
  return {
    socketPath,
    async restart() {
      await listening.close();
      await rm(socketPath, { force: true });
      served = 0;
      listening = await listenOn(server, socketPath);
    },
    close: () => listening.close(),
  };
}
