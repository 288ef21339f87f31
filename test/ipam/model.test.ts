/**
 * Model-based test (fc.commands): random pool and address operations against
 * a deliberately simple model (sets of allocated ordinals per master, a map of
 * pool IDs with reference counts). Checks agreement on success/failure and
 * exact lowest-free answers, no double allocation, and that released
 * addresses can be had again.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createIpam, type SyncReferenceIpam } from '../../src/ipam/index.js';

interface Cidr {
  text: string;
  family: 4 | 6;
  start: bigint;
  bits: number;
}
const v4 = (a: number, b: number, c: number, d: number): bigint => BigInt(((a << 24) >>> 0) + (b << 16) + (c << 8) + d);
const c4 = (text: string, start: bigint, bits: number): Cidr => ({ text, family: 4, start, bits });
const MASTERS: Cidr[] = [
  c4('10.0.0.0/28', v4(10, 0, 0, 0), 4),
  c4('10.0.0.0/29', v4(10, 0, 0, 0), 3),
  c4('10.0.0.16/28', v4(10, 0, 0, 16), 4),
  c4('10.0.0.0/24', v4(10, 0, 0, 0), 8),
  c4('10.1.0.0/30', v4(10, 1, 0, 0), 2),
  { text: 'fd00::/124', family: 6, start: 0xfd00n << 112n, bits: 4 },
];
/** Sub-pools per master index: [text, first ordinal, last ordinal]. */
const SUBS: Record<number, [string, number, number][]> = {
  0: [['10.0.0.4/30', 4, 7], ['10.0.0.8/29', 8, 15]],
  3: [['10.0.0.128/27', 128, 159]],
  5: [['fd00::8/125', 8, 15]],
};

interface MPool {
  master: string;
  sub: [number, number] | null;
  /** Master: explicitly requested (own reference) + number of sub-pools. */
  own: boolean;
  subs: number;
}
interface MMaster {
  cidr: Cidr;
  used: Set<number>;
}
interface Model {
  pools: Map<string, MPool>;
  masters: Map<string, MMaster>;
}

const size = (c: Cidr): number => 2 ** c.bits;
const reserved = (c: Cidr): number[] => (c.family === 4 ? [0, size(c) - 1] : [0]);
const addrText = (c: Cidr, ord: number): string => {
  const v = c.start + BigInt(ord);
  if (c.family === 4) return [24, 16, 8, 0].map((s) => Number((v >> BigInt(s)) & 255n)).join('.');
  return `fd00::${(ord).toString(16)}`;
};
const overlaps = (a: Cidr, b: Cidr): boolean =>
  a.family === b.family && a.start < b.start + BigInt(size(b)) && b.start < a.start + BigInt(size(a));

function masterId(c: Cidr): string {
  return `LocalDefault/${c.text}`;
}

type Real = SyncReferenceIpam;
type Cmd = fc.Command<Model, Real>;

class RequestPool implements Cmd {
  constructor(readonly m: number, readonly s: number | null) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const cidr = MASTERS[this.m];
    const sub = this.s === null ? null : SUBS[this.m][this.s];
    const mid = masterId(cidr);
    const id = sub === null ? mid : `${mid}/${sub[0]}`;
    const call = () => real.requestPool({ AddressSpace: 'LocalDefault', Pool: cidr.text, SubPool: sub?.[0] ?? '' });
    const clash = model.pools.has(id) || (sub === null && [...model.masters.values()].some((mm) => overlaps(mm.cidr, cidr)));
    if (clash) {
      expect(call).toThrow('Pool overlaps with other one on this address space');
      return;
    }
    expect(call()).toMatchObject({ PoolID: id, Pool: cidr.text });
    model.pools.set(id, { master: mid, sub: sub === null ? null : [sub[1], sub[2]], own: true, subs: 0 });
    if (sub !== null && model.pools.has(mid)) model.pools.get(mid)!.subs++;
    else if (sub !== null) model.pools.set(mid, { master: mid, sub: null, own: false, subs: 1 });
    if (!model.masters.has(mid)) model.masters.set(mid, { cidr, used: new Set(reserved(cidr)) });
  }
  toString(): string {
    return `requestPool(${MASTERS[this.m].text}${this.s === null ? '' : ` / ${SUBS[this.m][this.s][0]}`})`;
  }
}

class ReleasePool implements Cmd {
  constructor(readonly pick: number) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const ids = [...model.pools.keys()].sort();
    const id = ids.length === 0 || this.pick >= ids.length ? 'LocalDefault/10.9.9.0/24' : ids[this.pick];
    const p = model.pools.get(id);
    if (p === undefined) {
      expect(() => real.releasePool({ PoolID: id })).toThrow('Address space does not contain specified address pool');
      return;
    }
    real.releasePool({ PoolID: id });
    const mp = model.pools.get(p.master)!;
    if (p.sub !== null) {
      model.pools.delete(id);
      mp.subs--;
    } else mp.own = false;
    if (!mp.own && mp.subs === 0) model.pools.delete(p.master);
    if (!model.pools.has(p.master)) model.masters.delete(p.master);
  }
  toString(): string {
    return `releasePool(#${this.pick})`;
  }
}

