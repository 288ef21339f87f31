/**
 * Running iproute2 without paying a process start per operation.
 *
 * One `ip -force -json -d -batch -` child per network namespace reads commands
 * on stdin. After every command we send a sentinel that always fails
 * (`neigh show dev <absent>`: ip's `link`/`addr` filters
 * leak between batch lines, so the sentinel stays out of them); with `-force`, ip reports each failure on stderr
 * as `Command failed -:<line>`, so the sentinel's line number marks where the
 * command's own stderr ends, and stdout (flushed by ip after each command)
 * holds its JSON. Measured on the CI VM: ~20 ms per `execFile('ip')` versus
 * well under 1 ms per command through the session (bench numbers in README).
 *
 * Arguments that the batch tokenizer would mangle (`#` starts a comment,
 * quotes and backslashes are interpreted) go through a one-shot execFile with
 * an argument array instead. ip exits on some argument errors (`invarg`); the
 * session then fails that command with ip's text and starts a new child.
 */
import { spawn, execFile, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** How to reach a namespace: the process's own (`null`) or a netns file to enter with nsenter. */
export type NetnsTarget = string | null;

/** What one ip command printed. `ok` false: `stderr` holds ip's error text. */
export interface IpResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

const SENTINEL_DEV = 'cnmkit-sntnl';
const SAFE_ARG = /^[A-Za-z0-9_.:/%@+=,~^-]+$/;

/** True when `args` survive ip's batch-line tokenizer unchanged. */
export function batchSafe(args: readonly string[]): boolean {
  return args.every((a) => SAFE_ARG.test(a));
}

function command(target: NetnsTarget, ipArgs: readonly string[]): [string, string[]] {
  if (target === null) return ['ip', [...ipArgs]];
  return ['nsenter', [`--net=${target}`, '--', 'ip', ...ipArgs]];
}

/** One ip invocation through execFile (argument array, no shell). */
export function runIpOnce(target: NetnsTarget, args: readonly string[]): Promise<IpResult> {
  const [file, argv] = command(target, ['-json', '-d', ...args]);
  return new Promise((resolve) => {
    execFile(file, argv, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ ok: err === null, stdout, stderr: stderr.trim() || (err?.message ?? '') });
    });
  });
}

interface Pending {
  readonly args: readonly string[];
  readonly cmdLine: number;
  readonly sentinelLine: number;
  resolve(r: IpResult): void;
}

/** A long-lived `ip -batch -` child for one namespace; commands run strictly in order. */
export class IpSession {
  private child: ChildProcessByStdio<Writable, Readable, Readable> | null = null;
  private line = 0;
  private stdout = '';
  private stderrLines: string[] = [];
  private stderrTail = '';
  private queue: Pending[] = [];
  private waiting: { args: readonly string[]; resolve(r: IpResult): void }[] = [];
  private closed = false;

  /** `globalArgs`: extra ip options for every command of this session, e.g. `['-6']`. */
  constructor(
    private readonly target: NetnsTarget,
    private readonly globalArgs: readonly string[] = [],
  ) {}

  run(args: readonly string[]): Promise<IpResult> {
    if (this.closed) return Promise.resolve({ ok: false, stdout: '', stderr: 'Cannot open network namespace: session closed' });
    if (!batchSafe(args)) return runIpOnce(this.target, [...this.globalArgs, ...args]);
    return new Promise((resolve) => {
      this.waiting.push({ args, resolve });
      this.pump();
    });
  }

  /** One command in flight at a time, so stdout belongs to exactly one command. */
  private pump(): void {
    if (this.queue.length > 0 || this.closed) return;
    const next = this.waiting.shift();
    if (next === undefined) return;
    const child = this.ensureChild();
    const cmdLine = ++this.line;
    const sentinelLine = ++this.line;
    this.queue.push({ args: next.args, cmdLine, sentinelLine, resolve: next.resolve });
    child.stdin.write(`${next.args.join(' ')}\nneigh show dev ${SENTINEL_DEV}\n`);
  }

  /** Ends the child; later calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.resolve({ ok: false, stdout: '', stderr: 'Cannot open network namespace: session closed' });
    const c = this.child;
    this.child = null;
    if (c === null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.stdin.end();
      setTimeout(() => c.kill('SIGKILL'), 2000).unref();
    });
  }

  private ensureChild(): ChildProcessByStdio<Writable, Readable, Readable> {
    if (this.child !== null) return this.child;
    const [file, argv] = command(this.target, [...this.globalArgs, '-force', '-json', '-d', '-batch', '-']);
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.line = 0;
    this.stdout = '';
    this.stderrLines = [];
    this.stderrTail = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      this.stdout += d;
    });
    child.stderr.on('data', (d: string) => this.onStderr(d));
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => this.onExit(child, e.message));
    child.on('exit', (code, sig) => this.onExit(child, `ip exited (${sig ?? code})`));
    return child;
  }

  private onStderr(chunk: string): void {
    const text = this.stderrTail + chunk;
    const lines = text.split('\n');
    this.stderrTail = lines.pop() ?? '';
    for (const l of lines) {
      const m = /^Command failed -:(\d+)$/.exec(l);
      if (m === null) {
        this.stderrLines.push(l);
        continue;
      }
      const n = Number(m[1]);
      const head = this.queue[0];
      if (head === undefined) continue;
      if (n === head.cmdLine) {
        // The command failed: what ip said so far is its error text; keep it until the sentinel.
        this.stderrLines.push(`\u0000failed`);
        continue;
      }
      if (n === head.sentinelLine) {
        this.queue.shift();
        const failed = this.stderrLines.includes('\u0000failed');
        // The sentinel's own message is the last line before its marker.
        const own = this.stderrLines.filter((x) => x !== '\u0000failed');
        own.pop();
        const stderr = own.join('\n').trim();
        this.stderrLines = [];
        // stdout was written before the sentinel's stderr; let this poll round deliver it.
        setImmediate(() => {
          const stdout = this.stdout;
          this.stdout = '';
          head.resolve({ ok: !failed, stdout, stderr });
          this.pump();
        });
      }
    }
  }

  private onExit(child: ChildProcessByStdio<Writable, Readable, Readable>, why: string): void {
    if (this.child !== child) return;
    this.child = null;
    const text = [...this.stderrLines.filter((x) => x !== '\u0000failed'), this.stderrTail].join('\n').trim();
    const pending = this.queue;
    this.queue = [];
    this.stderrLines = [];
    this.stderrTail = '';
    // The command in flight is the one ip died on; the waiting ones go to a new child.
    for (const p of pending) p.resolve({ ok: false, stdout: '', stderr: text !== '' ? text : why });
    this.pump();
  }
}
