/**
 * A small IPAM written from protocol.md §2.3 and ipam-semantics.md alone (no
 * src/, no conformance/): per-pool address sets, lowest-free allocation, explicit
 * and automatic pools for both families (automatic IPv4 /24s of 10.251.0.0/16,
 * IPv6 /64s of fd00:f1::/48), overlapping pools refused, bigint addresses,
 * opaque counter PoolIDs (`ipf-<n>`, never reused). Correct by default; each
 * `IpamFlaw` switches on one bug real IPAM plugins have had, marked `FLAW`.
 * `restart()` drops every connection and listens again (state kept, as a plugin
 * that persists it) unless the `state-lost-on-restart` flaw is on.
 */
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type Fam, type Net, fmtAddr, fmtNet, inNet, netOf, netsOverlap, parseAddr, parseNet } from '../designs/shared-ipam.js';
import { listenOn, type ListeningPlugin } from './listen.js';

export type IpamFlaw =
  | 'js-number-offsets' // host offsets held as JS numbers (float64): wrong above 2^53
  | 'js-number-keys' // answers the address asked for, but keys its address set by a float64 offset
  | 'pool-race' // awaits (a datastore read) between the overlap test and the insert
  | 'pool-race-subnet-ids' // the same race with Docker-style ids (<space>/<subnet>): racing requests share one id, uncounted
  | 'release-ignores-pool' // one address map for every pool; ReleaseAddress ignores the PoolID
  | 'counter-restarts' // the PoolID counter starts again at 1 once no pool is left
  | 'keeps-old-allocations' // ReleasePool keeps the addresses; the same subnet requested again gets them back
  | 'echo-preferred' // grants any preferred address as given, unchecked
  | 'state-lost-on-restart' // restart() forgets every pool and address
  | 'addresses-lost-on-restart' // restart() keeps the pools but forgets their addresses
  | 'auto-v6-first-base' // automatic IPv6 pools: always the first /64 of the base, held or not
  | 'auto-v6-ignores-flag' // V6 ignored: an automatic IPv4 pool for V6=true (moby#28055's mirror image)
  | 'released-pool-serves'; // ReleasePool frees the subnet but the PoolID keeps serving addresses

interface Pool {
  readonly id: string;
  readonly space: string;
  readonly net: Net;
  readonly range: readonly [bigint, bigint];
  readonly used: Set<bigint>;
}

class Refusal extends Error {}
const refuse = (m: string): never => {
  throw new Refusal(m);
};
const text = (b: Record<string, unknown>, k: string): string => {
  const v = b[k];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') refuse(`json: cannot unmarshal ${typeof v} into field ${k} of type string`);
  return v as string;
};

export interface FlawedIpam extends ListeningPlugin {
  /** Kill (every connection dropped) and listen again on the same socket. */
  restart(): Promise<void>;
}

