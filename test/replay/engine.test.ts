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
import type { ScenarioAction } from '../../src/simulate/scenario.js';
import { DEFAULT_ROUTED_POOLS, routedDriverMethods, routedIpamMethods } from '../conformance/designs/routed-l3-plugin.js';
import { refuse } from '../conformance/designs/serve.js';
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

  it('a trace that starts after the handshake (dockerd activated the plugin earlier) replays too', async () => {
    const handshake = ['/Plugin.Activate', '/NetworkDriver.GetCapabilities', '/IpamDriver.GetCapabilities', '/IpamDriver.GetDefaultAddressSpaces'];
    const late = { ...recorded, calls: recorded.calls.filter((c) => !handshake.includes(c.request.path)) };
    expect(late.calls.length).toBe(recorded.calls.length - 4);
    const plugin = await servePlugin(dir.socket('late'), otherPluginMethods(9));
    try {
      const r = await replayTrace([late], socketRawSender({ socketPath: plugin.socketPath }), { judge: replayJudge() });
      expect(atLevel(r.divergences, 'should').map(formatDivergence)).toEqual([]);
      expect(r.divergences.find((d) => d.kind === 'added')?.message).toContain('OtherLocal');
    } finally {
      await plugin.close();
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

describe('replay across the gateway-in-Data design (routed L3, Calico)', () => {
  const ROUTED_SESSION: readonly ScenarioAction[] = [
    { kind: 'network-create', name: 'auto', subnets: [], ipv6: false, internal: false, ipamOptions: {} },
    { kind: 'run', name: 'c1', networks: ['auto'] },
    { kind: 'run', name: 'c2', networks: ['auto'] },
    { kind: 'stop', name: 'c1' },
    { kind: 'stop', name: 'c2' },
    { kind: 'network-rm', name: 'auto' },
  ];
  const routed = () => ({ ...routedIpamMethods(DEFAULT_ROUTED_POOLS), ...routedDriverMethods() });

  it('recorded on the reference, replayed on the routed plugin: the gateway request dockerd would skip is not sent', async () => {
    const reference = await startReferenceTarget();
    let session: TraceSession;
    try {
      session = await recordSession(reference.socket, plainSteps(ROUTED_SESSION));
    } finally {
      await reference.close();
    }
    const plugin = await servePlugin(dir.socket('routed-1'), routed());
    try {
      const r = await replayTrace([session], socketRawSender({ socketPath: plugin.socketPath }), { judge: replayJudge() });
      expect(atLevel(r.divergences, 'should').map(formatDivergence)).toEqual([]);
      expect(r.divergences.filter((d) => d.kind === 'not-sent').map((d) => d.call)).toEqual(['IpamDriver.RequestAddress']);
    } finally {
      await plugin.close();
    }
  });

  it('recorded on the routed plugin, replayed on the reference: the gateway request dockerd would add is sent', async () => {
    const recordOn = await servePlugin(dir.socket('routed-2'), routed());
    let session: TraceSession;
    try {
      session = await recordSession(recordOn.socketPath, plainSteps(ROUTED_SESSION));
    } finally {
      await recordOn.close();
    }
    expect(session.calls.some((c) => c.call.method === 'RequestAddress' && c.request.body.includes('com.docker.network.gateway'))).toBe(false);
    const reference = await startReferenceTarget();
    try {
      const r = await replayTrace([session], socketRawSender({ socketPath: reference.socket }), { judge: replayJudge() });
      expect(atLevel(r.divergences, 'should').map(formatDivergence)).toEqual([]);
      expect(r.divergences.filter((d) => d.kind === 'added').map((d) => d.seq)).toHaveLength(1);
    } finally {
      await reference.close();
    }
  });
});

describe('divergences that follow from an earlier one', () => {
  it('name the call they follow from', async () => {
    // A plugin that refuses automatic pools: everything on that network follows from the refusal.
    const methods = otherPluginMethods(4);
    const inner = methods['/IpamDriver.RequestPool']!;
    methods['/IpamDriver.RequestPool'] = (b) => (b['Pool'] === '' ? refuse('automatic pools need state: give --subnet') : inner(b));
    const plugin = await servePlugin(dir.socket('no-auto'), methods);
    try {
      const r = await replayTrace([recorded], socketRawSender({ socketPath: plugin.socketPath }), { judge: replayJudge() });
      const failing = r.divergences.filter((d) => d.kind === 'fails-now');
      expect(failing[0]).toMatchObject({ call: 'IpamDriver.RequestPool', seq: '5' });
      expect(failing[0]!.after).toBeUndefined();
      expect(failing.slice(1).length).toBeGreaterThan(3);
      expect(failing.slice(1).every((d) => d.after === '5')).toBe(true);
    } finally {
      await plugin.close();
    }
  });
});
