/**
 * `cnmkit replay FILE`: FILE is told apart by content.
 * - A trace (`cnmkit record`, docs/trace.md): the recorded session runs again
 *   against the plugin with re-mapped ids (conformance/replay-trace); one line
 *   per divergence; exit 1 on a divergence at or above `--level`.
 * - A replay file (`cnmkit check`): rerun the failed check (same check seed
 *   and fast-check path); `--calls` instead replays its recorded calls through
 *   the trace engine; `--raw` resends the recorded requests byte for byte and
 *   compares the statuses. Exit 1 when the violation still shows, 0 when it is gone.
 * Exit 2: usage error or the plugin is unreachable.
 */
import { writeFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import {
  consoleReport,
  createTarget,
  clientConnector,
  replay,
  resendCalls,
  TargetUnreachableError,
  type RawSender,
  type TargetSpec,
} from '../../conformance/index.js';
import { atLevel, formatDivergence, loadReplayInput, replayJudge, replayTrace, traceLineOf, type Divergence, type ReplayInput } from '../../conformance/replay-trace/index.js';
import { cnmkitVersion, headerValue, TRACE_FORMAT, TraceFormatError, TraceWriter, type ViolationLevel } from '../record/trace.js';
import { UsageError } from '../errors.js';
import { MULTI_SUITE_ID, replayInstances } from '../../conformance/multi/index.js';
import { instanceSpecs, listOf, secondsFlagMs } from './check.js';
import type { Profile } from '../protocol/constants.js';
import { startReferenceTarget, type ReferenceTarget } from './reference-target.js';

interface ReplayArgs {
  file: string;
  /** Repeated: every instance again, for a failure of the multi suite (so is --url). */
  socket?: string | string[];
  url?: string | string[];
  plugin?: string;
  reference?: boolean;
  raw?: boolean;
  calls?: boolean;
  level: ViolationLevel;
  reporter: 'console' | 'json';
  out?: string;
  timeout?: number;
}

export function registerReplay(cli: Argv): Argv {
  return cli.command(
    'replay <file>',
    'Replay a recorded session (cnmkit record trace) or a failure (cnmkit check replay file) against a plugin',
    (y) =>
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'trace written by cnmkit record, or replay file written by cnmkit check' })
        .option('socket', { type: 'string', describe: 'plugin unix socket (repeat it, or --url, for a failure of the multi suite: every instance in the order checked)' })
        .option('url', { type: 'string', describe: 'plugin URL (tcp://HOST:PORT, unix:///PATH); repeatable like --socket' })
        .option('plugin', { type: 'string', describe: 'plugin name (discovery as dockerd does it)' })
        .option('reference', { type: 'boolean', describe: 'the embedded reference plugin' })
        .option('raw', { type: 'boolean', describe: 'replay file: resend the recorded requests byte for byte instead of rerunning the check' })
        .option('calls', { type: 'boolean', describe: 'replay file: replay its recorded calls with re-mapped ids (as a trace) instead of rerunning the check' })
        .option('level', { choices: ['must', 'should', 'compat'] as const, default: 'should' as const, describe: 'trace replay: lowest divergence level that fails (exit 1)' })
        .option('reporter', { choices: ['console', 'json'] as const, default: 'console' as const, describe: 'trace replay: one line per divergence, or one JSON document' })
        .option('out', { type: 'string', describe: 'trace replay: write the replayed session as a trace (for simulate --trace, or to replay again)' })
        .option('timeout', { type: 'number', describe: 'per-call timeout in seconds (default: the one recorded)' }),
    async (argv) => {
      process.exitCode = await runReplay(argv as unknown as ReplayArgs);
    },
  );
}

/** --timeout checked, then the replay file or trace read (a malformed one is a usage error). */
async function readInput(a: ReplayArgs): Promise<ReplayInput> {
  secondsFlagMs('--timeout', a.timeout);
  try {
    return await loadReplayInput(a.file);
  } catch (e) {
    if (e instanceof TraceFormatError) throw new UsageError(e.message);
    throw e;
  }
}

