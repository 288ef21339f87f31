/** A plugin author's own test file: one vitest test per check via defineConformanceTests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { defineConformanceTests } from '../../conformance/vitest.js';
import { createIpam } from '../../src/ipam/index.js';
import { servePlugin, type PluginServer } from '../../src/sdk/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cnmkit-vt-'));
let server: PluginServer;
afterAll(async () => {
  await server.close();
});

defineConformanceTests(
  { describe, it, beforeAll },
  async () => {
    server = await servePlugin({ ipam: createIpam(), listen: { socket: join(dir, 'p.sock') } });
    return { socket: join(dir, 'p.sock') };
  },
  { runs: 10, replayDir: null, level: 'compat', suites: ['protocol', 'ipam'] },
);

describe('defineConformanceTests with a broken plugin', () => {
  it('the failing check throws ConformanceFailure with the counterexample; skipped checks skip', async () => {
    const { startMiniIpam } = await import('./plugins/mini-ipam.js');
    const { ConformanceFailure } = await import('../../conformance/vitest.js');
    const plugin = await startMiniIpam(join(dir, 'broken.sock'), ['accept-overlap']);
    const tests: { name: string; body: (c?: { skip?: (n?: string) => void }) => void | Promise<void> }[] = [];
    let setup: (() => Promise<void>) | null = null;
    defineConformanceTests(
      { describe: (_n, body) => body(), it: (name, body) => void tests.push({ name, body }), beforeAll: (body) => void (setup = body) },
      () => ({ socket: plugin.socketPath }),
      { runs: 10, replayDir: null, suites: ['ipam'], checks: ['ipam.overlapping-pool-refused', 'ipam.auto-pool'] },
    );
    try {
      await setup!();
      const outcome = new Map<string, string>();
      for (const t of tests) {
        let skipped = false;
        try {
          await t.body({ skip: () => void (skipped = true) });
          outcome.set(t.name.split(' ')[0]!, skipped ? 'skipped' : 'passed');
        } catch (e) {
          outcome.set(t.name.split(' ')[0]!, e instanceof ConformanceFailure ? `failed: ${e.message.split('\n')[0]}` : 'error');
        }
      }
      if (!outcome.get('ipam.overlapping-pool-refused')?.startsWith('failed: RequestPool')) throw new Error(`unexpected: ${JSON.stringify([...outcome])}`);
      if (outcome.get('ipam.auto-pool') !== 'passed') throw new Error(`unexpected: ${JSON.stringify([...outcome])}`);
      if (outcome.get('ipam.no-duplicate-address') !== 'skipped') throw new Error(`unexpected: ${JSON.stringify([...outcome])}`);
    } finally {
      await plugin.close();
    }
  });
});
