/**
 * The IPAM side of a live session, as a spec-level model (never the
 * reference allocator): which pools dockerd holds and which addresses it was
 * handed, and only what must never happen (ipam-semantics.md, protocol.md
 * §2.3): an address handed out while held, outside its pool or automatic
 * range, a network/broadcast address, another address than the one asked
 * for, an automatic pool overlapping a held one, a release of something held
 * refused. Order, id formats, error texts: anything goes.
 *
 * Calls on different connections overlap. A release counts from the moment
 * its request was seen: a grant that collides with an address whose release
 * is still in flight waits for that release's answer before it is judged.
 */
import { type Cidr, contains, formatCidr, isReserved, overlaps, parseCidr, parseCidrWithAddress, parseIp } from '../cidr.js';
import type { LiveViolation } from './types.js';

const GATEWAY_MARK = 'com.docker.network.gateway';

interface PoolRec {
  readonly id: string;
  readonly space: string;
  readonly pool: Cidr | null;
  readonly sub: Cidr | null;
  readonly auto: boolean;
  readonly seq: number;
  refs: number;
  /** Keys of addresses handed out through this PoolID. */
  readonly held: Set<string>;
}

interface Holder {
  readonly key: string;
  readonly poolId: string;
  readonly seq: number;
  readonly text: string;
}

