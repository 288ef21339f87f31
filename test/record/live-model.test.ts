/**
 * The live models' judgement in the cases a session meets that a check run
 * does not: calls overlapping on several connections (a release still in
 * flight when the address comes out again), a daemon restart replaying what
 * it holds, a recorder started while networks already exist.
 */
import { describe, expect, it } from 'vitest';
import { LiveChecker, type PendingCall } from '../../conformance/live/checker.js';

const enc = (s: string): Buffer => Buffer.from(s);
const POOL = '{"AddressSpace":"L","Pool":"10.9.0.0/24","SubPool":"","Options":{},"V6":false}\n';

class Session {
  readonly c = new LiveChecker({ profile: 'docker-20.10' });
  seq = 0;
  begin(path: string, body: string): PendingCall {
    return this.c.begin(path, enc(body));
  }
  end(p: PendingCall, status: number, body: string): string[] {
    return this.c.end(p, ++this.seq, { status, headers: {}, body: enc(body) }, 1).violations.filter((v) => v.level !== 'compat').map((v) => v.rule);
  }
  call(path: string, body: string, status: number, reply: string): string[] {
    return this.end(this.begin(path, body), status, reply);
  }
  pool(): void {
    this.call('/IpamDriver.RequestPool', POOL, 200, '{"PoolID":"p","Pool":"10.9.0.0/24","Data":{}}');
  }
  grant(addr: string): string[] {
    return this.call('/IpamDriver.RequestAddress', '{"PoolID":"p","Address":"","Options":null}', 200, `{"Address":"${addr}/24","Data":{}}`);
  }
}

describe('live IPAM model', () => {
  it('an address handed out again while its release is in flight is judged when the release answers', () => {
    const ok = new Session();
    ok.pool();
    expect(ok.grant('10.9.0.5')).toEqual([]);
    const rel = ok.begin('/IpamDriver.ReleaseAddress', '{"PoolID":"p","Address":"10.9.0.5"}');
    expect(ok.grant('10.9.0.5'), 'the plugin may have freed it already').toEqual([]);
    expect(ok.end(rel, 200, '{}')).toEqual([]);
    expect(ok.grant('10.9.0.5'), 'now held by the second grant').toEqual(['ipam.no-duplicate-address']);

    const refused = new Session();
    refused.pool();
    refused.grant('10.9.0.5');
    const r2 = refused.begin('/IpamDriver.ReleaseAddress', '{"PoolID":"p","Address":"10.9.0.5"}');
    expect(refused.grant('10.9.0.5')).toEqual([]);
    expect(refused.end(r2, 500, '{"Err":"busy"}').sort()).toEqual(['ipam.no-duplicate-address', 'ipam.released-address-reusable']);
  });

  it('a daemon restart (Plugin.Activate) starts the model again: the replayed addresses are no duplicates', () => {
    const s = new Session();
    s.call('/Plugin.Activate', '', 200, '{"Implements":["IpamDriver","NetworkDriver"]}');
    s.pool();
    s.grant('10.9.0.2');
    s.call('/Plugin.Activate', '', 200, '{"Implements":["IpamDriver","NetworkDriver"]}');
    s.pool();
    expect(s.call('/IpamDriver.RequestAddress', '{"PoolID":"p","Address":"10.9.0.2","Options":null}', 200, '{"Address":"10.9.0.2/24","Data":{}}')).toEqual([]);
  });

  it('a pool it never saw (recorder started late): addresses are judged for duplicates only', () => {
    const s = new Session();
    expect(s.call('/IpamDriver.RequestAddress', '{"PoolID":"old","Address":"","Options":null}', 200, '{"Address":"10.50.0.255/16","Data":{}}')).toEqual([]);
    expect(s.call('/IpamDriver.RequestAddress', '{"PoolID":"old","Address":"","Options":null}', 200, '{"Address":"10.50.0.255/16","Data":{}}')).toEqual(['ipam.no-duplicate-address']);
    expect(s.call('/IpamDriver.ReleasePool', '{"PoolID":"gone"}', 500, '{"Err":"unknown pool"}')).toEqual([]);
  });

  it('the same PoolID twice is a shared, counted pool (Calico); overlapping explicit pools are accepted (per-address)', () => {
    const s = new Session();
    s.pool();
    s.pool();
    s.call('/IpamDriver.ReleasePool', '{"PoolID":"p"}', 200, '{}');
    expect(s.grant('10.9.0.9')).toEqual([]);
    expect(s.call('/IpamDriver.RequestPool', '{"AddressSpace":"L","Pool":"10.9.0.0/25","SubPool":"","Options":{},"V6":false}', 200, '{"PoolID":"q","Pool":"10.9.0.0/25"}')).toEqual([]);
    expect(s.call('/IpamDriver.RequestAddress', '{"PoolID":"q","Address":"","Options":null}', 200, '{"Address":"10.9.0.9/25"}')).toEqual(['ipam.no-duplicate-address']);
  });

  it('errors in any text or status are no violations; a 200 with the driver field is', () => {
    const s = new Session();
    expect(s.call('/IpamDriver.RequestPool', POOL, 409, 'pool taken')).toEqual([]);
    expect(s.call('/IpamDriver.RequestPool', POOL, 400, '')).toEqual([]);
    expect(s.call('/IpamDriver.RequestPool', POOL, 200, '{"Err":"pool taken"}')).toContain('reply.ipam-error-in-Err-field');
  });

  it('a Data gateway must be a CIDR (routed designs answer 0.0.0.0/0)', () => {
    const s = new Session();
    expect(s.call('/IpamDriver.RequestPool', POOL, 200, '{"PoolID":"r","Pool":"0.0.0.0/0","Data":{"com.docker.network.gateway":"0.0.0.0/0"}}')).toEqual([]);
    expect(s.call('/IpamDriver.RequestPool', POOL, 200, '{"PoolID":"x","Pool":"10.9.0.0/24","Data":{"com.docker.network.gateway":"10.9.0.1"}}')).toEqual(['ipam.pool-cidr']);
  });
});