export async function startFlawedIpam(socketPath: string, flaws: readonly IpamFlaw[] = []): Promise<FlawedIpam> {
  const flaw = new Set(flaws);
  let pools = new Map<string, Pool>();
  /** FLAW released-pool-serves: released pools, still found by their PoolID. */
  const ghosts = new Map<string, Pool>();
  let counter = 0;
  /** FLAW keeps-old-allocations: address sets of released pools, by subnet. */
  const graveyard = new Map<string, Set<bigint>>();

  const reserved = (p: Pool, v: bigint): boolean => v === p.net.base || (p.net.family === 4 && p.net.prefix < 31 && v === p.net.last);
  // FLAW js-number-offsets: the host offset goes through a float64 (exact only below 2^53).
  const norm = (p: Pool, v: bigint): bigint => (flaw.has('js-number-offsets') || flaw.has('js-number-keys') ? p.net.base + BigInt(Number(v - p.net.base)) : v);
  const overlapping = (space: string, net: Net): Pool | undefined => [...pools.values()].find((p) => p.space === space && netsOverlap(p.net, net));
  /** FLAW release-ignores-pool: the pool holding an address, whatever PoolID came with it. */
  const holderOf = (family: Fam, v: bigint): Pool | undefined => [...pools.values()].find((p) => p.net.family === family && p.used.has(v));

  const autoNet = (space: string, v6Flag: boolean): Net => {
    const v6 = v6Flag && !flaw.has('auto-v6-ignores-flag'); // FLAW auto-v6-ignores-flag
    if (v6 && flaw.has('auto-v6-first-base')) return netOf(6, 0xfd0000f1n << 96n, 64); // FLAW auto-v6-first-base: no overlap test
    for (let i = 0n; i < 256n; i++) {
      const net = v6 ? netOf(6, (0xfd0000f1n << 96n) | (i << 64n), 64) : netOf(4, (10n << 24n) | (251n << 16n) | (i << 8n), 24);
      if (!overlapping(space, net)) return net;
    }
    return refuse(`no automatic IPv${v6 ? 6 : 4} pool left`);
  };

  const methods: Record<string, (b: Record<string, unknown>) => unknown> = {
    '/Plugin.Activate': () => ({ Implements: ['IpamDriver'] }),
    '/IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'FlawLocal', GlobalDefaultAddressSpace: 'FlawGlobal' }),
    '/IpamDriver.RequestPool': async (b) => {
      const space = text(b, 'AddressSpace');
      if (space !== 'FlawLocal' && space !== 'FlawGlobal') refuse(`unknown address space ${JSON.stringify(space)}`);
      const poolText = text(b, 'Pool');
      const subText = text(b, 'SubPool');
      if (b['V6'] !== undefined && b['V6'] !== null && typeof b['V6'] !== 'boolean') refuse('V6 must be a boolean');
      if (poolText === '' && subText !== '') refuse('SubPool needs Pool');
      const net = poolText === '' ? autoNet(space, b['V6'] === true) : parseNet(poolText);
      if (!net) return refuse(`invalid pool ${JSON.stringify(poolText)}`);
      let range: [bigint, bigint] = [net.base, net.last];
      if (subText !== '') {
        const sub = parseNet(subText);
        if (!sub || sub.family !== net.family || sub.base < net.base || sub.last > net.last) refuse(`SubPool ${subText} is not inside ${fmtNet(net)}`);
        range = [sub!.base, sub!.last];
      }
      const clash = flaw.has('auto-v6-first-base') && poolText === '' ? undefined : overlapping(space, net);
      if (clash) refuse(`pool ${fmtNet(net)} overlaps ${fmtNet(clash.net)}`);
      if (flaw.has('pool-race') || flaw.has('pool-race-subnet-ids')) await new Promise((r) => setTimeout(r, 2)); // FLAW pool-race: test, await, then insert
      if (flaw.has('counter-restarts') && pools.size === 0) counter = 0; // FLAW counter-restarts
      const id = flaw.has('pool-race-subnet-ids') ? `${space}/${fmtNet(net)}` : `ipf-${++counter}`;
      let used = new Set<bigint>();
      const old = graveyard.get(`${space}|${fmtNet(net)}`);
      if (flaw.has('keeps-old-allocations') && old) used = old; // FLAW keeps-old-allocations
      pools.set(id, { id, space, net, range, used });
      return { PoolID: id, Pool: fmtNet(net), Data: {} };
    },
    '/IpamDriver.ReleasePool': (b) => {
      const id = text(b, 'PoolID');
      const p = pools.get(id);
      if (!p) return refuse(`unknown pool ${id}`);
      pools.delete(id);
      if (flaw.has('released-pool-serves')) ghosts.set(id, p); // FLAW released-pool-serves
      if (flaw.has('keeps-old-allocations')) graveyard.set(`${p.space}|${fmtNet(p.net)}`, p.used); // FLAW
      return {};
    },
    '/IpamDriver.RequestAddress': (b) => {
      const p = pools.get(text(b, 'PoolID')) ?? ghosts.get(text(b, 'PoolID'));
      if (!p) return refuse('unknown pool');
      const pref = text(b, 'Address');
      const answer = (v: bigint) => ({ Address: `${fmtAddr(p.net.family, v)}/${p.net.prefix}`, Data: {} });
      if (pref !== '') {
        if (flaw.has('echo-preferred')) {
          // FLAW echo-preferred: no format, range or family check; anything that is no held address of the pool is granted as written.
          const ip = parseAddr(pref);
          if (!ip || !inNet(p.net, ip.family, ip.value)) return { Address: `${pref}/${p.net.prefix}`, Data: {} };
        }
        const ip = parseAddr(pref);
        if (!ip || !inNet(p.net, ip.family, ip.value)) return refuse(`${pref} is not an address of ${fmtNet(p.net)}`);
        const v = norm(p, ip.value);
        if (reserved(p, v) || p.used.has(v)) refuse(`${pref} is in use`);
        p.used.add(v);
        return answer(flaw.has('js-number-keys') ? ip.value : v); // FLAW js-number-keys: the key is rounded, the answer is not
      }
      for (let v = p.range[0]; v <= p.range[1]; v++) {
        if (reserved(p, v) || p.used.has(v)) continue;
        p.used.add(v);
        return answer(v);
      }
      return refuse('no free address in the pool');
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const p = pools.get(text(b, 'PoolID'));
      if (!p) return refuse('unknown pool');
      const ip = parseAddr(text(b, 'Address'));
      if (!ip) return refuse(`invalid address ${JSON.stringify(text(b, 'Address'))}`);
      if (flaw.has('release-ignores-pool')) {
        holderOf(ip.family, ip.value)?.used.delete(ip.value); // FLAW release-ignores-pool
        return {};
      }
      if (!inNet(p.net, ip.family, ip.value)) refuse(`${text(b, 'Address')} is not an address of ${fmtNet(p.net)}`);
      p.used.delete(norm(p, ip.value));
      return {};
    },
  };

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': 'application/vnd.docker.plugins.v1.1+json' }).end(`${JSON.stringify(body)}\n`);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = req.url ?? '';
        const method = methods[path];
        if (!method) return send(res, 404, { Err: 'page not found' });
        let body: Record<string, unknown> = {};
        if (/RequestPool|ReleasePool|RequestAddress|ReleaseAddress/.test(path)) {
          const raw = Buffer.concat(chunks).toString('utf8');
          try {
            const parsed: unknown = JSON.parse(raw);
            if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('body must be a JSON object');
            body = parsed as Record<string, unknown>;
          } catch (e) {
            return send(res, 400, { Err: raw === '' ? 'EOF' : (e as Error).message });
          }
        }
        try {
          send(res, 200, await method(body));
        } catch (e) {
          if (e instanceof Refusal) send(res, 500, { Err: e.message });
          else res.destroy();
        }
      })();
    });
  });
  server.keepAliveTimeout = 120_000;
  await rm(socketPath, { force: true });
  let listening = await listenOn(server, socketPath);
  return {
    socketPath,
    async restart() {
      await listening.close();
      await rm(socketPath, { force: true });
      if (flaw.has('state-lost-on-restart')) {
        pools = new Map(); // FLAW state-lost-on-restart: nothing was persisted
        counter = 0;
      }
      if (flaw.has('addresses-lost-on-restart')) for (const p of pools.values()) p.used.clear(); // FLAW addresses-lost-on-restart
      listening = await listenOn(server, socketPath);
    },
    close: () => listening.close(),
  };
}
