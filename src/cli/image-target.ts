/**
 * `cnmkit check --image IMG`: start a plugin container with testcontainers,
 * sharing a socket directory mounted at /run/docker/plugins inside it, wait
 * for the plugin's socket, and keep the container's logs for the report.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CnmkitError } from '../errors.js';

export interface ImagePlugin {
  readonly socket: string;
  /** Kill the container (SIGKILL) and start it again; resolves once its socket answers again. */
  restart(): Promise<void>;
  /** Everything the container printed so far. */
  logs(): string;
  stop(): Promise<void>;
}

export class ImageStartError extends CnmkitError {
  constructor(message: string, cause?: unknown) {
    super('E_TRANSPORT', message, { cause });
  }
}

export interface ImageOptions {
  /** Socket file name to wait for (default: the first `*.sock` that appears). */
  readonly socketName?: string;
  readonly startTimeoutMs?: number;
  readonly env?: Record<string, string>;
}

export async function startImagePlugin(image: string, opts: ImageOptions = {}): Promise<ImagePlugin> {
  // testcontainers' reaper container would have to be pulled from a registry.
  process.env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';
  const { GenericContainer } = await import('testcontainers');
  const dir = await mkdtemp(join(tmpdir(), 'cnmkit-image-'));
  let output = '';
  let container;
  try {
    container = await new GenericContainer(image)
      .withBindMounts([{ source: dir, target: '/run/docker/plugins', mode: 'rw' }])
      .withNetworkMode('host')
      .withAddedCapabilities('NET_ADMIN', 'SYS_ADMIN')
      .withEnvironment(opts.env ?? {})
      .withLogConsumer((stream) => {
        stream.on('data', (chunk: Buffer | string) => {
          output += chunk.toString();
          if (output.length > 1_000_000) output = output.slice(-500_000);
        });
      })
      .start();
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw new ImageStartError(`--image ${image}: container did not start: ${(e as Error).message.split('\n')[0]}`, e);
  }
  const started = container;
  const stop = async (): Promise<void> => {
    await started.stop({ timeout: 5_000 }).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  for (;;) {
    const socket = await findSocket(dir, opts.socketName);
    if (socket !== null) return { socket, logs: () => output, stop, restart: () => restartContainer(started, socket, opts.startTimeoutMs ?? 30_000) };
    if (Date.now() > deadline) {
      await stop();
      const tail = output.trim().split('\n').slice(-3).join(' | ');
      throw new ImageStartError(`--image ${image}: no plugin socket appeared in /run/docker/plugins within ${opts.startTimeoutMs ?? 30_000} ms${tail ? ` (container said: ${tail})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function findSocket(dir: string, name: string | undefined): Promise<string | null> {
  const names = name !== undefined ? [name.endsWith('.sock') ? name : `${name}.sock`] : (await readdir(dir)).filter((n) => n.endsWith('.sock')).sort();
  for (const n of names) {
    const p = join(dir, n);
    const st = await stat(p).catch(() => null);
    if (st?.isSocket()) return p;
  }
  return null;
}

/** SIGKILL the plugin's process (docker kill), start the same container again and wait for its socket to accept. */
async function restartContainer(container: { getId(): string; restart(opts?: { timeout?: number }): Promise<void> }, socket: string, waitMs: number): Promise<void> {
  // testcontainers' restart stops gracefully; a plugin that crashes gets no grace: kill first.
  await new Promise<void>((resolve) => execFile('docker', ['kill', '--signal', 'KILL', container.getId()], () => resolve()));
  await container.restart({ timeout: 0 });
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (await accepts(socket)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new ImageStartError(`the restarted container's socket ${socket} did not accept connections within ${waitMs} ms`);
}

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ path });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}
