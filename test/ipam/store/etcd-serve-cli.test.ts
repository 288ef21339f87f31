/**
 * `cnmkit serve --store`: bad flags are one line and exit 2; an unreachable etcd
 * is reported at start and every shared-space call fails with {"Err"} in
 * bounded time; two instances on one etcd member act as one IPAM over their
 * sockets (LocalDefault stays per instance).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdSkipReason, freePort, startEtcd, type EtcdCluster } from '../../helpers/etcd.js';
import { runCli, startCli } from '../../cli/run-cli.js';
import { newPrefix, post } from './harness.js';

const skip = etcdSkipReason();
if (skip !== null) console.log(`etcd serve tests skipped: ${skip}`);

describe('serve --store flags', () => {
  it('refuses a malformed --store and the store flags without --store, in one line', async () => {
    for (const [args, text] of [
      [['--store', 'etcd://nohost'], '--store: store endpoint must be HOST:PORT, got "nohost" in "etcd://nohost"'],
      [['--store', 'http://127.0.0.1:2379'], '--store: store must look like etcd://HOST:PORT[,HOST:PORT...], got "http://127.0.0.1:2379"'],
      [['--store-local'], '--store-local and --store-prefix need --store'],
      [['--store', 'etcd://127.0.0.1:2379', '--store-timeout', '5'], '--store-timeout must be a number of ms >= 100, got 5'],
    ] as const) {
      const r = await runCli(['serve', '--socket', join(tmpdir(), 'never.sock'), ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toEqual([`cnmkit: ${text}`]);
    }
  });
});

describe.skipIf(skip !== null)('serve --store on one etcd member', () => {
  let etcd: EtcdCluster;
  let dir: string;
  const children: import('node:child_process').ChildProcess[] = [];
  beforeAll(async () => {
    etcd = await startEtcd(1);
    dir = mkdtempSync(join(tmpdir(), 'cnmkit-serve-store-'));
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await etcd?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('two instances act as one IPAM over their sockets', async () => {
    const prefix = newPrefix();
    const [a, b] = await Promise.all(
      ['a', 'b'].map(async (n) => {
        const socket = join(dir, `${n}.sock`);
        const { child } = await startCli(['serve', '--socket', socket, '--store', etcd.url, '--store-prefix', prefix], /cnmkit serve: .* on /);
        children.push(child);
        return socket;
      }),
    );
    const pool = await post(a!, '/IpamDriver.RequestPool', { AddressSpace: 'GlobalDefault', Pool: '', SubPool: '', Options: {}, V6: false });
    expect(pool).toEqual({ status: 200, body: { PoolID: 'GlobalDefault/10.0.0.0/24', Pool: '10.0.0.0/24', Data: {} } });
    expect((await post(b!, '/IpamDriver.RequestAddress', { PoolID: 'GlobalDefault/10.0.0.0/24', Address: '', Options: {} })).body.Address).toBe('10.0.0.1/24');
    expect((await post(a!, '/IpamDriver.RequestAddress', { PoolID: 'GlobalDefault/10.0.0.0/24', Address: '', Options: {} })).body.Address).toBe('10.0.0.2/24');
    expect(await post(b!, '/IpamDriver.RequestPool', { AddressSpace: 'GlobalDefault', Pool: '10.0.0.0/16' })).toEqual({
      status: 500,
      body: { Err: 'Pool overlaps with other one on this address space' },
    });
    expect((await post(b!, '/IpamDriver.ReleasePool', { PoolID: 'GlobalDefault/10.0.0.0/24' })).status).toBe(200);
    expect(await post(a!, '/IpamDriver.RequestAddress', { PoolID: 'GlobalDefault/10.0.0.0/24', Address: '', Options: {} })).toEqual({
      status: 500,
      body: { Err: 'cannot find address pool for poolID:GlobalDefault/10.0.0.0/24' },
    });
    // LocalDefault stays in each instance.
    const la = await post(a!, '/IpamDriver.RequestPool', { AddressSpace: 'LocalDefault', Pool: '' });
    const lb = await post(b!, '/IpamDriver.RequestPool', { AddressSpace: 'LocalDefault', Pool: '' });
    expect(la.body.Pool).toBe(lb.body.Pool);
  });

  it('an unreachable etcd: a warning at start, then {"Err"} within --store-timeout', async () => {
    const socket = join(dir, 'down.sock');
    const port = await freePort();
    const { child, output } = await startCli(['serve', '--socket', socket, '--store', `etcd://127.0.0.1:${port}`, '--store-timeout', '1500'], /cnmkit serve: .* on /);
    children.push(child);
    expect(output()).toMatch(/cnmkit serve: warning: etcd not reachable yet/);
    const t0 = Date.now();
    const r = await post(socket, '/IpamDriver.RequestPool', { AddressSpace: 'GlobalDefault', Pool: '' });
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(r.status).toBe(500);
    expect(String(r.body.Err)).toMatch(/^IPAM store \(etcd\) unavailable: no confirmed answer within 1500 ms/);
    expect((await post(socket, '/IpamDriver.RequestPool', { AddressSpace: 'LocalDefault', Pool: '' })).status).toBe(200);
  });
});
