/** Shared helpers of the recorder tests: a recorder in front of a plugin socket, collecting every call. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRecorder, type Recorder } from '../../conformance/live/recorder.js';
import type { TraceCall, TraceViolation } from '../../src/record/trace.js';
import type { Profile } from '../../src/protocol/constants.js';

export interface RecordedSession {
  readonly recorder: Recorder;
  readonly socket: string;
  readonly calls: TraceCall[];
  readonly lines: string[];
  readonly trace: string;
  violations(levels?: readonly TraceViolation['level'][]): TraceViolation[];
  stop(): Promise<void>;
}

export interface TempDir {
  readonly path: string;
  remove(): Promise<void>;
}

export async function tempDir(prefix = 'cnmkit-rec-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

let n = 0;

/** A recorder on `<dir>/rec-N.sock` in front of `upstreamSocket`, trace in `<dir>/rec-N.jsonl`. */
export async function recordInFront(dir: string, upstreamSocket: string, opts: { profile?: Profile; kernel?: boolean; holdBytes?: number } = {}): Promise<RecordedSession> {
  const id = ++n;
  const socket = join(dir, `rec-${id}.sock`);
  const trace = join(dir, `rec-${id}.jsonl`);
  const calls: TraceCall[] = [];
  const lines: string[] = [];
  const recorder = await startRecorder({
    name: `rec-${id}`,
    socket,
    upstream: { kind: 'socket', address: upstreamSocket, dial: { path: upstreamSocket } },
    out: trace,
    profile: opts.profile ?? 'docker-20.10',
    level: 'should',
    kernel: opts.kernel ?? false,
    ...(opts.holdBytes !== undefined ? { holdBytes: opts.holdBytes } : {}),
    onCall: (c) => calls.push(c),
    onViolation: (line) => lines.push(line),
  });
  return {
    recorder,
    socket,
    calls,
    lines,
    trace,
    violations: (levels = ['must', 'should']) => calls.flatMap((c) => c.violations).filter((v) => levels.includes(v.level)),
    stop: async () => {
      await recorder.stop();
    },
  };
}
