/**
 * The global-scope checks (protocol.md §2.2.4, §4.9): correct designs pass
 * (no false alarms) and the bugs that break swarm are caught (no blind spots).
 * - an overlay-like driver: AllocateNetwork hands out a segment, CreateNetwork
 *   refuses to work without it (so plain networks are refused);
 * - a driver with its own control plane: AllocateNetwork answers no options;
 * - the reference driver with scope global (segment ids);
 * - a local-scope driver: every global check is skipped, nothing is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceConfig } from '../../conformance/config.js';
import { GlobalScopeIds } from '../../conformance/driver/global-scope-checks.js';
import type { RunReport } from '../../conformance/types.js';
import { createReferencePlugin } from '../../src/reference/plugin.js';
import { servePlugin } from '../../src/sdk/index.js';
import type { ListeningPlugin } from './plugins/listen.js';
import { startGlobalDriver } from './designs/global-overlay-driver.js';
import { startLinkLocalDriver } from './designs/linklocal-driver.js';
import { refuse } from './designs/serve.js';
import { result, runPlugin, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

const GLOBAL = [GlobalScopeIds.allocate, GlobalScopeIds.createAllocated, GlobalScopeIds.reallocate, GlobalScopeIds.free, GlobalScopeIds.swarmLifecycle];

function runOn(start: (socket: string) => Promise<Pick<ListeningPlugin, 'close'>>, config: Partial<ConformanceConfig>): Promise<RunReport> {
  return runPlugin(dir, start, { runs: 10, netns: 'none', ...config });
}

function failing(report: RunReport): string[] {
  return report.checks.filter((c) => c.status === 'failed' && c.level !== 'compat').map((c) => `${c.id}: ${c.message}`);
}

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

describe('global-scope designs dockerd accepts pass (protocol + driver + lifecycle)', () => {
  it.each(SEEDS)('overlay-like driver (segment from AllocateNetwork, needed by CreateNetwork), seed %i', async (seed) => {
    const report = await runOn((s) => startGlobalDriver(s, 'segment'), { seed, suites: ['protocol', 'driver', 'lifecycle'] });
    expect(failing(report)).toEqual([]);
    for (const id of GLOBAL) expect(`${id} ${result(report, id).status}`).toBe(`${id} passed`);
    expect(result(report, GlobalScopeIds.allocate).notes.join(' ')).toMatch(/com\.example\.overlay\.vni/);
    expect(result(report, GlobalScopeIds.createAllocated).notes.join(' ')).toMatch(/plain CreateNetwork was refused/);
    expect(report.leaks).toEqual([]);
  });

  it.each(SEEDS)('driver with its own control plane (AllocateNetwork answers Options null), seed %i', async (seed) => {
    const report = await runOn((s) => startGlobalDriver(s, 'stateless'), { seed, suites: ['protocol', 'driver', 'lifecycle'] });
    expect(failing(report)).toEqual([]);
    for (const id of GLOBAL) expect(`${id} ${result(report, id).status}`).toBe(`${id} passed`);
    expect(result(report, GlobalScopeIds.allocate).notes.join(' ')).toMatch(/no options/);
  });

  it.each(SEEDS)('the reference plugin with --scope global, seed %i', async (seed) => {
    const report = await runOn(
      async (socket) => {
        const plugin = await createReferencePlugin({ scope: 'global' });
        const server = await servePlugin({ driver: plugin.driver, ipam: plugin.ipam, listen: { socket } });
        return {
          async close() {
            await server.close();
            await plugin.close();
          },
        };
      },
      { seed, suites: ['protocol', 'driver', 'lifecycle'] },
    );
    expect(failing(report)).toEqual([]);
    for (const id of [...GLOBAL, GlobalScopeIds.freeUnknown]) expect(`${id} ${result(report, id).status}`).toBe(`${id} passed`);
    expect(result(report, GlobalScopeIds.allocate).notes.join(' ')).toMatch(/cnmkit\.segment/);
  });

  it('a local-scope driver: every global-scope check is skipped, no AllocateNetwork is sent', async () => {
    const report = await runOn((s) => startLinkLocalDriver(s), { suites: ['driver'] });
    for (const id of [...GLOBAL, GlobalScopeIds.freeUnknown]) {
      const r = result(report, id);
      expect(r.status, id).toBe('skipped');
      expect(r.message).toMatch(/Scope is "local"/);
    }
  });
});

describe('global-scope bugs that break swarm are caught', () => {
  it('AllocateNetwork refused ("not supported", as a driver written for local scope answers): driver.global-allocate fails at must', async () => {
    const broken = await runOn(
      (s) =>
        startGlobalDriver(s, 'stateless', {
          '/NetworkDriver.AllocateNetwork': () => refuse('AllocateNetwork is not supported'),
        }),
      { suites: ['driver'] },
    );
    const r = result(broken, GlobalScopeIds.allocate);
    expect(r.status).toBe('failed');
    expect(r.level).toBe('must');
    expect(r.message).toMatch(/AllocateNetwork .* failed \(.*AllocateNetwork is not supported\): docker network create fails on the swarm manager/);
  });

  it('CreateNetwork that refuses its own allocation: driver.global-create-allocated fails', async () => {
    const report = await runOn(
      (s) =>
        startGlobalDriver(s, 'segment', {
          // Reads the key it handed out as a number in another base: every allocated value is refused.
          '/NetworkDriver.CreateNetwork': () => refuse('com.example.overlay.vni: unknown option'),
        }),
      { suites: ['driver'] },
    );
    const r = result(report, GlobalScopeIds.createAllocated);
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/CreateNetwork of swarm network [0-9a-z]{25} with the options AllocateNetwork answered \(\{"com\.example\.overlay\.vni":"256"\}\) failed/);
  });

  it('a re-allocation by a new leader refused: driver.global-reallocate fails', async () => {
    const seen = new Set<string>();
    const report = await runOn(
      (s) =>
        startGlobalDriver(s, 'stateless', {
          '/NetworkDriver.AllocateNetwork': (b) => {
            const id = String(b['NetworkID']);
            if (seen.has(id)) refuse(`network ${id} is already allocated`);
            seen.add(id);
            return { Options: { k: 'v' } };
          },
        }),
      { suites: ['driver'] },
    );
    expect(result(report, GlobalScopeIds.allocate).status).toBe('passed');
    const r = result(report, GlobalScopeIds.reallocate);
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/with its earlier answer \{"k":"v"\} merged in \(a new leader\), failed: .*network .* is already allocated/);
  });

  it('FreeNetwork failing: driver.global-free fails; an unknown id refused is only compat', async () => {
    const report = await runOn(
      (s) =>
        startGlobalDriver(s, 'segment', {
          '/NetworkDriver.FreeNetwork': () => refuse('cannot free'),
        }),
      { suites: ['driver'] },
    );
    const r = result(report, GlobalScopeIds.free);
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/swarm never releases the network's gateway and pool/);
    const c = result(report, GlobalScopeIds.freeUnknown);
    expect([c.status, c.level]).toEqual(['failed', 'compat']);
  });

  it('a driver that assumes 64-hex network ids (true of local networks only): the swarm id is refused, and the choreography names the step', async () => {
    const report = await runOn(
      (s) =>
        startGlobalDriver(s, 'stateless', {
          '/NetworkDriver.CreateNetwork': (b) => {
            const id = String(b['NetworkID']);
            if (!/^[0-9a-f]{64}$/.test(id)) refuse(`network id ${id} is not 64 hex characters`);
            return {};
          },
        }),
      { suites: ['driver'] },
    );
    expect(result(report, GlobalScopeIds.allocate).status).toBe('passed');
    expect(result(report, GlobalScopeIds.createAllocated).status).toBe('failed');
    const r = result(report, GlobalScopeIds.swarmLifecycle);
    expect([r.status, r.level]).toEqual(['failed', 'must']);
    expect(r.message).toMatch(/^task t1 on the worker: .*is not 64 hex characters/);
  });
});
