/**
 * Remapping under generated sessions (the simulator's random docker commands,
 * src/simulate/generate.ts, without injected faults): a session recorded
 * against the reference replays against a correct plugin that picks other
 * pools, addresses, PoolIDs, address spaces and link names with no
 * divergence at `should`; against a broken plugin, every session that
 * exercises the bug diverges at `must`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketRawSender } from '../../conformance/raw.js';
import { atLevel, formatDivergence, replayJudge, replayTrace } from '../../conformance/replay-trace/index.js';
import { startReferenceTarget } from '../../src/cli/reference-target.js';
import type { TraceSession } from '../../src/record/trace.js';
import { generateScenario } from '../../src/simulate/generate.js';
import { dockerFaithfulIpamMethods } from '../conformance/designs/docker-faithful-ipam.js';
import { linkLocalDriverMethods } from '../conformance/designs/linklocal-driver.js';
import type { FixtureMethods } from '../conformance/designs/serve.js';
import { statefulIpamMethods } from '../conformance/designs/stateful-ipam.js';
import { tempDir, type TempDir } from '../conformance/support.js';
import { brokenPluginMethods, otherPluginMethods, plainSteps, recordSession, servePlugin } from './session.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

/** The generated session of a seed, recorded against a fresh reference plugin. */
async function recordSeed(seed: number, steps: number): Promise<TraceSession> {
  const reference = await startReferenceTarget();
  try {
    return await recordSession(reference.socket, plainSteps(generateScenario(seed, steps).steps.map((s) => s.action)));
  } finally {
    await reference.close();
  }
}

let n = 0;
async function replayOn(session: TraceSession, methods: Parameters<typeof servePlugin>[1]) {
  const plugin = await servePlugin(dir.socket(`p${n++}`), methods);
  try {
    return await replayTrace([session], socketRawSender({ socketPath: plugin.socketPath }, { hostHeader: '' }), { judge: replayJudge() });
  } finally {
    await plugin.close();
  }
}

const seeds = fc.integer({ min: 1, max: 2 ** 31 - 1 });

describe('replay of generated sessions', () => {
  it.each<[string, (seed: number) => FixtureMethods]>([
    ['random addresses and pools, opaque PoolIDs, link-local gateway', otherPluginMethods],
    ["Docker's own allocator (serial order)", () => ({ ...dockerFaithfulIpamMethods(), ...linkLocalDriverMethods() })],
    ['per-address allocation (overlapping pools granted)', () => ({ ...statefulIpamMethods({ scope: 'per-address' }), ...linkLocalDriverMethods() })],
    ['fixed gateway, lowest-free', () => ({ ...statefulIpamMethods({ fixedGateway: true }), ...linkLocalDriverMethods() })],
  ])('a correct plugin with other choices (%s): no divergence at should', async (_name, methods) => {
    await fc.assert(
      fc.asyncProperty(seeds, fc.integer({ min: 5, max: 30 }), async (seed, steps) => {
        const session = await recordSeed(seed, steps);
        const r = await replayOn(session, methods(seed));
        expect(atLevel(r.divergences, 'should').map(formatDivergence)).toEqual([]);
      }),
      { numRuns: 15 },
    );
  }, 120_000);

  it('a plugin that refuses Join: every session with a Join diverges at must', async () => {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const session = await recordSeed(seed, 12);
        const joined = session.calls.some((c) => c.request.path === '/NetworkDriver.Join' && c.call.ok);
        const r = await replayOn(session, brokenPluginMethods(seed, 'join-refused'));
        const must = atLevel(r.divergences, 'must');
        expect(must.some((d) => d.call === 'NetworkDriver.Join' && d.kind === 'fails-now')).toBe(joined);
      }),
      { numRuns: 10 },
    );
  }, 120_000);

  it('a driver that echoes the address: every session with a CreateEndpoint diverges at must', async () => {
    await fc.assert(
      fc.asyncProperty(seeds, async (seed) => {
        const session = await recordSeed(seed, 12);
        const created = session.calls.some((c) => c.request.path === '/NetworkDriver.CreateEndpoint' && c.call.ok);
        const r = await replayOn(session, brokenPluginMethods(seed, 'echo-address'));
        expect(atLevel(r.divergences, 'must').some((d) => d.rule === 'driver.no-echo')).toBe(created);
      }),
      { numRuns: 10 },
    );
  }, 120_000);
});