async function runReplay(a: ReplayArgs): Promise<number> {
  const instances = instanceSpecs(a);
  if (instances.length > 1) return replayOnInstances(a, instances);
  const given = [a.socket, a.url, a.plugin, a.reference ? true : undefined].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one target: --socket, --url, --plugin or --reference');
  const input = await readInput(a);
  if (input.kind === 'trace' || a.calls) {
    if (a.raw) throw new UsageError(input.kind === 'trace' ? '--raw is for replay files; a trace is always replayed call by call' : 'give --raw or --calls, not both');
    return runTraceReplay(a, input);
  }
  const file = input.file;
  if (file.suite === MULTI_SUITE_ID) throw new UsageError(`${a.file} is a failure of the multi suite: give every instance again (--socket A --socket B ..., in the order checked)`);
  let reference: ReferenceTarget | null = null;
  let spec = targetSpec(a);
  if (spec === null) {
    reference = await startReferenceTarget({ profile: file.config.profile === 'moby' ? 'moby' : 'docker-20.10' });
    spec = { socket: reference.socket };
  }
  const timeoutMs = secondsFlagMs('--timeout', a.timeout) ?? file.config.timeoutMs;
  try {
    process.stdout.write(`replaying ${file.check} [${file.level}] ${file.title}\n  recorded: ${file.message}\n`);
    if (a.raw) {
      const target = createTarget(spec, clientConnector);
      const sent = await resendCalls(file, target.rawSender({ hostHeader: '', defaultTimeoutMs: timeoutMs }), timeoutMs);
      for (const c of sent) {
        process.stdout.write(`  ${c.same ? 'same' : 'DIFF'}  POST ${c.path} -> ${c.status ?? 'no reply'} (recorded ${c.expectedStatus ?? 'no reply'})  ${(c.response ?? '').slice(0, 200).trim()}\n`);
      }
      const same = sent.every((c) => c.same);
      process.stdout.write(same ? 'every reply status matches the recording\n' : 'replies differ from the recording\n');
      return same ? 1 : 0;
    }
    const outcome = await replay(file, spec, { timeoutMs });
    process.stdout.write(consoleReport(outcome.report, { color: process.stdout.isTTY === true }));
    process.stdout.write(outcome.reproduced ? `still failing: ${file.check}\n` : `not reproduced: ${file.check} passes now\n`);
    return outcome.reproduced ? 1 : 0;
  } finally {
    await reference?.close();
  }
}

/** The one target given, or null for --reference. */
function targetSpec(a: ReplayArgs): TargetSpec | null {
  if (a.socket !== undefined) return { socket: listOf(a.socket)[0]! };
  if (a.url !== undefined) return { url: listOf(a.url)[0]! };
  if (a.plugin !== undefined) return { plugin: a.plugin };
  return null;
}

function profileOf(input: ReplayInput): Profile {
  return input.sessions[0]?.header.profile === 'moby' ? 'moby' : 'docker-20.10';
}

/** A plugin that does not answer the first call is unreachable (exit 2), not a divergence on every call. */
function failFastSender(inner: RawSender, description: string): RawSender {
  let answered = false;
  return {
    curlPrefix: inner.curlPrefix,
    async send(exchange, opts) {
      const r = await inner.send(exchange, opts);
      if (!answered && r.kind === 'transport-error') throw new TargetUnreachableError(`cannot reach ${description}: ${r.message}`);
      answered = true;
      return r;
    },
  };
}

