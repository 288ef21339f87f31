/**
 * Differential test: a durable IPAM (journal, compactions, restarts) answers
 * exactly like an in-memory one fed the same random calls. Cursors and the
 * round-robin index are persisted, so a restart must be invisible.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIpam, type ReferenceIpam, type SyncReferenceIpam } from '../../src/ipam/index.js';

const root = mkdtempSync(join(tmpdir(), 'cnmkit-ipam-diff-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;

interface Model {
  mem: SyncReferenceIpam;
}
interface Real {
  dir: string;
  ipam: ReferenceIpam;
}

type Outcome = { ok: unknown } | { err: string; code: string };
async function outcome(f: () => unknown): Promise<Outcome> {
  try {
    return { ok: await f() };
  } catch (e) {
    const err = e as Error & { code: string };
    return { err: err.message, code: err.code };
  }
}

const POOLS = ['10.0.0.0/29', '10.0.0.0/24', '10.1.0.0/16', 'fd00::/64', ''];
const SUBS = ['', '', '10.1.2.0/30', 'fd00::10/124'];
const IDS = [
  'LocalDefault/10.0.0.0/29',
  'LocalDefault/10.0.0.0/24',
  'LocalDefault/10.1.0.0/16',
  'LocalDefault/10.1.0.0/16/10.1.2.0/30',
  'LocalDefault/fd00::/64',
  'LocalDefault/fd00::/64/fd00::10/124',
  'LocalDefault/172.17.0.0/16',
  'LocalDefault/172.18.0.0/16',
];

type Call = (i: ReferenceIpam) => unknown;
class CallCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly label: string, readonly call: Call) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const want = await outcome(() => this.call(m.mem));
    const got = await outcome(() => this.call(r.ipam));
    expect(got).toEqual(want);
  }
  toString(): string {
    return this.label;
  }
}

class RestartCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly compact: boolean) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    if (this.compact) await r.ipam.compact();
    await r.ipam.close();
    r.ipam = createIpam({ stateDir: r.dir });
    expect(r.ipam.pools()).toEqual(m.mem.pools());
  }
  toString(): string {
    return this.compact ? 'compact+restart' : 'restart';
  }
}

const addr = (id: string, n: number): string => {
  if (id.includes('fd00')) return `fd00::${n.toString(16)}`;
  const base = id.split('/')[1].split('.').map(Number);
  return `${base[0]}.${base[1]}.${base[2] + (n >> 8)}.${n & 255}`;
};

const cmds = [
  fc.tuple(fc.nat(POOLS.length - 1), fc.nat(SUBS.length - 1), fc.boolean()).map(([p, s, v6]) => {
    const sub = POOLS[p] === '' || !SUBS[s].startsWith(POOLS[p].slice(0, 4)) ? '' : SUBS[s];
    return new CallCmd(`requestPool(${POOLS[p]}, ${sub}, ${v6})`, (i) => i.requestPool({ AddressSpace: 'LocalDefault', Pool: POOLS[p], SubPool: sub, V6: v6 }));
  }),
  fc.nat(IDS.length - 1).map((k) => new CallCmd(`releasePool(${IDS[k]})`, (i) => i.releasePool({ PoolID: IDS[k] }))),
  fc.tuple(fc.nat(IDS.length - 1), fc.option(fc.nat(20)), fc.boolean(), fc.boolean()).map(
    ([k, pref, serial, gw]) =>
      new CallCmd(`requestAddress(${IDS[k]}, ${pref}, ${serial}, ${gw})`, (i) =>
        i.requestAddress({
          PoolID: IDS[k],
          Address: pref === null ? '' : addr(IDS[k], pref),
          Options: { ...(serial ? { 'com.docker.network.ipam.serial': 'true' } : {}), ...(gw ? { RequestAddressType: 'com.docker.network.gateway' } : {}) },
        }),
      ),
  ),
  fc.tuple(fc.nat(IDS.length - 1), fc.nat(20)).map(([k, n]) => new CallCmd(`releaseAddress(${IDS[k]}, ${n})`, (i) => i.releaseAddress({ PoolID: IDS[k], Address: addr(IDS[k], n) }))),
  fc.boolean().map((c) => new RestartCmd(c)),
];

describe('durable vs in-memory IPAM', () => {
  it('agree on every answer across restarts and compactions', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(cmds, { maxCommands: 60 }), async (commands) => {
        const dir = join(root, `s${seq++}`);
        const real: Real = { dir, ipam: createIpam({ stateDir: dir, compactBytes: 4096 }) };
        try {
          await fc.asyncModelRun(() => ({ model: { mem: createIpam() }, real }), commands);
        } finally {
          await real.ipam.close();
        }
      }),
      {
        numRuns: 100,
        examples: [
          // Serial cursor must survive a restart replayed from the journal alone.
          [
            [
              new CallCmd('pool', (i) => i.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/24' })),
              ...[1, 2, 3].map(() => new CallCmd('addr', (i) => i.requestAddress({ PoolID: IDS[1] }))),
              new CallCmd('release .1', (i) => i.releaseAddress({ PoolID: IDS[1], Address: '10.0.0.1' })),
              new RestartCmd(false),
              new CallCmd('serial', (i) => i.requestAddress({ PoolID: IDS[1], Options: { 'com.docker.network.ipam.serial': 'true' } })),
              new CallCmd('auto pool', (i) => i.requestPool({ AddressSpace: 'LocalDefault', Pool: '' })),
              new RestartCmd(false),
              new CallCmd('auto pool', (i) => i.releasePool({ PoolID: 'LocalDefault/172.17.0.0/16' })),
              new CallCmd('auto pool', (i) => i.requestPool({ AddressSpace: 'LocalDefault', Pool: '' })),
            ],
          ],
        ],
      },
    );
  });

  it('ignores leftovers of an interrupted compaction', async () => {
    const dir = join(root, 'leftover');
    const a = createIpam({ stateDir: dir });
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/24' });
    await a.close();
    writeFileSync(join(dir, 'snapshot.7.tmp'), 'garbage');
    const b = createIpam({ stateDir: dir });
    expect(b.pools().map((p) => p.id)).toEqual(['LocalDefault/10.0.0.0/24']);
    expect(readdirSync(dir)).not.toContain('snapshot.7.tmp');
    await b.close();
  });
});
