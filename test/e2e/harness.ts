/**
 * Real-Docker e2e plumbing: readiness (root, docker, the busybox image; set up
 * by scripts/setup-docker.sh, never by the tests), the `docker` CLI, a
 * `cnmkit serve` child, and a cleanup ledger that removes what a test made
 * (containers, networks, plugins, the socket) even when the test failed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { optedOut } from '../helpers/skip.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const IMAGE = process.env.CNMKIT_E2E_IMAGE ?? 'cnmkit-busybox:latest';

export interface Run {
  readonly ok: boolean;
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

export function run(file: string, args: readonly string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (e, out, err) => {
      const code = e === null ? 0 : typeof (e as { code?: unknown }).code === 'number' ? ((e as { code: number }).code) : null;
      resolve({ ok: e === null, code, out: out.toString(), err: err.toString() });
    });
  });
}

export async function docker(...args: string[]): Promise<string> {
  const r = await run('docker', args);
  if (!r.ok) throw new Error(`docker ${args.join(' ')} failed: ${r.err.trim() || r.out.trim()}`);
  return r.out.trim();
}

/**
 * Why the e2e cannot run here (null: ready): not root, no docker daemon, no
 * image, no iptables, or opted out with CNMKIT_SKIP=docker. Only looks: Docker
 * and the image are set up by scripts/setup-docker.sh (as root), never here.
 */
export async function e2eSkipReason(): Promise<string | null> {
  const out = optedOut('docker');
  if (out !== null) return out;
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  const info = await run('docker', ['info', '--format', '{{.ServerVersion}}'], 30_000);
  if (!info.ok) return `no docker daemon (run scripts/setup-docker.sh as root): ${(info.err.trim() || info.out.trim()).split('\n').pop() ?? ''}`;
  if (!(await run('docker', ['image', 'inspect', IMAGE], 30_000)).ok) return `image ${IMAGE} is missing (run scripts/setup-docker.sh as root)`;
  if (!(await run('iptables', ['-V'])).ok) return 'iptables is not installed (run scripts/setup-docker.sh as root)';
  return null;
}

/** True when something accepts connections on the unix socket. */
export function socketLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve(false);
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** `cnmkit serve` as a child (through tsx, so the sources under test run, not a stale build). */
export class ServeProcess {
  private child: ChildProcess | null = null;
  log = '';

  constructor(private readonly args: readonly string[]) {}

  async start(socket: string): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'serve', ...this.args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`cnmkit serve exited (${child.exitCode}): ${this.log}`);
      if (/NetworkDriver/.test(this.log) && (await socketLive(socket))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`cnmkit serve did not come up: ${this.log}`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Stops the child with `signal` and waits for it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child;
    this.child = null;
    if (c === null || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Undo list run in reverse order; every step tolerates "already gone". */
export class Cleanup {
  private readonly steps: Array<() => Promise<unknown>> = [];

  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  container(name: string): void {
    this.add(() => run('docker', ['rm', '-f', name]));
  }

  network(name: string): void {
    this.add(() => run('docker', ['network', 'rm', name]));
  }

  file(path: string): void {
    this.add(async () => rmSync(path, { recursive: true, force: true }));
  }

  async runAll(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      await step().catch(() => undefined);
    }
  }
}

/** Host links whose name starts with `cnm-`. */
export async function cnmLinks(): Promise<string[]> {
  const r = await run('ip', ['-o', 'link', 'show']);
  return r.out
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined && n.startsWith('cnm-'));
}

/** iptables/ip6tables rules mentioning cnmkit. */
export async function cnmRules(): Promise<string[]> {
  const out: string[] = [];
  for (const tool of ['iptables', 'ip6tables']) {
    const r = await run(tool, ['-w', '-S']);
    if (r.ok) out.push(...r.out.split('\n').filter((l) => /cnmkit|CNMKIT/.test(l)));
  }
  return out;
}

const LOCK = '/run/lock/cnmkit-e2e.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Build the managed (v2) plugin into `out` with scripts/build-managed-plugin.sh; `cleanup`
 * disables and removes `plugin` (NAME:TAG) at the end, whatever the test created.
 */
export async function buildManagedPlugin(cleanup: Cleanup, plugin: string, out: string): Promise<void> {
  cleanup.add(() => run('docker', ['plugin', 'rm', '-f', plugin]));
  cleanup.add(() => run('docker', ['plugin', 'disable', '-f', plugin]));
  const build = await run('bash', [join(ROOT, 'scripts', 'build-managed-plugin.sh'), '--out', out], 600_000);
  if (!build.ok) throw new Error(`build-managed-plugin.sh failed: ${build.err}${build.out}`);
}

/**
 * The gate of an e2e test file: e2eSkipReason, then the e2e lock, held until the
 * file's tests end (released in afterAll). Null when the tests may run.
 */
export async function e2eGate(): Promise<string | null> {
  const skip = await e2eSkipReason();
  if (skip !== null) return skip;
  const release = await acquireE2eLock();
  if (release === null) return 'another cnmkit e2e run holds /run/lock/cnmkit-e2e.lock';
  afterAll(() => release());
  return null;
}

/**
 * One e2e run per host at a time (they share dockerd and the plugin socket):
 * waits up to `waitMs` for another live run, takes over a dead one's lock.
 * Returns a release function, or null when the lock stayed busy.
 */
export async function acquireE2eLock(waitMs = 300_000): Promise<(() => void) | null> {
  const { mkdirSync, openSync, writeSync, closeSync, readFileSync, unlinkSync } = await import('node:fs');
  mkdirSync('/run/lock', { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(LOCK, 'utf8') === String(process.pid)) unlinkSync(LOCK);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(LOCK, 'utf8'));
    } catch {
      continue;
    }
    if (!Number.isInteger(holder) || !alive(holder)) {
      try {
        unlinkSync(LOCK);
      } catch {
        /* raced with another taker */
      }
      continue;
    }
    if (Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Names of the links enslaved to `bridge` (host namespace). */
export async function portsOf(bridge: string): Promise<string[]> {
  const r = await run('ip', ['-o', 'link', 'show', 'master', bridge]);
  return r.out
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** Which of `names` still exist as host links. */
export async function existingLinks(names: readonly string[]): Promise<string[]> {
  const all = new Set(await cnmLinks());
  return names.filter((n) => all.has(n));
}