/** A trace (or a replay file's calls) through the trace engine: one line per divergence. */
async function runTraceReplay(a: ReplayArgs, input: ReplayInput): Promise<number> {
  const calls = input.sessions.reduce((n, s) => n + s.calls.length, 0);
  if (calls === 0) throw new UsageError(`${a.file}: no calls to replay`);
  let reference: ReferenceTarget | null = null;
  let spec = targetSpec(a);
  if (spec === null) {
    reference = await startReferenceTarget({ profile: profileOf(input) });
    spec = { socket: reference.socket };
  }
  const first = input.sessions[0]!;
  // The Host header dockerd sent ('' up to 20.10.25, plugin.moby.localhost after).
  const host = first.calls.length > 0 ? headerValue(first.calls[0]!.request, 'host') : undefined;
  const timeoutMs = secondsFlagMs('--timeout', a.timeout) ?? (input.kind === 'replay-file' ? input.file.config.timeoutMs : 30_000);
  const lines = a.reporter === 'console';
  let out: TraceWriter | null = null;
  try {
    const target = createTarget(spec, clientConnector);
    const raw = failFastSender(target.rawSender({ hostHeader: host ?? '', defaultTimeoutMs: timeoutMs }), target.description);
    if (lines) {
      const what = input.kind === 'trace' ? `trace ${a.file}: ${calls} calls in ${input.sessions.length} session(s), recorded ${first.header.startedAt} from ${first.header.upstream.address || first.header.name}` : `replay file ${a.file}: the ${calls} calls of ${input.file.check}`;
      process.stdout.write(`replaying ${what}\n  against ${reference !== null ? 'the embedded reference plugin' : target.description}\n`);
      if (input.damagedLines.length > 0) process.stdout.write(`  ignored the partial line(s) a crash left: ${input.damagedLines.join(', ')}\n`);
      const seen = input.sessions.flatMap((x) => x.calls.flatMap((c) => c.violations)).filter((v) => v.level !== 'compat');
      if (seen.length > 0) process.stdout.write(`  the recorder saw ${seen.length} must/should violation(s) then (first: ${seen[0]!.rule}); what counts now is what the plugin does in this replay\n`);
    }
    const writer = a.out === undefined ? null : openOut(a.out, input, target.description);
    out = writer;
    let written = 0;
    const result = await replayTrace(input.sessions, raw, {
      timeoutMs,
      judge: replayJudge(profileOf(input)),
      onCall: (c, found) => {
        const line = writer === null ? null : traceLineOf(c, written + 1, found);
        if (line !== null) {
          writer?.append(line);
          written++;
        }
        if (lines) for (const d of atLevel(found, a.level)) process.stdout.write(`${formatDivergence(d)}\n`);
      },
    });
    const failing = atLevel(result.divergences, a.level);
    if (lines) {
      const count = (l: ViolationLevel): number => result.divergences.filter((d: Divergence) => d.level === l).length;
      process.stdout.write(
        `${result.calls.length} calls replayed: ${result.divergences.length} divergence(s) (must ${count('must')}, should ${count('should')}, compat ${count('compat')})` +
          `${result.unjudged > 0 ? `; ${result.unjudged} call(s) dockerd gave up on were not compared` : ''}\n` +
          `${failing.length > 0 ? `${failing.length} at or above --level ${a.level}: first at seq ${failing[0]!.seq}` : `no divergence at or above --level ${a.level}`}` +
          `${result.divergences.length > failing.length ? ` (${result.divergences.length - failing.length} below it not shown: --level compat lists them)` : ''}\n`,
      );
    } else {
      process.stdout.write(`${JSON.stringify({ file: a.file, kind: input.kind, target: target.description, level: a.level, calls: result.calls.length, unjudged: result.unjudged, divergences: result.divergences, failed: failing.length > 0 }, null, 2)}\n`);
    }
    if (writer !== null && lines) process.stdout.write(`wrote ${a.out} (${written} calls)\n`);
    return failing.length > 0 ? 1 : 0;
  } finally {
    out?.close();
    await reference?.close();
  }
}

/** `--out`: a new trace (an existing file is replaced) whose header names the replay. */
function openOut(path: string, input: ReplayInput, target: string): TraceWriter {
  try {
    writeFileSync(path, '');
  } catch (e) {
    throw new UsageError(`--out ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const w = TraceWriter.open(path);
  const first = input.sessions[0]!.header;
  w.append({
    type: 'header',
    format: TRACE_FORMAT,
    name: `replay of ${first.name}`,
    socket: '',
    upstream: { kind: 'socket', address: target },
    startedAt: new Date().toISOString(),
    cnmkit: cnmkitVersion(),
    ...(first.profile !== undefined ? { profile: first.profile } : {}),
  });
  return w;
}

/** A failure of the multi suite, rerun against every instance (same check seed and fast-check path). */
async function replayOnInstances(a: ReplayArgs, instances: readonly TargetSpec[]): Promise<number> {
  if (a.plugin !== undefined || a.reference === true) throw new UsageError('several instances are given with --socket/--url only (not with --plugin or --reference)');
  if (a.raw === true || a.calls === true) throw new UsageError('--raw and --calls replay against one target');
  const input = await readInput(a);
  if (input.kind !== 'replay-file' || input.file.suite !== MULTI_SUITE_ID) throw new UsageError(`several targets replay a failure of the multi suite only; ${a.file} is ${input.kind === 'trace' ? 'a trace' : `a failure of ${input.file.check}`}: give one target`);
  const file = input.file;
  process.stdout.write(`replaying ${file.check} [${file.level}] ${file.title}\n  recorded: ${file.message}\n`);
  const timeoutMs = secondsFlagMs('--timeout', a.timeout);
  const outcome = await replayInstances(file, instances, timeoutMs !== undefined ? { timeoutMs } : {});
  process.stdout.write(consoleReport(outcome.report, { color: process.stdout.isTTY === true }));
  process.stdout.write(outcome.reproduced ? `still failing: ${file.check}\n` : `not reproduced: ${file.check} passes now\n`);
  return outcome.reproduced ? 1 : 0;
}
