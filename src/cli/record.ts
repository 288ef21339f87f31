/**
 * `cnmkit record`: serve a plugin socket that forwards to a real plugin byte
 * for byte, check every call live, append each exchange to a trace.
 * Ends on SIGINT/SIGTERM with a summary; exit 1 when a violation at or
 * above --level was seen, 0 otherwise, 2 usage error or unreachable.
 */
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { endpointOfUrl } from '../../conformance/target.js';
import { atOrAbove } from '../../conformance/live/types.js';
import { findPlugin } from '../client/index.js';
import { UsageError } from '../errors.js';
import { PLUGIN_SOCKET_DIR, PROFILES, type Profile } from '../protocol/constants.js';
import { startRecorder, type RecorderUpstream } from '../../conformance/live/recorder.js';
import { SocketInUseError } from '../sdk/errors.js';
import { formatSummary } from '../record/summary.js';
import type { TraceViolation, ViolationLevel } from '../record/trace.js';
import { findManagedPlugin } from './managed-target.js';
import { secondsFlagMs } from './check.js';

interface RecordArgs {
  upstream?: string;
  'upstream-url'?: string;
  'upstream-plugin'?: string;
  name: string;
  socket?: string;
  out?: string;
  level: ViolationLevel;
  profile: Profile;
  reporter: 'console' | 'json';
  netns: 'auto' | 'linux' | 'none';
  timeout?: number;
}

export function registerRecord(cli: Argv): Argv {
  return cli.command(
    'record',
    'Sit between dockerd and a plugin: forward byte for byte, check every call live, save a trace (exit 1 on violations at --level)',
    (y) =>
      y
        .option('upstream', { type: 'string', group: 'Plugin behind the recorder:', describe: 'the plugin\'s unix socket' })
        .option('upstream-url', { type: 'string', group: 'Plugin behind the recorder:', describe: 'the plugin\'s URL (tcp://HOST:PORT, unix:///PATH)' })
        .option('upstream-plugin', { type: 'string', group: 'Plugin behind the recorder:', describe: 'a plugin name: a managed plugin NAME[:TAG] or a legacy plugin (socket/spec), found as dockerd finds it' })
        .option('name', { type: 'string', demandOption: true, describe: `the name dockerd uses: serves ${PLUGIN_SOCKET_DIR}/<name>.sock (docker network create -d NAME --ipam-driver NAME)` })
        .option('socket', { type: 'string', describe: `socket to serve instead of ${PLUGIN_SOCKET_DIR}/<name>.sock` })
        .option('out', { type: 'string', describe: 'trace file, JSON lines, appended (default ./cnmkit-record-<name>.jsonl; docs/trace.md)' })
        .option('level', { choices: ['must', 'should', 'compat'] as const, default: 'should' as const, describe: 'lowest level that makes the exit code 1' })
        .option('profile', { choices: PROFILES, default: 'docker-20.10' as Profile, describe: 'daemon behaviour to check against' })
        .option('reporter', { choices: ['console', 'json'] as const, default: 'console' as const, describe: 'console: one line per violation; json: one JSON object per violation and for the summary' })
        .option('netns', { choices: ['auto', 'linux', 'none'] as const, default: 'auto' as const, describe: 'look Join\'s SrcName up on the kernel before dockerd gets the reply: auto (when root), linux (insist), none (off)' })
        .option('timeout', { type: 'number', describe: 'seconds a call may take before protocol.timely-replies (default 30: a managed plugin\'s request timeout)' }),
    async (argv) => {
      process.exitCode = await record(argv as unknown as RecordArgs);
    },
  );
}

async function resolveUpstream(a: RecordArgs): Promise<RecorderUpstream> {
  const given = [a.upstream, a['upstream-url'], a['upstream-plugin']].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one of --upstream PATH, --upstream-url URL, --upstream-plugin NAME');
  if (a.upstream !== undefined) return { kind: 'socket', address: a.upstream, dial: { path: resolve(a.upstream) } };
  if (a['upstream-url'] !== undefined) {
    const url = a['upstream-url'];
    const e = endpointOfUrl(url);
    return { kind: 'url', address: url, dial: 'socketPath' in e ? { path: e.socketPath } : { host: e.host, port: e.port } };
  }
  const name = a['upstream-plugin']!;
  // A name dockerd resolves as a legacy plugin stays one; otherwise docker may know it as a managed plugin.
  const legacy = name.includes(':') ? null : await findPlugin(name).catch(() => null);
  if (legacy !== null) {
    if (legacy.addr.startsWith('https://')) throw new UsageError(`--upstream-plugin ${name}: ${legacy.addr} is TLS; the recorder forwards plain HTTP only`);
    const e = endpointOfUrl(legacy.addr.replace(/^http:/, 'tcp:'));
    return { kind: 'plugin', address: name, dial: 'socketPath' in e ? { path: e.socketPath } : { host: e.host, port: e.port } };
  }
  const managed = await findManagedPlugin(name);
  if (managed === null) throw new UsageError(`--upstream-plugin ${name}: no legacy plugin of that name and docker knows no managed plugin ${name}`);
  if (!managed.enabled) throw new UsageError(`--upstream-plugin ${name}: the managed plugin is disabled (docker plugin enable ${name})`);
  return { kind: 'plugin', address: name, dial: { path: managed.socket } };
}

