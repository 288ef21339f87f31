/**
 * `cnmkit record` under the real dockerd: the recorder as a child process
 * (through tsx, so the sources under test run), and one recorded session of
 * the reference plugin on the Linux backend that other e2e tests reuse
 * (`recordedReferenceTrace()`, e.g. the replay e2e test): network create with
 * a subnet, two containers, stop, rm, network rm.
 *
 * Callers check `e2eSkipReason()` and hold the e2e lock (harness.ts) first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup, IMAGE, ROOT, ServeProcess, docker, socketLive } from './harness.js';

/** Where recorded e2e traces are kept for other tests (not removed after the run). */
export const E2E_TRACE_DIR = join(tmpdir(), 'cnmkit-e2e-traces');
/** The reference session's trace (see recordedReferenceTrace). */
export const REFERENCE_TRACE = join(E2E_TRACE_DIR, 'reference-linux.jsonl');

export interface RecordExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Violation lines and the summary. */
  readonly out: string;
  /** Status lines. */
  readonly err: string;
}

/** `cnmkit record ARGS` as a child process. */
export class RecordProcess {
  private child: ChildProcess | null = null;
  out = '';
  err = '';
  private exited: Promise<RecordExit> | null = null;

  constructor(private readonly args: readonly string[]) {}

  /** Starts and waits until `socket` accepts connections. */
  async start(socket: string): Promise<void> {
    this.out = '';
    this.err = '';
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'record', ...this.args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, out: this.out, err: this.err })));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`cnmkit record exited (${child.exitCode}): ${this.err}${this.out}`);
      if (/serving/.test(this.out + this.err) && (await socketLive(socket))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`cnmkit record did not come up: ${this.err}`);
  }

  /** Waits until stdout matches (a violation line printed live). */
  async waitForOutput(re: RegExp, timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (re.test(this.out)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return re.test(this.out);
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<RecordExit> {
    const c = this.child;
    if (c === null || this.exited === null) return { code: null, signal: null, out: this.out, err: this.err };
    this.child = null;
    if (c.exitCode === null && c.signalCode === null) c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}

export interface RecordedDockerSession {
  readonly trace: string;
  readonly exit: RecordExit;
  /** Addresses the two containers got. */
  readonly ips: readonly string[];
}

/**
 * Records the session through `cnmkit record` in front of `cnmkit serve
 * --backend linux`: `docker network create -d NAME --ipam-driver NAME
 * --subnet SUBNET`, two containers, stop, rm, network rm; then SIGINT.
 */
export async function recordReferenceSession(opts: { readonly name?: string; readonly trace: string; readonly subnet?: string; readonly tag: string }): Promise<RecordedDockerSession> {
  const name = opts.name ?? 'cnmkit-rec-ref';
  const work = mkdtempSync(join(tmpdir(), 'cnmt-rec-'));
  const upstream = join(work, 'reference.sock');
  const socket = `/run/docker/plugins/${name}.sock`;
  const serve = new ServeProcess(['--backend', 'linux', '--state', join(work, 'state'), '--socket', upstream]);
  const recorder = new RecordProcess(['--upstream', upstream, '--name', name, '--out', opts.trace]);
  const cleanup = new Cleanup();
  const net = `cnmt-rec-${opts.tag}`;
  const c1 = `cnmt-rec-c1-${opts.tag}`;
  const c2 = `cnmt-rec-c2-${opts.tag}`;
  cleanup.file(work);
  cleanup.add(() => serve.stop());
  cleanup.add(() => recorder.stop());
  try {
    await serve.start(upstream);
    await recorder.start(socket);
    cleanup.network(net);
    await docker('network', 'create', '-d', name, '--ipam-driver', name, '--subnet', opts.subnet ?? '10.236.7.0/24', net);
    const ips: string[] = [];
    for (const c of [c1, c2]) {
      cleanup.container(c);
      await docker('run', '-d', '--name', c, '--network', net, IMAGE, 'sleep', '300');
      ips.push(await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, c));
    }
    await docker('stop', '-t', '1', c1, c2);
    await docker('rm', c1, c2);
    await docker('network', 'rm', net);
    const exit = await recorder.stop('SIGINT');
    return { trace: opts.trace, exit, ips };
  } finally {
    await cleanup.runAll();
  }
}

/**
 * The path of a recorded reference session (cnmkit serve --backend linux
 * behind cnmkit record under the real dockerd), recording it first when no
 * earlier test left one in E2E_TRACE_DIR.
 */
export async function recordedReferenceTrace(): Promise<string> {
  if (existsSync(REFERENCE_TRACE)) return REFERENCE_TRACE;
  mkdirSync(E2E_TRACE_DIR, { recursive: true });
  const tmp = join(mkdtempSync(join(tmpdir(), 'cnmt-rec-trace-')), 'session.jsonl');
  const session = await recordReferenceSession({ trace: tmp, tag: `shared${process.pid}` });
  if (session.exit.code !== 0) throw new Error(`the recorded reference session exited ${session.exit.code}: ${session.exit.out}`);
  copyFileSync(tmp, REFERENCE_TRACE);
  rmSync(join(tmp, '..'), { recursive: true, force: true });
  return REFERENCE_TRACE;
}
