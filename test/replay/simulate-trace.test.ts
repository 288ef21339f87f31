/**
 * `cnmkit simulate --trace`: a recorded session as the simulate view. The
 * calls are grouped into the docker commands that made them, and the state
 * after each (pools and holders, containers, which plugin link went into
 * which sandbox) is what dockerd learnt; the page shows it in a browser.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceTarget } from '../../src/cli/reference-target.js';
import type { TraceSession } from '../../src/record/trace.js';
import { openPage, type BrowserPage } from '../../src/simulate/browser.js';
import { renderHtml, pageData } from '../../src/simulate/html.js';
import { generateScenario } from '../../src/simulate/generate.js';
import { viewOfRecording } from '../../src/simulate/recording.js';
import { renderText } from '../../src/simulate/text.js';
import type { Trace } from '../../src/simulate/trace.js';
import { chromiumOrSkip } from '../simulate/chromium.js';
import { plainSteps, recordSession, SESSION } from './session.js';

let recorded: TraceSession;
let view: Trace;
beforeAll(async () => {
  const reference = await startReferenceTarget();
  try {
    recorded = await recordSession(reference.socket, plainSteps(SESSION));
  } finally {
    await reference.close();
  }
  view = viewOfRecording([recorded], { source: 'session.jsonl' });
});

const stepOf = (pattern: RegExp): Trace['steps'][number] => {
  const s = view.steps.find((x) => pattern.test(x.action));
  if (s === undefined) throw new Error(`no step ${pattern}: ${view.steps.map((x) => x.action).join(' | ')}`);
  return s;
};

describe('a recorded session as the simulate view', () => {
  it('groups the calls into the docker commands of the session', () => {
    const actions = view.steps.slice(1).map((s) => s.action.replace(/[0-9a-f]{12}/g, 'ID'));
    expect(actions).toEqual([
      'plugin activation (dockerd looks the plugin up)',
      'docker network create (automatic pool 172.17.0.0/16) -> network ID',
      'docker network create --subnet 10.7.1.0/24 -> network ID',
      'docker run / start ctr-ID on ID', // c1
      'docker run / start ctr-ID on ID', // c2
      'docker run / start a container', // c3 --ip 10.7.1.9: refused
      'docker stop ctr-ID', // c1
      'docker run / start ctr-ID on ID', // c4, first network
      'docker run / start ctr-ID on ID', // c4, second network
      'docker run / start ctr-ID on ID', // c1 again
      'docker stop ctr-ID',
      'docker stop ctr-ID',
      'docker stop ctr-ID',
      'docker network rm ID',
    ]);
    // Every recorded call is in exactly one step.
    expect(view.steps.flatMap((s) => s.calls.map((c) => c.seq))).toEqual(recorded.calls.map((c) => c.seq));
    expect(stepOf(/start a container/).error).toBe('IpamDriver.RequestAddress: Address already in use');
  });

  it('keeps the pools with their holders, the containers and the links after each command', () => {
    const fixedCreated = stepOf(/--subnet 10\.7\.1\.0\/24/).state;
    expect(fixedCreated.pools.find((p) => p.pool === '10.7.1.0/24')).toMatchObject({ range: '10.7.1.8/29', holders: [{ address: '10.7.1.8', role: 'gateway' }] });
    const c4 = view.steps[9]!.state;
    const sandbox = c4.tree!.find((n) => n.links.length === 2)!;
    expect(sandbox.links.map((l) => `${l.name} ${l.addresses.join(',')}`)).toEqual(['eth0 172.17.0.2', 'eth1 10.7.1.10']);
    const host = c4.tree!.find((n) => n.key === 'host')!;
    expect(host.links.map((l) => l.peer?.name)).toContain('eth1');
    const last = view.steps[view.steps.length - 1]!.state;
    expect(last.pools.map((p) => `${p.pool} ${p.holders.map((h) => h.role).join(',')}`)).toEqual(['172.17.0.0/16 gateway']);
    expect(last.containers.every((c) => !c.running)).toBe(true);
    expect(view.problems).toEqual([]);
  });

  it('lists the violations the recorder saw as problems (compat ones are not problems)', () => {
    const withViolation = { ...recorded, calls: recorded.calls.map((c, i) => (i === 10 ? { ...c, violations: [{ rule: 'ipam.no-duplicate-address', level: 'must' as const, message: 'twice' }, { rule: 'reply.key-case', level: 'compat' as const, message: 'case' }] } : c)) };
    const v = viewOfRecording([withViolation], { source: 'x' });
    expect(v.problems).toEqual([`seq 11 IpamDriver.RequestAddress [must] ipam.no-duplicate-address: twice`]);
    expect(renderText(v)).toContain('PROBLEMS (1)');
  });

  it('a restarted recorder is a step of its own and the state carries on', () => {
    const half = Math.floor(recorded.calls.length / 2);
    const v = viewOfRecording([{ header: recorded.header, calls: recorded.calls.slice(0, half) }, { header: recorded.header, calls: recorded.calls.slice(half) }], { source: 'x' });
    expect(v.steps.some((s) => s.action.startsWith('recorder restarted'))).toBe(true);
    expect(v.steps[v.steps.length - 1]!.state.pools.map((p) => p.pool)).toEqual(['172.17.0.0/16']);
  });

  it('renders as text and as the page data', () => {
    const text = renderText(view);
    expect(text).toContain('== step 2: docker network create (automatic pool 172.17.0.0/16)');
    expect(text).toMatch(/10\.7\.1\.9 +ctr-[0-9a-f]{12}/);
    const data = pageData(view);
    expect(data.steps).toHaveLength(view.steps.length);
    expect(renderHtml(view)).toContain('Recorded session: test');
  });
});

describe('generated sessions', () => {
  it('every call lands in exactly one step, in order, and every step is a docker command', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const reference = await startReferenceTarget();
        let session: TraceSession;
        try {
          session = await recordSession(reference.socket, plainSteps(generateScenario(seed, 25).steps.map((x) => x.action)));
        } finally {
          await reference.close();
        }
        const v = viewOfRecording([session], { source: 'x' });
        expect(v.steps.flatMap((x) => x.calls.map((c) => c.seq))).toEqual(session.calls.map((c) => c.seq));
        expect(v.steps.slice(1).filter((x) => !/^(plugin activation|docker (network create|run \/ start|stop|network rm))/.test(x.action)).map((x) => x.action)).toEqual([]);
        // The pools of the last state are those whose last event was a granted RequestPool (ids come back: Docker's are the subnet).
        const held = new Map<string, boolean>();
        for (const c of session.calls) {
          if (c.call.method === 'RequestPool' && c.call.ok) held.set(String((c.call.reply as { PoolID: string }).PoolID), true);
          if (c.call.method === 'ReleasePool' && c.call.ok) held.set(String((c.call.request as { PoolID: string }).PoolID), false);
        }
        const shown = v.steps[v.steps.length - 1]!.state.pools.map((p) => p.id).sort();
        expect(shown).toEqual([...held].filter(([, h]) => h).map(([id]) => id).sort());
      }),
      { numRuns: 20 },
    );
  }, 120_000);
});

const chromium = chromiumOrSkip();
if ('skip' in chromium) console.log(`simulate-trace.test: browser part skipped: ${chromium.skip}`);

describe.skipIf('skip' in chromium)('simulate --trace page in headless Chromium', () => {
  let page: BrowserPage;
  afterAll(async () => {
    await page?.close();
  });

  it('shows the allocation map of each recorded step', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnmkit-trace-html-'));
    writeFileSync(join(dir, 'trace.html'), renderHtml(view));
    page = await openPage(join(dir, 'trace.html'), { width: 1200, height: 900 });
    // After c1, c2 started: the sub-pool has the gateway and one container.
    await page.evaluate('window.cnmkitPage.step(5)');
    const pools = await page.evaluate<{ id: string; shown: Record<string, string> }[]>('window.cnmkitPage.counts()');
    const fixed = pools.find((p) => p.id.includes('10.7.1.0/24'))!;
    expect(fixed.shown).toMatchObject({ size: '256', allocated: '2', container: '1', gateway: '1' });
  }, 60_000);
});