function kernelCheck(netns: RecordArgs['netns']): boolean {
  const root = process.getuid?.() === 0 && process.platform === 'linux';
  if (netns === 'linux' && !root) throw new UsageError('--netns linux needs root on Linux (it asks the kernel for Join\'s SrcName)');
  return netns === 'linux' || (netns === 'auto' && root);
}

async function record(a: RecordArgs): Promise<number> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(a.name)) throw new UsageError(`--name ${JSON.stringify(a.name)} must be letters, digits, '.', '_' or '-' (it becomes a socket file name)`);
  const timeoutMs = secondsFlagMs('--timeout', a.timeout);
  const upstream = await resolveUpstream(a);
  const socket = resolve(a.socket ?? join(PLUGIN_SOCKET_DIR, `${a.name}.sock`));
  if ('path' in upstream.dial && resolve(upstream.dial.path) === socket) throw new UsageError(`the recorder would serve ${socket}, which is the plugin's own socket: give another --name or --socket`);
  const out = resolve(a.out ?? `cnmkit-record-${a.name}.jsonl`);
  await mkdir(dirname(socket), { recursive: true, mode: 0o755 });
  await mkdir(dirname(out), { recursive: true });
  await prepareSocket(socket);
  const json = a.reporter === 'json';
  let failing = false;
  const recorder = await startRecorder({
    name: a.name,
    socket,
    upstream,
    out,
    profile: a.profile,
    level: a.level,
    kernel: kernelCheck(a.netns),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    onViolation(line: string, v: TraceViolation, call) {
      if (atOrAbove(v.level, a.level)) failing = true;
      if (json) process.stdout.write(`${JSON.stringify({ type: 'violation', seq: call.seq, method: call.call.method, ...v })}\n`);
      else process.stdout.write(`VIOLATION ${line}\n`);
    },
    onFault(conn, err) {
      // Never fatal: dockerd's traffic goes on; the trace misses this call.
      process.stderr.write(`cnmkit record: checking a call on connection ${conn} failed (${err instanceof Error ? err.message : String(err)}); the call was forwarded unchecked\n`);
    },
    onOpaque(conn, why) {
      process.stderr.write(`cnmkit record: connection ${conn} is not HTTP/1 (${why}); passing its bytes through unchecked\n`);
    },
  });
  const target = upstream.kind === 'plugin' ? `${upstream.address} (${'path' in upstream.dial ? upstream.dial.path : `${upstream.dial.host}:${upstream.dial.port}`})` : upstream.address;
  // Status lines go where the reporter's output does not (json: stdout holds only JSON lines).
  const status = json ? process.stderr : process.stdout;
  status.write(`cnmkit record: serving ${socket} -> ${target}; trace ${out}; Ctrl-C to stop\n`);
  await new Promise<void>((done) => {
    const stop = (sig: NodeJS.Signals): void => {
      status.write(`cnmkit record: ${sig}, writing the summary\n`);
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const summary = await recorder.stop();
  await removeSocket(socket);
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(formatSummary(summary));
  return failing ? 1 : 0;
}

async function prepareSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => null);
  if (st === null) return;
  if (!st.isSocket()) throw new UsageError(`${path} exists and is not a socket; not removing it`);
  const live = await new Promise<boolean>((res) => {
    const c = createConnection(path);
    c.once('connect', () => (c.destroy(), res(true)));
    c.once('error', () => res(false));
  });
  // Something serves there already (another recorder, the plugin itself): never steal its socket.
  if (live) throw new SocketInUseError(path);
  await unlink(path).catch(() => undefined);
}

async function removeSocket(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}
