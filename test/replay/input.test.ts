/**
 * What `cnmkit replay` reads: traces with the damage a crash leaves, traces
 * of restarted recorders, and replay files of `cnmkit check`, which convert
 * to traces and back without loss and replay through the same engine.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketRawSender } from '../../conformance/raw.js';
import { REPLAY_FORMAT, type ReplayFile } from '../../conformance/replay-file.js';
import { atLevel, parseReplayInput, replayFileOfTrace, replayJudge, replayTrace, traceOfReplayFile } from '../../conformance/replay-trace/index.js';
import type { CallSummary } from '../../conformance/types.js';
import { parseTrace, TraceFormatError } from '../../src/record/trace.js';
import { tempDir, type TempDir, withDuplicateFailure } from '../conformance/support.js';
import { headerFor, traceText } from './session.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

const callSummary: fc.Arbitrary<CallSummary> = fc.record(
  {
    path: fc.constantFrom('/IpamDriver.RequestPool', '/IpamDriver.RequestAddress', '/NetworkDriver.Join', '/Plugin.Activate', '/X.Unknown'),
    request: fc.oneof(fc.string(), fc.json()),
    status: fc.constantFrom(200, 400, 404, 500),
    response: fc.oneof(fc.string(), fc.json()),
    outcome: fc.constantFrom('ok', 'plugin-error', 'not-implemented', 'transport-error', 'timeout', 'decode-error', 'raw'),
    durationMs: fc.double({ min: 0, max: 1e4, noNaN: true }),
  },
  { requiredKeys: ['path', 'request', 'outcome', 'durationMs'] },
);

const replayFile: fc.Arbitrary<ReplayFile> = fc.record({
  format: fc.constant(REPLAY_FORMAT),
  suite: fc.constantFrom('ipam', 'driver', 'protocol', 'lifecycle'),
  check: fc.string({ minLength: 1 }),
  level: fc.constantFrom('must', 'should', 'compat'),
  title: fc.string(),
  message: fc.string(),
  seed: fc.integer(),
  path: fc.string(),
  commandsReplayPath: fc.string(),
  steps: fc.array(fc.string()),
  calls: fc.array(callSummary, { maxLength: 8 }),
  config: fc.record({
    profile: fc.constantFrom('docker-20.10', 'moby'),
    subnets: fc.array(fc.string()),
    ipamOpts: fc.dictionary(fc.string(), fc.string()),
    driverOpts: fc.dictionary(fc.string(), fc.string()),
    timeoutMs: fc.integer({ min: 1 }),
    maxCommands: fc.integer({ min: 1 }),
    concurrency: fc.integer({ min: 1 }),
    stormSize: fc.integer({ min: 1 }),
  }),
  createdAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
});

describe('replay files as traces', () => {
  it('convert to a trace file and back without loss', () => {
    fc.assert(
      fc.property(replayFile, (file) => {
        const t = traceOfReplayFile(file);
        // Through the file format: JSON lines, read back by the trace reader.
        const parsed = parseTrace(traceText([t]));
        expect(parsed.sessions).toHaveLength(1);
        expect(replayFileOfTrace(parsed.sessions[0]!)).toEqual(JSON.parse(JSON.stringify(file)));
      }),
      { numRuns: 200 },
    );
  });

  it('a recorded trace is no replay file', () => {
    expect(replayFileOfTrace({ header: headerFor('x', '/s'), calls: [] })).toBeNull();
  });

  it('a replay file of cnmkit check replays through the trace engine: still failing on the broken plugin, clean on a fixed one', async () => {
    await withDuplicateFailure(dir, async ({ broken, fixed, file }) => {
      const input = parseReplayInput(JSON.stringify(file));
      expect(input.kind).toBe('replay-file');
      expect(input.sessions[0]!.calls).toHaveLength(file.calls.length);

      const again = await replayTrace(input.sessions, socketRawSender({ socketPath: broken.socketPath }), { judge: replayJudge() });
      expect(atLevel(again.divergences, 'must').map((d) => d.rule)).toContain('ipam.no-duplicate-address');
      const onFixed = await replayTrace(input.sessions, socketRawSender({ socketPath: fixed.socketPath }), { judge: replayJudge() });
      expect(atLevel(onFixed.divergences, 'should').filter((d) => d.kind === 'model')).toEqual([]);
    });
  });
});

describe('damaged and restarted traces', () => {
  const session = (n: number) => {
    const header = headerFor('t', '/s');
    const calls = Array.from({ length: n }, (_, i) => ({
      type: 'call' as const,
      seq: i + 1,
      conn: 1,
      t0: 0,
      t1: 1,
      durMs: 1,
      request: { method: 'POST', path: '/Plugin.Activate', headers: [] as [string, string][], body: '' },
      reply: { status: 200, headers: [] as [string, string][], body: '{"Implements":["IpamDriver"]}\n' },
      call: { method: 'Activate', iface: 'Plugin', request: null, reply: { Implements: ['IpamDriver'] }, ok: true },
      violations: [],
    }));
    return { header, calls };
  };

  it('a partial last line (a killed recorder) is ignored', () => {
    const text = traceText([session(3)]);
    const cut = text.slice(0, text.length - 40);
    const input = parseReplayInput(cut);
    expect(input.kind).toBe('trace');
    expect(input.sessions[0]!.calls).toHaveLength(2);
    expect(input.damagedLines).toEqual([4]);
  });

  it('a restarted recorder continues in a second session; its seq labels name the session', async () => {
    const first = traceText([session(2)]);
    const text = `${first.slice(0, first.length - 10)}\n${traceText([session(1)])}`;
    const input = parseReplayInput(text);
    expect(input.sessions.map((s) => s.calls.length)).toEqual([1, 1]);
    const seen: string[] = [];
    const raw = {
      curlPrefix: null,
      send: async () => ({ kind: 'reply' as const, status: 200, headers: {}, body: '{"Implements":["IpamDriver"]}\n', truncated: false, durationMs: 0 }),
    };
    const r = await replayTrace(input.sessions, raw, { onCall: (c) => seen.push(c.seq) });
    expect(seen).toEqual(['1:1', '2:1']);
    expect(r.divergences).toEqual([]);
  });

  it('a line that is not JSON in the middle is an error, not silently skipped', () => {
    const text = traceText([session(3)]).split('\n');
    text[1] = '{"type":"call",';
    expect(() => parseReplayInput(text.join('\n'))).toThrow(TraceFormatError);
  });
});