class RequestAddress implements Cmd {
  constructor(readonly pick: number, readonly pref: number | null, readonly serial: boolean) {}
  check(model: Model): boolean {
    return model.pools.size > 0;
  }
  run(model: Model, real: Real): void {
    const ids = [...model.pools.keys()].sort();
    const id = ids[this.pick % ids.length];
    const p = model.pools.get(id)!;
    const mm = model.masters.get(p.master)!;
    const full = mm.used.size === size(mm.cidr);
    if (this.pref !== null) {
      const ord = this.pref % size(mm.cidr);
      const text = addrText(mm.cidr, ord);
      const call = () => real.requestAddress({ PoolID: id, Address: text });
      if (full) expect(call).toThrow('No available addresses on this pool');
      else if (mm.used.has(ord)) expect(call).toThrow('Address already in use');
      else {
        expect(call().Address).toBe(`${text}/${mm.cidr.text.split('/')[1]}`);
        mm.used.add(ord);
      }
      return;
    }
    const [lo, hi] = p.sub ?? [0, size(mm.cidr) - 1];
    const free: number[] = [];
    for (let o = lo; o <= hi; o++) if (!mm.used.has(o)) free.push(o);
    const call = () => real.requestAddress({ PoolID: id, Options: this.serial ? { 'com.docker.network.ipam.serial': 'true' } : null });
    if (full || free.length === 0) {
      expect(call).toThrow('No available addresses on this pool');
      return;
    }
    const got = call().Address.split('/')[0];
    const ord = free.find((o) => addrText(mm.cidr, o) === got);
    // Never an address already held; lowest free unless serial.
    expect(ord, `${got} must be free in ${id}`).toBeDefined();
    if (!this.serial) expect(ord).toBe(free[0]);
    mm.used.add(ord!);
  }
  toString(): string {
    return `requestAddress(#${this.pick}, ${this.pref ?? 'auto'}${this.serial ? ', serial' : ''})`;
  }
}

class ReleaseAddress implements Cmd {
  constructor(readonly pick: number, readonly ordPick: number) {}
  check(model: Model): boolean {
    return model.pools.size > 0;
  }
  run(model: Model, real: Real): void {
    const ids = [...model.pools.keys()].sort();
    const id = ids[this.pick % ids.length];
    const mm = model.masters.get(model.pools.get(id)!.master)!;
    const ord = this.ordPick % size(mm.cidr);
    real.releaseAddress({ PoolID: id, Address: addrText(mm.cidr, ord) });
    if (!reserved(mm.cidr).includes(ord)) mm.used.delete(ord);
    // Released (and never reserved) means it can be had again right away.
    if (!mm.used.has(ord)) expect(real.isAllocated(id, addrText(mm.cidr, ord))).toBe(false);
  }
  toString(): string {
    return `releaseAddress(#${this.pick}, ${this.ordPick})`;
  }
}

const commands = [
  fc.tuple(fc.integer({ min: 0, max: MASTERS.length - 1 }), fc.integer({ min: -1, max: 1 })).map(([m, s]) => {
    const subs = SUBS[m] ?? [];
    return new RequestPool(m, s < 0 || subs.length === 0 ? null : s % subs.length) as Cmd;
  }),
  fc.integer({ min: 0, max: 8 }).map((i) => new ReleasePool(i) as Cmd),
  fc.tuple(fc.nat(20), fc.option(fc.nat(300), { freq: 3 }), fc.boolean()).map(([i, p, s]) => new RequestAddress(i, p, s) as Cmd),
  fc.tuple(fc.nat(20), fc.nat(300)).map(([i, o]) => new ReleaseAddress(i, o) as Cmd),
];

describe('reference IPAM vs a simple model', () => {
  it('agrees on random operation sequences', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 80 }), (cmds) => {
        fc.modelRun(() => ({ model: { pools: new Map(), masters: new Map() }, real: createIpam() }), cmds);
      }),
      { numRuns: 300 },
    );
  });

  it('the model catches a wrong allocator (the test can fail)', () => {
    const broken = createIpam();
    const orig = broken.requestAddress.bind(broken);
    // Hands out the same address twice.
    let last: ReturnType<SyncReferenceIpam['requestAddress']> | null = null;
    broken.requestAddress = (req) => {
      if (last !== null && !req.Address) return last;
      last = orig(req);
      return last;
    };
    expect(() =>
      fc.modelRun(() => ({ model: { pools: new Map(), masters: new Map() }, real: broken }), [
        new RequestPool(0, null),
        new RequestAddress(0, null, false),
        new RequestAddress(0, null, false),
      ]),
    ).toThrow();
  });
});
