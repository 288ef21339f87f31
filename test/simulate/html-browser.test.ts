/**
 * The HTML page in a real browser (headless Chromium over the DevTools pipe):
 * the allocation maps show the right numbers and cells at several timeline
 * steps, large pools are summarised, the namespace drawing has its veth lines,
 * and a screenshot is saved. Skips with a printed reason without Chromium.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPage, type BrowserPage } from '../../src/simulate/browser.js';
import { renderHtml } from '../../src/simulate/html.js';
import { loadScenario } from '../../src/simulate/scenario.js';
import { simulate } from '../../src/simulate/simulate.js';
import type { Trace } from '../../src/simulate/trace.js';
import { chromiumOrSkip } from './chromium.js';

const FIX = join(import.meta.dirname, '../../fixtures/scenarios');

interface ShownPool {
  id: string;
  network: string | null;
  shown: Record<string, string>;
  cells: Record<string, number>;
  summarised: boolean;
  cellCount: number;
}

const chromium = chromiumOrSkip();
if ('skip' in chromium) console.log(`html-browser.test: skipped: ${chromium.skip}`);

describe.skipIf('skip' in chromium)('simulate --html in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cnmkit-sim-html-'));
  let trace: Trace;
  let page: BrowserPage;
  const shownAt = async (step: number): Promise<ShownPool[]> => {
    await page.evaluate(`window.cnmkitPage.step(${step})`);
    expect(await page.evaluate('window.cnmkitPage.current()')).toBe(step);
    return page.evaluate<ShownPool[]>('window.cnmkitPage.counts()');
  };

  beforeAll(async () => {
    ({ trace } = await simulate(loadScenario(join(FIX, '06-exhaust-29.yaml'))));
    writeFileSync(join(dir, 'exhaust.html'), renderHtml(trace));
    page = await openPage(join(dir, 'exhaust.html'), { width: 1200, height: 900 });
  }, 60_000);
  afterAll(async () => {
    await page?.close();
  });

  it('opens on the last step with the final counts', async () => {
    expect(await page.evaluate('window.cnmkitPage.current()')).toBe(trace.steps.length - 1);
    const [small] = await page.evaluate<ShownPool[]>('window.cnmkitPage.counts()');
    // gateway + c1 c2 c4 c5 c7 in a /29: nothing free.
    expect(small.shown).toMatchObject({ size: '8', allocated: '6', free: '0', container: '5', gateway: '1', reserved: '2' });
    expect(small.cells).toEqual({ reserved: 2, gateway: 1, container: 5 });
  });

  it('shows the right counts at several timeline steps', async () => {
    // step 1: network created (gateway only).
    let [p] = await shownAt(1);
    expect(p.network).toBe('small');
    expect(p.shown).toMatchObject({ allocated: '1', free: '5', container: '0', gateway: '1', reserved: '2' });
    expect(p.cells).toEqual({ reserved: 2, gateway: 1, free: 5 });
    // step 3: two containers.
    [p] = await shownAt(3);
    expect(p.shown).toMatchObject({ allocated: '3', free: '3', container: '2' });
    expect(p.cells).toEqual({ reserved: 2, gateway: 1, container: 2, free: 3 });
    // step 8: c3 stopped, its address free again.
    [p] = await shownAt(8);
    expect(p.shown).toMatchObject({ allocated: '5', free: '1', container: '4' });
    expect(p.cells.free).toBe(1);
    // step 0: no pools yet.
    expect(await shownAt(0)).toEqual([]);
  });

  it('scrubs with the URL hash and the slider', async () => {
    await page.evaluate("location.hash = '#step=2'");
    await page.evaluate('new Promise((r) => setTimeout(r, 50))');
    expect(await page.evaluate('window.cnmkitPage.current()')).toBe(2);
    await page.evaluate("(() => { const s = document.getElementById('slider'); s.value = '6'; s.dispatchEvent(new Event('input')); })()");
    expect(await page.evaluate('window.cnmkitPage.current()')).toBe(6);
    expect(await page.evaluate("document.querySelector('#current .action').textContent")).toContain('--name c5');
  });

  it('shows who holds an address on hover (tooltip text) and draws the veth pairs', async () => {
    await shownAt(6); // c1..c5 running
    const tips = await page.evaluate<string[]>("Array.from(document.querySelectorAll('.grid.full .c.container')).map((c) => c.getAttribute('data-tip'))");
    expect(tips).toContain('192.168.77.2 — c1');
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => setTimeout(r, 20)))');
    const veths = await page.evaluate<number>("document.querySelectorAll('#tree path[data-veth]').length");
    expect(veths).toBe(5);
    expect(await page.evaluate<number>("document.querySelectorAll('#tree .ns').length")).toBe(6);
  });

  it('summarises a /64 instead of drawing 2^64 cells', async () => {
    const { trace: v6 } = await simulate(loadScenario(join(FIX, '07-ipv6.yaml')));
    writeFileSync(join(dir, 'v6.html'), renderHtml(v6));
    const p6 = await openPage(join(dir, 'v6.html'));
    try {
      const pools = await p6.evaluate<ShownPool[]>('window.cnmkitPage.counts()');
      const big = pools.find((p) => p.id.endsWith('fd00:60::/64'))!;
      expect(big.summarised).toBe(true);
      expect(big.cellCount).toBe(1024);
      expect(big.shown).toMatchObject({ size: '18446744073709551616', container: '2', gateway: '1', reserved: '1', allocated: '3' });
      const small6 = pools.find((p) => p.id.endsWith('fd00:61::/125'))!;
      expect(small6.summarised).toBe(false);
      expect(small6.cells).toEqual({ reserved: 1, gateway: 1, container: 1, free: 5 });
    } finally {
      await p6.close();
    }
  });

  it('shows the documented dockerd leak in red and counts it', async () => {
    const { trace: t10 } = await simulate(loadScenario(join(FIX, '10-plugin-failure-rollback.yaml')));
    writeFileSync(join(dir, 'leak.html'), renderHtml(t10));
    const p10 = await openPage(join(dir, 'leak.html'));
    try {
      await p10.evaluate('window.cnmkitPage.step(6)');
      let dual = (await p10.evaluate<ShownPool[]>('window.cnmkitPage.counts()')).find((p) => p.id === 'LocalDefault/10.102.0.0/24')!;
      expect(dual.shown.leaked).toBeUndefined();
      expect(dual.cells).toEqual({ reserved: 2, gateway: 1, free: 253 });
      await p10.evaluate('window.cnmkitPage.step(7)');
      dual = (await p10.evaluate<ShownPool[]>('window.cnmkitPage.counts()')).find((p) => p.id === 'LocalDefault/10.102.0.0/24')!;
      expect(dual.shown).toMatchObject({ allocated: '2', leaked: '1', container: '0' });
      expect(dual.cells).toEqual({ reserved: 2, gateway: 1, leaked: 1, free: 252 });
      expect(await p10.evaluate("document.querySelector('tr.fail.injected td:nth-child(2)').textContent")).toBe('/IpamDriver.RequestAddress');
    } finally {
      await p10.close();
    }
  });

  it('saves a screenshot', async () => {
    await shownAt(6);
    const png = await page.screenshot();
    const file = join(dir, 'exhaust.png');
    writeFileSync(file, png);
    expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(file).size).toBeGreaterThan(20_000);
    console.log(`html-browser.test: screenshot in ${file}`);
  });
});
