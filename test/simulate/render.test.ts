/** Pool maps, the text printer, the HTML page (without a browser), replay files. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generateScenario, shrinkSteps, stepArbitrary } from '../../src/simulate/generate.js';
import { renderHtml, pageData } from '../../src/simulate/html.js';
import { poolCounts, poolMapModel } from '../../src/simulate/poolmap.js';
import { parseScenario } from '../../src/simulate/scenario.js';
import { renderText } from '../../src/simulate/text.js';
import type { PoolView, Trace } from '../../src/simulate/trace.js';
import { scenarioToYaml } from '../../src/simulate/write.js';

const small: PoolView = {
  id: 'LocalDefault/10.1.0.0/24/10.1.0.128/25',
  network: 'n1',
  family: 4,
  pool: '10.1.0.0/24',
  range: '10.1.0.128/25',
  size: '256',
  reserved: ['10.1.0.0', '10.1.0.255'],
  holders: [
    { address: '10.1.0.128', role: 'gateway', who: 'gateway' },
    { address: '10.1.0.5', role: 'aux', who: 'aux router' },
    { address: '10.1.0.129', role: 'container', who: 'web' },
    { address: '10.1.0.200', role: 'container', who: 'ghost' },
  ],
  runs: [
    { first: '10.1.0.5', last: '10.1.0.5', count: '1' },
    { first: '10.1.0.128', last: '10.1.0.131', count: '4' },
  ],
  allocated: '5',
};

const huge: PoolView = {
  id: 'LocalDefault/10.0.0.0/8',
  network: 'big',
  family: 4,
  pool: '10.0.0.0/8',
  range: null,
  size: '16777216',
  reserved: ['10.0.0.0', '10.255.255.255'],
  holders: [{ address: '10.0.0.1', role: 'gateway', who: 'gateway' }],
  runs: [{ first: '10.0.0.1', last: '10.0.1.0', count: '256' }],
  allocated: '256',
};

function trace(pools: PoolView[]): Trace {
  return {
    version: 1,
    title: 'T <script>',
    explain: 'E',
    source: 'x.yaml',
    target: 'reference',
    profile: 'docker-20.10',
    problems: [],
    steps: [
      { index: 0, action: '', error: null, calls: [], state: { networks: [], containers: [], pools: [], tree: [] } },
      {
        index: 1,
        action: 'docker run -d --name web --network n1 busybox',
        error: null,
        calls: [{ seq: 1, path: '/IpamDriver.RequestAddress', request: { PoolID: 'p', Address: '</script>' }, reply: { Address: '10.1.0.129/24' }, outcome: 'ok' }],
        state: {
          networks: [],
          containers: [{ name: 'web', running: true, addresses: { n1: ['10.1.0.129'] } }],
          pools,
          tree: [
            { key: 'host', label: 'host', links: [{ name: 'cnm-br', kind: 'bridge', up: true, master: null, peer: null, addresses: ['10.1.0.128/24'] }, { name: 'cnm-v0', kind: 'veth', up: true, master: 'cnm-br', peer: { namespace: 'sb1', name: 'eth0' }, addresses: [] }] },
            { key: 'sb1', label: 'web', links: [{ name: 'eth0', kind: 'veth', up: true, master: null, peer: { namespace: 'host', name: 'cnm-v0' }, addresses: ['10.1.0.129/24'] }] },
          ],
        },
      },
    ],
  };
}

describe('pool maps', () => {
  it('classifies holders, leaks and stale holders by offset', () => {
    const m = poolMapModel(small);
    expect(m.base).toBe('10.1.0.0');
    expect(m.rangeOffsets).toEqual(['128', '255']);
    expect(m.reserved).toEqual(['0', '255']);
    expect(m.holders.map((h) => [h[0], h[1]])).toEqual([['128', 'gateway'], ['5', 'aux'], ['129', 'container'], ['200', 'stale']]);
    const c = poolCounts(small);
    // runs: .5, .128-.131 = 5 allocated; held and allocated: .5 .128 .129 -> 2 leaked (.130, .131); .200 stale.
    expect(c).toEqual({ size: 256n, reserved: 2, allocated: 5n, free: 249n, gateway: 1, aux: 1, container: 1, leaked: 2n, stale: 1 });
  });

  it('counts a /8 and a /64 without walking their addresses', () => {
    expect(poolCounts(huge)).toMatchObject({ size: 16777216n, allocated: 256n, free: 16777216n - 258n, leaked: 255n });
    const v6: PoolView = { ...huge, id: 'x', family: 6, pool: 'fd00::/64', size: (1n << 64n).toString(), reserved: ['fd00::'], holders: [{ address: 'fd00::1', role: 'gateway', who: 'gateway' }], runs: [{ first: 'fd00::1', last: 'fd00::1', count: '1' }] };
    expect(poolCounts(v6)).toMatchObject({ allocated: 1n, leaked: 0n, free: (1n << 64n) - 2n });
  });

  it('maps an ip-range outside the subnet onto host bits, as Docker does', () => {
    const m = poolMapModel({ ...small, range: '10.1.1.0/26' });
    expect(m.rangeOffsets).toEqual(['0', '63']);
  });

  it('without IPAM runs (plugin behind a socket) counts the holders', () => {
    expect(poolCounts({ ...small, runs: null })).toMatchObject({ allocated: 4n, leaked: 0n, stale: 0, container: 2 });
  });
});

describe('text', () => {
  it('prints calls, pools with holders and the tree', () => {
    const t = renderText(trace([small]));
    expect(t).toContain('== step 1: docker run -d --name web --network n1 busybox');
    expect(t).toContain('-> /IpamDriver.RequestAddress {"PoolID":"p","Address":"</script>"}');
    expect(t).toContain('pool 10.1.0.0/24 range 10.1.0.128/25 (network n1): 5 allocated, 249 free of 256 [2 leaked, 1 held but free in the IPAM]');
    expect(t).toMatch(/10\.1\.0\.129 +web/);
    expect(t).toContain('└ cnm-v0 veth <-> eth0@web');
    expect(t).toContain('all expectations met');
  });
});

describe('html', () => {
  it('is one self-contained page with the data embedded safely', () => {
    const html = renderHtml(trace([small, huge]));
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    // No external resources.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    // Titles escaped, the data cannot close its script element.
    expect(html).toContain('<title>T &#60;script&#62; — cnmkit simulate</title>');
    const data = /<script type="application\/json" id="trace-data">([^<]*)<\/script>/.exec(html);
    expect(data).not.toBeNull();
    const parsed = JSON.parse(data![1]) as ReturnType<typeof pageData>;
    expect(parsed.steps[1].calls[0].request).toEqual({ PoolID: 'p', Address: '</script>' });
    expect(parsed.steps[1].pools.map((p) => p.pool)).toEqual(['10.1.0.0/24', '10.0.0.0/8']);
  });

  it('stays small for huge pools (summarised, not one cell per address)', () => {
    const html = renderHtml(trace([huge]));
    expect(html.length).toBeLessThan(60_000);
  });
});

describe('generated scenarios and replay files', () => {
  it('the same seed gives the same scenario', () => {
    expect(generateScenario(7, 25).steps).toEqual(generateScenario(7, 25).steps);
    expect(generateScenario(7, 25).steps).not.toEqual(generateScenario(8, 25).steps);
    expect(generateScenario(7, 25).steps).toHaveLength(25);
  });

  it('replay files read back to the same steps', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 1, maxLength: 12 }), (steps) => {
        const text = scenarioToYaml({ title: 't', explain: 'e', defaultAddressPools: [{ base: '10.8.0.0/22', size: 24 }], steps }, 'header line\nsecond');
        const back = parseScenario(text, 'replay.yaml');
        expect(back.steps.map((s) => ({ ...s, line: 0 }))).toEqual(steps);
        expect(back.defaultAddressPools).toEqual([{ base: '10.8.0.0/22', size: 24 }]);
      }),
      { numRuns: 60 },
    );
  });

  it('the shrinker keeps only the steps a failure needs', async () => {
    const steps = generateScenario(3, 40).steps;
    // "Fails" when steps 5 and 17 are both present.
    const [a, b] = [steps[5], steps[17]];
    const cut = await shrinkSteps(steps, async (s) => s.some((x) => x.action === a.action) && s.some((x) => x.action === b.action));
    expect(cut).toHaveLength(2);
    // Faults that do not matter are dropped too.
    expect(cut).toEqual([{ action: a.action, line: 0 }, { action: b.action, line: 0 }]);
  });
});
