/**
 * The replay engine end to end on sockets: a session recorded against the
 * reference plugin replays without divergence against a correct plugin that
 * chooses other ids, addresses, pools and names, and diverges on broken ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketRawSender } from '../../conformance/raw.js';
import { atLevel, formatDivergence, replayJudge, replayTrace } from '../../conformance/replay-trace/index.js';
import { startReferenceTarget, type ReferenceTarget } from '../../src/cli/reference-target.js';
import type { TraceSession } from '../../src/record/trace.js';
import { tempDir, type TempDir } from '../conformance/support.js';
import { brokenPluginMethods, otherPluginMethods, plainSteps, recordSession, servePlugin, SESSION, type Breakage } from './session.js';

let dir: TempDir;
let reference: ReferenceTarget;
let recorded: TraceSession;

beforeAll(async () => {
  dir = await tempDir();
  reference = await startReferenceTarget();
  recorded = await recordSession(reference.socket, plainSteps(SESSION));
});
afterAll(async () => {
  await reference.close();
  await dir.remove();
});

async function replayOn(name: string, methods: Parameters<typeof servePlugin>[1]) {
  const plugin = await servePlugin(dir.socket(name), methods);
  try {
    return await replayTrace([recorded], socketRawSender({ socketPath: plugin.socketPath }, { hostHeader: '' }), { judge: replayJudge() });
  } finally {
    await plugin.close();
  }
}

describe('replay of a recorded session', () => {
  it('records the calls dockerd makes', () => {
    const paths = recorded.calls.map((c) => c.request.path);
    expect(paths).toContain('/IpamDriver.RequestPool');
    expect(paths).toContain('/NetworkDriver.Join');
    // The one refusal: --ip 10.7.1.9 was handed out automatically to c2 before.
    expect(recorded.calls.filter((c) => !c.call.ok).map((c) => `${c.request.path} ${c.request.body.trim()}`)).toEqual([expect.stringMatching(/RequestAddress .*"Address":"10\.7\.1\.9"/)]);
  });

  it('no divergence at should against a correct plugin with other choices', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await replayOn(`other-${seed}`, otherPluginMethods(seed));
      expect(atLevel(r.divergences, 'should').map(formatDivergence)).toEqual([]);
      expect(r.calls.length).toBe(recorded.calls.length);
    }
  });

  it.each<[Breakage, string]>([
    ['duplicate-address', 'ipam.no-duplicate-address'],
    ['join-refused', 'fails now'],
    ['echo-address', 'driver.no-echo'],
  ])('diverges on a broken plugin (%s)', async (breakage, expected) => {
    const r = await replayOn(`broken-${breakage}`, brokenPluginMethods(1, breakage));
    const lines = atLevel(r.divergences, 'must').map(formatDivergence);
    expect(lines.join('\n')).toContain(expected);
  });
});
