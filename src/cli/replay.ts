/**
 * `cnmkit replay FILE`: rerun the failed check recorded in a replay file
 * (same check seed and fast-check path) against a plugin; `--raw` instead
 * resends the recorded requests byte for byte and compares the statuses.
 * Exit 1 when the violation still shows, 0 when it is gone, 2 usage/unreachable.
 */
import type { Argv } from 'yargs';
import {
  consoleReport,
  createTarget,
  clientConnector,
  readReplayFile,
  replay,
  resendCalls,
  type TargetSpec,
} from '../../conformance/index.js';
import { UsageError } from '../errors.js';
import { startReferenceTarget, type ReferenceTarget } from './reference-target.js';

interface ReplayArgs {
  file: string;
  socket?: string;
  url?: string;
  plugin?: string;
  reference?: boolean;
  raw?: boolean;
  timeout?: number;
}

export function registerReplay(cli: Argv): Argv {
  return cli.command(
    'replay <file>',
    'Rerun a failure from its replay file against a plugin (exit 1 while it still fails)',
    (y) =>
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'replay file written by cnmkit check' })
        .option('socket', { type: 'string', describe: 'plugin unix socket' })
        .option('url', { type: 'string', describe: 'plugin URL (tcp://HOST:PORT, unix:///PATH)' })
        .option('plugin', { type: 'string', describe: 'plugin name (discovery as dockerd does it)' })
        .option('reference', { type: 'boolean', describe: 'the embedded reference plugin' })
        .option('raw', { type: 'boolean', describe: 'resend the recorded requests byte for byte instead of rerunning the check' })
        .option('timeout', { type: 'number', describe: 'per-call timeout in seconds (default: the one recorded)' }),
    async (argv) => {
      process.exitCode = await runReplay(argv as unknown as ReplayArgs);
    },
  );
}

async function runReplay(a: ReplayArgs): Promise<number> {
  const given = [a.socket, a.url, a.plugin, a.reference ? true : undefined].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one target: --socket, --url, --plugin or --reference');
  if (a.timeout !== undefined && (!Number.isFinite(a.timeout) || a.timeout <= 0)) throw new UsageError(`--timeout must be a positive number of seconds, got ${a.timeout}`);
  const file = await readReplayFile(a.file);
  let reference: ReferenceTarget | null = null;
  let spec: TargetSpec;
  if (a.socket !== undefined) spec = { socket: a.socket };
  else if (a.url !== undefined) spec = { url: a.url };
  else if (a.plugin !== undefined) spec = { plugin: a.plugin };
  else {
    reference = await startReferenceTarget({ profile: file.config.profile === 'moby' ? 'moby' : 'docker-20.10' });
    spec = { socket: reference.socket };
  }
  const timeoutMs = a.timeout !== undefined ? Math.ceil(a.timeout * 1000) : file.config.timeoutMs;
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
