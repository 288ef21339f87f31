/** Durable state in-process: restart, torn tails, compaction, group commit, the lock. */
import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { createIpam, IpamStateError, type ReferenceIpam } from '../../src/ipam/index.js';

const dirs: string[] = [];
const open: ReferenceIpam[] = [];
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cnmkit-ipam-'));
  dirs.push(d);
  return join(d, 'state');
}
function ipamAt(dir: string, extra: Parameters<typeof createIpam>[0] = {}): ReferenceIpam {
  const i = createIpam({ ...extra, stateDir: dir });
  open.push(i);
  return i;
}
afterEach(async () => {
  for (const i of open.splice(0)) await i.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const P = 'LocalDefault/10.0.0.0/16';
const SERIAL = { 'com.docker.network.ipam.serial': 'true' };

describe('durable state', () => {
  it('keeps pools, addresses, the serial cursor and the round-robin index across a restart', async () => {
    const dir = stateDir();
    const a = ipamAt(dir);
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16' });
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '' }); // 172.17
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '' }); // 172.18
    await a.releasePool({ PoolID: 'LocalDefault/172.17.0.0/16' });
    for (let i = 0; i < 5; i++) await a.requestAddress({ PoolID: P, Options: SERIAL });
    await a.releaseAddress({ PoolID: P, Address: '10.0.0.2' });
    await a.requestAddress({ PoolID: P, Address: '10.0.9.9', Options: { RequestAddressType: 'com.docker.network.gateway' } });
    const before = { pools: a.pools(), addrs: a.addresses(P) };
    await a.close();
    const b = ipamAt(dir);
    expect(b.recovery).toMatchObject({ snapshotLoaded: false, truncatedBytes: 0 });
    expect(b.recovery!.records).toBeGreaterThan(5);
    expect({ pools: b.pools(), addrs: b.addresses(P) }).toEqual(before);
    expect(b.pool(P)?.gateways).toEqual(['10.0.9.9']);
    // Serial continues after .5 instead of reusing .2; round robin continues at 172.19.
    expect(await b.requestAddress({ PoolID: P, Options: SERIAL })).toMatchObject({ Address: '10.0.0.6/16' });
    expect(await b.requestPool({ AddressSpace: 'LocalDefault', Pool: '' })).toMatchObject({ Pool: '172.19.0.0/16' });
    await expect(b.requestAddress({ PoolID: P, Address: '10.0.0.3' })).rejects.toThrow('Address already in use');
  });

  it('errors wait for the journal too and leave no record', async () => {
    const dir = stateDir();
    const a = ipamAt(dir);
    await expect(a.requestAddress({ PoolID: P })).rejects.toMatchObject({ code: 'E_IPAM_POOL_NOT_FOUND', dockerClass: 'NotFound' });
    expect(a.journalStats()).toMatchObject({ records: 0 });
  });

  it('truncates a torn tail and keeps everything before it', async () => {
    const dir = stateDir();
    const a = ipamAt(dir);
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16' });
    for (let i = 0; i < 10; i++) await a.requestAddress({ PoolID: P });
    await a.close();
    const j = join(dir, 'journal.0');
    const full = statSync(j).size;
    truncateSync(j, full - 3); // the last record (10.0.0.10) is torn
    appendFileSync(j, Buffer.from([1, 2]));
    const b = ipamAt(dir);
    expect(b.recovery!.truncatedBytes).toBeGreaterThan(0);
    expect(b.isAllocated(P, '10.0.0.9')).toBe(true);
    expect(b.isAllocated(P, '10.0.0.10')).toBe(false);
    expect(await b.requestAddress({ PoolID: P })).toMatchObject({ Address: '10.0.0.10/16' });
    await b.close();
    // The repaired journal reads cleanly afterwards.
    const c = ipamAt(dir);
    expect(c.recovery!.truncatedBytes).toBe(0);
    expect(c.isAllocated(P, '10.0.0.10')).toBe(true);
  });

  it('stops at a record with a bad checksum', async () => {
    const dir = stateDir();
    const a = ipamAt(dir);
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16' });
    await a.requestAddress({ PoolID: P });
    await a.requestAddress({ PoolID: P });
    await a.close();
    const j = join(dir, 'journal.0');
    const buf = readFileSync(j);
    buf[buf.length - 2] ^= 0xff; // flip a byte inside the last payload
    writeFileSync(j, buf);
    const b = ipamAt(dir);
    expect(b.isAllocated(P, '10.0.0.1')).toBe(true);
    expect(b.isAllocated(P, '10.0.0.2')).toBe(false);
  });

  it('compacts into a snapshot and recovers the same state', async () => {
    const dir = stateDir();
    const a = ipamAt(dir, { compactBytes: 2048 });
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16' });
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.1.0.0/16', SubPool: '10.1.2.0/24' });
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: 'fd00::/48' });
    for (let i = 0; i < 300; i++) {
      await a.requestAddress({ PoolID: i % 3 === 0 ? 'LocalDefault/10.1.0.0/16/10.1.2.0/24' : P, Options: i % 2 ? SERIAL : null });
      if (i % 7 === 0) await a.releaseAddress({ PoolID: P, Address: `10.0.0.${(i % 200) + 1}` });
    }
    await a.requestAddress({ PoolID: 'LocalDefault/fd00::/48', Address: 'fd00:0:0:ffff::1' });
    await a.requestAddress({ PoolID: 'LocalDefault/fd00::/48' });
    await a.releasePool({ PoolID: 'LocalDefault/10.1.0.0/16' }); // implicit master: no own reference, stays
    const stats = a.journalStats()!;
    expect(stats.compactions).toBeGreaterThan(0);
    expect(stats.generation).toBe(stats.compactions);
    const before = { pools: a.pools(), a: a.addresses(P), b: a.addresses('LocalDefault/fd00::/48') };
    await a.close();
    const names = readdirSync(dir).sort();
    expect(names).toEqual([`journal.${stats.generation}`, `snapshot.${stats.generation}`]);
    const b = ipamAt(dir);
    expect(b.recovery!.snapshotLoaded).toBe(true);
    expect({ pools: b.pools(), a: b.addresses(P), b: b.addresses('LocalDefault/fd00::/48') }).toEqual(before);
    // Cursor restored from the snapshot: the next serial pick equals the one before the restart would have been.
    const next = await b.requestAddress({ PoolID: P, Options: SERIAL });
    expect(b.isAllocated(P, next.Address.split('/')[0])).toBe(true);
  });

  it('concurrent calls share fsyncs (group commit)', async () => {
    const dir = stateDir();
    const a = ipamAt(dir);
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16' });
    const got = await Promise.all(Array.from({ length: 200 }, () => a.requestAddress({ PoolID: P })));
    expect(new Set(got.map((g) => g.Address)).size).toBe(200);
    const s = a.journalStats()!;
    expect(s.records).toBe(201);
    expect(s.flushes).toBeLessThan(10);
  });

  it('refuses a second owner of the state directory, live pid named', async () => {
    const dir = stateDir();
    ipamAt(dir);
    let err: unknown;
    try {
      createIpam({ stateDir: dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IpamStateError);
    expect(err).toMatchObject({ code: 'E_STATE_LOCKED', message: `state directory ${dir} is in use by pid ${process.pid}` });
  });

  it('takes over the lock of a dead process, not of a live one', async () => {
    const dir = stateDir();
    const a = ipamAt(dir);
    await a.close();
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((res) => child.on('exit', () => res(child.pid!)));
    writeFileSync(join(dir, 'lock'), `${deadPid}\n`);
    const b = ipamAt(dir);
    expect(readFileSync(join(dir, 'lock'), 'utf8').trim().split(' ')[0]).toBe(String(process.pid));
    await b.close();
    writeFileSync(join(dir, 'lock'), `${process.ppid}\n`);
    expect(() => createIpam({ stateDir: dir })).toThrow(`in use by pid ${process.ppid}`);
  });

  it('a recycled pid is not an owner: another process that got the pid, or our own pid left by a previous incarnation (pid 1 in a restarted container)', async () => {
    const dir = stateDir();
    mkdirSync(dir, { recursive: true });
    // The parent is alive, but it is not the process that wrote this lock: its start time differs.
    writeFileSync(join(dir, 'lock'), `${process.ppid} 1\n`);
    const a = ipamAt(dir);
    await a.close();
    // Our own pid in a lock this process does not hold: a kill -9'd earlier run with the same pid.
    writeFileSync(join(dir, 'lock'), `${process.pid} 1\n`);
    const b = ipamAt(dir);
    expect(() => createIpam({ stateDir: dir })).toThrow(`in use by pid ${process.pid}`);
    await b.close();
  });

  it('refuses a damaged snapshot instead of starting with partial state', async () => {
    const dir = stateDir();
    const a = ipamAt(dir);
    await a.requestPool({ AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16' });
    await a.compact();
    await a.close();
    const snap = readdirSync(dir).find((n) => n.startsWith('snapshot.'))!;
    const buf = readFileSync(join(dir, snap));
    buf[buf.length - 1] ^= 0xff;
    writeFileSync(join(dir, snap), buf);
    expect(() => createIpam({ stateDir: dir })).toThrow(/is damaged/);
    // The failed start left the lock free.
    expect(readdirSync(dir)).not.toContain('lock');
  });

  it('closed IPAM answers with a typed error', async () => {
    const a = ipamAt(stateDir());
    await a.close();
    expect(() => a.requestPool({ AddressSpace: 'LocalDefault', Pool: '' })).toThrow(expect.objectContaining({ code: 'E_IPAM_CLOSED' }));
  });
});

// Keep the import used when the platform lacks execFileSync (documentation of intent).
void execFileSync;
