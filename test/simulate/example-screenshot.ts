/**
 * Regenerates docs/simulate-example.png (the README's screenshot) and
 * docs/simulate-example.html: `npx tsx test/simulate/example-screenshot.ts`.
 * Needs Chromium (scripts/setup-chromium.sh).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPage } from '../../src/simulate/browser.js';
import { renderHtml } from '../../src/simulate/html.js';
import { loadScenario } from '../../src/simulate/scenario.js';
import { simulate } from '../../src/simulate/simulate.js';

const root = join(import.meta.dirname, '../..');
const scenario = loadScenario(join(root, 'fixtures/scenarios/02-subnet-ip-range-aux.yaml'));
const { trace } = await simulate(scenario);
const html = join(root, 'docs/simulate-example.html');
writeFileSync(html, renderHtml({ ...trace, source: 'fixtures/scenarios/02-subnet-ip-range-aux.yaml' }));
const page = await openPage(html, { width: 1180, height: 900 });
try {
  await page.evaluate('window.cnmkitPage.step(4)');
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)))');
  writeFileSync(join(root, 'docs/simulate-example.png'), await page.screenshot());
} finally {
  await page.close();
}
console.log('wrote docs/simulate-example.png and docs/simulate-example.html');