interface Deferred {
  readonly fresh: Holder;
  readonly old: Holder;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function strMap(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

const isHostRoute = (c: Cidr): boolean => c.prefix === (c.family === 4 ? 32 : 128);
const isEverything = (c: Cidr): boolean => c.prefix === 0;

export class LiveIpamModel {
  private pools = new Map<string, PoolRec>();
  private held = new Map<string, Holder>();
  private deferred: Deferred[] = [];
  /** Releases whose request was seen and whose reply was not: address keys and PoolIDs, counted. */
  private releasingAddr = new Map<string, number>();
  private releasingPool = new Map<string, number>();

  /** A daemon (re)start: it replays what it still holds; what we knew before may be gone. */
  reset(): void {
    this.pools.clear();
    this.held.clear();
    this.deferred = [];
  }

  private spaceOf(poolId: string): string {
    const p = this.pools.get(poolId);
    return p !== undefined ? p.space : `pool:${poolId}`;
  }

  private keyOf(poolId: string, family: 4 | 6, value: bigint): string {
    return `${this.spaceOf(poolId)}|${family}|${value}`;
  }

  private releaseKey(req: Record<string, unknown>): string | null {
    const ip = parseIp(str(req['Address']));
    // dockerd releases bare addresses; a CIDR is read up to the slash as some plugins do.
    const bare = ip ?? parseCidrWithAddress(str(req['Address']));
    if (bare === null) return null;
    const family = 'family' in bare ? bare.family : bare.cidr.family;
    const value = 'value' in bare ? bare.value : bare.addr;
    return this.keyOf(str(req['PoolID']), family, value);
  }

  /** The request of a call is complete (its reply is not): releases start counting now. */
  begin(method: string, req: Record<string, unknown> | null): void {
    if (req === null) return;
    if (method === 'ReleaseAddress') {
      const k = this.releaseKey(req);
      if (k !== null) this.releasingAddr.set(k, (this.releasingAddr.get(k) ?? 0) + 1);
    } else if (method === 'ReleasePool') {
      const id = str(req['PoolID']);
      this.releasingPool.set(id, (this.releasingPool.get(id) ?? 0) + 1);
    }
  }

  /** The call ended (reply or not): judge it. `ok`: dockerd took it as success. */
  end(seq: number, method: string, req: Record<string, unknown> | null, reply: Record<string, unknown> | null, ok: boolean): LiveViolation[] {
    const out: LiveViolation[] = [];
    switch (method) {
      case 'RequestPool':
        if (ok && req !== null && reply !== null) this.requestPool(seq, req, reply, out);
        break;
      case 'ReleasePool':
        if (req !== null) {
          const id = str(req['PoolID']);
          this.countDown(this.releasingPool, id);
          this.releasePool(seq, id, ok, out);
        }
        break;
      case 'RequestAddress':
        if (ok && req !== null && reply !== null) this.requestAddress(seq, req, reply, out);
        break;
      case 'ReleaseAddress':
        if (req !== null) {
          const k = this.releaseKey(req);
          if (k !== null) {
            this.countDown(this.releasingAddr, k);
            this.releaseAddress(seq, k, str(req['PoolID']), str(req['Address']), ok, out);
          }
        }
        break;
    }
    this.settle(seq, out);
    return out;
  }

  private countDown(m: Map<string, number>, k: string): void {
    const n = (m.get(k) ?? 0) - 1;
    if (n <= 0) m.delete(k);
    else m.set(k, n);
  }

  private requestPool(seq: number, req: Record<string, unknown>, reply: Record<string, unknown>, out: LiveViolation[]): void {
    const id = str(reply['PoolID']);
    const poolText = str(reply['Pool']);
    const pool = parseCidr(poolText);
    const asked = str(req['Pool']);
    const v6 = req['V6'] === true;
    if (pool === null) {
      out.push({ rule: 'ipam.pool-cidr', level: 'must', message: `RequestPool answered Pool ${JSON.stringify(poolText)}, not a CIDR: dockerd fails the network create ("invalid CIDR address")` });
    } else if (asked === '' && (pool.family === 6) !== v6) {
      out.push({ rule: 'ipam.pool-cidr', level: 'must', message: `RequestPool with V6=${v6} answered the IPv${pool.family} pool ${poolText}` });
    }
    const dataGateway = str(strMap(reply['Data'])[GATEWAY_MARK]);
    if (dataGateway !== '' && parseCidr(dataGateway) === null) {
      out.push({ rule: 'ipam.pool-cidr', level: 'must', message: `RequestPool Data carries the gateway ${JSON.stringify(dataGateway)}, not a CIDR: dockerd fails the network create` });
    }
    const askedCidr = parseCidr(asked);
    if (asked !== '' && pool !== null && askedCidr !== null && !(askedCidr.base === pool.base && askedCidr.prefix === pool.prefix && askedCidr.family === pool.family)) {
      out.push({ rule: 'ipam.request-pool-explicit', level: 'compat', message: `--subnet ${asked} was answered with the pool ${poolText}; dockerd uses the pool returned` });
    }
    const space = str(req['AddressSpace']);
    const existing = this.pools.get(id);
    if (existing !== undefined) {
      // The same PoolID again: a reference-counted or shared pool (Calico); dockerd releases it as often.
      existing.refs++;
      return;
    }
    if (asked === '' && pool !== null && !isEverything(pool)) {
      for (const other of this.pools.values()) {
        if (other.space !== space || other.pool === null || isEverything(other.pool) || !overlaps(other.pool, pool)) continue;
        if (this.releasingPool.has(other.id)) continue;
        out.push({
          rule: 'ipam.auto-pool',
          level: 'must',
          message: `automatic pool ${poolText} (PoolID ${JSON.stringify(id)}) overlaps the held pool ${formatCidr(other.pool)} (PoolID ${JSON.stringify(other.id)}): two networks share addresses`,
          context: [other.seq],
        });
        break;
      }
    }
    const sub = str(req['SubPool']) === '' ? null : parseCidr(str(req['SubPool']));
    this.pools.set(id, { id, space, pool, sub, auto: asked === '', seq, refs: 1, held: new Set() });
  }

  private releasePool(seq: number, id: string, ok: boolean, out: LiveViolation[]): void {
    const p = this.pools.get(id);
    if (p === undefined) return;
    if (!ok) {
      out.push({
        rule: 'ipam.released-pool-reusable',
        level: 'must',
        message: `ReleasePool of the held pool ${p.pool !== null ? formatCidr(p.pool) : '?'} (PoolID ${JSON.stringify(id)}) was refused: dockerd forgets the network anyway, the pool leaks`,
        context: [p.seq],
      });
      return;
    }
    p.refs--;
    if (p.refs > 0) return;
    this.pools.delete(id);
    // dockerd releases a pool's addresses first; what is left goes with the pool.
    for (const k of p.held) {
      const h = this.held.get(k);
      if (h !== undefined && h.poolId === id) this.held.delete(k);
    }
  }

  private requestAddress(seq: number, req: Record<string, unknown>, reply: Record<string, unknown>, out: LiveViolation[]): void {
    const poolId = str(req['PoolID']);
    const text = str(reply['Address']);
    const asked = str(req['Address']);
    const gateway = str(strMap(req['Options'])['RequestAddressType']) === GATEWAY_MARK;
    const got = parseCidrWithAddress(text);
    if (got === null) {
      out.push({
        rule: 'ipam.address-cidr',
        level: 'must',
        message: text === '' ? 'RequestAddress answered no Address: dockerd fails ("No address returned")' : `RequestAddress answered ${JSON.stringify(text)}, not a CIDR: dockerd fails ("invalid CIDR address")`,
      });
      return;
    }
    const { cidr: own, addr } = got;
    const family = own.family;
    const p = this.pools.get(poolId);
    const ctx = p !== undefined ? [p.seq] : [];
    if (asked !== '') {
      const want = parseIp(asked);
      if (want !== null && (want.family !== family || want.value !== addr)) {
        out.push({ rule: 'ipam.preferred-address-honoured', level: 'must', message: `RequestAddress for ${asked} answered ${text}: --ip/--gateway/--aux-address must get exactly that address or an error` });
      }
    }
    if (p !== undefined && p.pool !== null) {
      const pool = p.pool;
      if (!contains(pool, family, addr)) {
        out.push({ rule: 'ipam.address-in-pool', level: 'must', message: `${text} is outside its pool ${formatCidr(pool)} (PoolID ${JSON.stringify(poolId)})`, context: ctx });
      } else {
        if (own.prefix !== pool.prefix && !isHostRoute(own)) {
          out.push({ rule: 'ipam.address-prefix-length', level: 'should', message: `${text} has prefix /${own.prefix}; the pool is ${formatCidr(pool)} (the container's netmask comes from it; /${family === 4 ? 32 : 128} is the routed form)`, context: ctx });
        }
        if (!isHostRoute(own) && isReserved(pool, addr) && pool.prefix < (family === 4 ? 31 : 127)) {
          const what = family === 4 ? (addr === pool.base ? 'network' : 'broadcast') : 'subnet-router anycast';
          if (family === 6) {
            out.push({ rule: 'ipam.ipv6-subnet-anycast-reserved', level: 'should', message: `${text} is the subnet-router anycast address of ${formatCidr(pool)}`, context: ctx });
          } else if (asked === '') {
            out.push({ rule: 'ipam.no-network-broadcast', level: 'must', message: `${text} is the ${what} address of ${formatCidr(pool)}: a container there cannot talk`, context: ctx });
          } else {
            out.push({ rule: 'ipam.preferred-address-validated', level: 'should', message: `the requested ${asked} is the ${what} address of ${formatCidr(pool)} and was granted`, context: ctx });
          }
        }
        if (asked === '' && !gateway && p.sub !== null && !contains(p.sub, family, addr)) {
          out.push({ rule: 'ipam.address-in-subpool', level: 'should', message: `automatic address ${text} is outside the --ip-range ${formatCidr(p.sub)} of pool ${formatCidr(pool)}`, context: ctx });
        }
      }
    }
    const key = this.keyOf(poolId, family, addr);
    const fresh: Holder = { key, poolId, seq, text };
    const old = this.held.get(key);
    if (old !== undefined) {
      if (this.releaseInFlight(old)) {
        this.deferred.push({ fresh, old });
        return;
      }
      out.push(duplicate(fresh, old));
    }
    this.hold(fresh);
  }

  private hold(h: Holder): void {
    this.held.set(h.key, h);
    this.pools.get(h.poolId)?.held.add(h.key);
  }

  private releaseInFlight(h: Holder): boolean {
    return this.releasingAddr.has(h.key) || this.releasingPool.has(h.poolId);
  }

  private releaseAddress(seq: number, key: string, poolId: string, text: string, ok: boolean, out: LiveViolation[]): void {
    const h = this.held.get(key);
    if (h === undefined) return;
    if (!ok) {
      // A release naming another pool (a late retry, protocol.md §1.5) may be refused: the address is held elsewhere.
      if (h.poolId !== poolId) return;
      out.push({ rule: 'ipam.released-address-reusable', level: 'must', message: `ReleaseAddress of the held ${text} was refused: dockerd forgets it anyway, the address leaks`, context: [h.seq] });
      return;
    }
    this.held.delete(key);
    this.pools.get(h.poolId)?.held.delete(key);
  }

  /** Judge deferred grants whose colliding release has now answered. */
  private settle(seq: number, out: LiveViolation[]): void {
    if (this.deferred.length === 0) return;
    const still: Deferred[] = [];
    for (const d of this.deferred) {
      const current = this.held.get(d.fresh.key);
      if (current === d.old && this.releaseInFlight(d.old)) {
        still.push(d);
        continue;
      }
      if (current !== undefined) out.push({ ...duplicate(d.fresh, current), message: `${duplicate(d.fresh, current).message} (judged when the release in flight answered, call ${seq})` });
      this.hold(d.fresh);
    }
    this.deferred = still;
  }
}

function duplicate(fresh: Holder, old: Holder): LiveViolation {
  return {
    rule: 'ipam.no-duplicate-address',
    level: 'must',
    message: `${fresh.text} (PoolID ${JSON.stringify(fresh.poolId)}) is already held: handed out by call ${old.seq} as ${old.text} and not released`,
    context: [old.seq, fresh.seq],
  };
}

