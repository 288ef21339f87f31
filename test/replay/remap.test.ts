/** The re-mapping tables: bijections from transpositions, pools that move their addresses, request rewriting. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdMap, Permutation } from '../../conformance/replay-trace/remap.js';
import { rewriteBody } from '../../conformance/replay-trace/engine.js';

describe('Permutation', () => {
  it('stays a bijection under any sequence of learnt pairs', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 15 })), { maxLength: 40 }), (pairs) => {
        const p = new Permutation<number>();
        for (const [a, b] of pairs) {
          p.learn(a, b);
          expect(p.map(a)).toBe(b);
        }
        const images = Array.from({ length: 16 }, (_, i) => p.map(i));
        expect(new Set(images).size).toBe(16);
        for (let i = 0; i < 16; i++) expect(p.inverse(p.map(i))).toBe(i);
      }),
    );
  });

  it('a value the new plugin already gave away is sent as the one that is free now', () => {
    const p = new Permutation<string>();
    p.learn('10.0.0.2', '10.0.0.9'); // recorded .2, the plugin picked .9
    // The recording later asks for .9 explicitly: free there, and .2 is free now.
    expect(p.map('10.0.0.9')).toBe('10.0.0.2');
  });
});

describe('IdMap', () => {
  it('rewrites PoolIDs, addresses with and without prefix, and leaves the rest alone', () => {
    const ids = new IdMap();
    ids.learnString('LocalDefault/10.7.0.0/24', 'pool-1');
    ids.learnAddress('10.7.0.2/24', '10.7.0.77/24');
    const req = { PoolID: 'LocalDefault/10.7.0.0/24', Address: '10.7.0.2', Options: { gw: '10.7.0.2/24', name: 'c1' } };
    expect(ids.rewrite(req)).toEqual({ PoolID: 'pool-1', Address: '10.7.0.77', Options: { gw: '10.7.0.77/24', name: 'c1' } });
  });

  it('an automatic pool moves with its addresses (offsets) and its prefix', () => {
    const ids = new IdMap();
    ids.learnPool('172.18.0.0/16', '10.180.4.0/24');
    expect(ids.rewriteString('172.18.0.0/16')).toBe('10.180.4.0/24');
    expect(ids.rewriteString('172.18.0.1/16')).toBe('10.180.4.1/24');
    expect(ids.rewriteString('172.18.0.9')).toBe('10.180.4.9');
    // Addresses the new pool cannot hold stay as they are.
    expect(ids.rewriteString('172.18.3.9')).toBe('172.18.3.9');
    // A learnt address wins over the offset.
    ids.learnAddress('172.18.0.2', '10.180.4.200');
    expect(ids.rewriteString('172.18.0.2/16')).toBe('10.180.4.200/24');
  });

  it('pools of one size swap, so a later explicit --subnet equal to the new pool is sent as the old one', () => {
    const ids = new IdMap();
    ids.learnPool('10.250.0.0/24', '10.180.7.0/24');
    expect(ids.rewriteString('10.180.7.0/24')).toBe('10.250.0.0/24');
    expect(ids.rewriteString('10.180.7.5')).toBe('10.250.0.5');
  });

  it('a block inside a moved pool moves with its offset, both ways, when it fits', () => {
    const ids = new IdMap();
    ids.learnPool('172.17.0.0/16', '10.180.5.0/24');
    // The recording later used 10.180.5.0/24 explicitly (free then); the plugin now holds it: sent as the block free now.
    expect(ids.rewriteString('10.180.5.0/24')).toBe('172.17.0.0/24');
    expect(ids.rewriteString('10.180.5.128/25')).toBe('172.17.0.128/25');
    // A block of the recorded automatic pool that fits the new one.
    expect(ids.rewriteString('172.17.0.64/26')).toBe('10.180.5.64/26');
    expect(ids.rewriteString('172.17.1.0/24')).toBe('172.17.1.0/24');
  });

  it('a pool handed out again replaces the move it clashes with', () => {
    const ids = new IdMap();
    ids.learnPool('172.17.0.0/16', '10.180.0.0/24');
    // That network went; the next automatic pool is 172.18.0.0/16 in the recording, 10.180.0.0/24 again now.
    ids.learnPool('172.18.0.0/16', '10.180.0.0/24');
    expect(ids.rewriteString('172.18.0.0/16')).toBe('10.180.0.0/24');
    expect(ids.rewriteString('172.18.0.1/16')).toBe('10.180.0.1/24');
    expect(ids.rewriteString('172.17.0.0/16')).toBe('172.17.0.0/16');
  });

  it('MACs are matched without regard to case', () => {
    const ids = new IdMap();
    ids.learnMac('02:42:AC:11:00:02', 'ee:ee:ee:ee:ee:ee');
    expect(ids.rewriteString('02:42:ac:11:00:02')).toBe('ee:ee:ee:ee:ee:ee');
  });
});

describe('rewriteBody', () => {
  it('sends the recorded bytes when nothing maps, Go-encoded JSON when something does', () => {
    const ids = new IdMap();
    const body = '{"PoolID":"p1","Address":"","Options":{"x":"<a&b>"}}\n';
    expect(rewriteBody(ids, body).body).toBe(body);
    ids.learnString('p1', 'q1');
    expect(rewriteBody(ids, body).body).toBe('{"PoolID":"q1","Address":"","Options":{"x":"\\u003ca\\u0026b\\u003e"}}\n');
    // Not JSON (a malformed request dockerd would never send, from a replay file): as is.
    expect(rewriteBody(ids, '{"PoolID":').body).toBe('{"PoolID":');
  });
});
