/**
 * `--reference`: the reference plugin served on a private temporary socket, with
 * state that outlives a restart, so that the checker can kill and restart it (the
 * restart checks, and carrying on after a crash). A restart drops the server, its
 * connections and every in-memory object; what survives is what a process keeps
 * on disk: the IPAM's journal (on a tmpfs when there is one) and the driver's
 * state record (kept in memory here: rewriting its file on every change would
 * double the run's time; its file store and kill -9 are tested on their own).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { VirtualBackend } from '../backend/virtual/index.js';
import { createMemoryStateStore } from '../driver/index.js';
import type { Profile } from '../protocol/constants.js';
import { createReferencePlugin, type ReferencePlugin } from '../reference/plugin.js';
import { servePlugin, type PluginServer } from '../sdk/index.js';

export interface ReferenceTarget {
  readonly socket: string;
  /** Drop the server and every connection at once (no graceful close), then start again on the same state. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startReferenceTarget(opts: { profile?: Profile; backend?: Backend } = {}): Promise<ReferenceTarget> {
  const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'cnmkit-ref-'));
  const socket = join(dir, 'cnmkit.sock');
  const stateDir = join(dir, 'state');
  // The kernel outlives the plugin process: one backend across restarts.
  const backend = opts.backend ?? new VirtualBackend();
  const driverStore = createMemoryStateStore();
  const start = async (): Promise<{ plugin: ReferencePlugin; server: PluginServer }> => {
    const plugin = await createReferencePlugin({ backend, profile: opts.profile, stateDir, driverStore });
    const server = await servePlugin({ driver: plugin.driver, ipam: plugin.ipam, listen: { socket }, profile: opts.profile });
    return { plugin, server };
  };
  let running = await start();
  const stop = async (): Promise<void> => {
    await running.server.close();
    await running.plugin.close();
  };
  return {
    socket,
    async restart() {
      await stop();
      running = await start();
    },
    async close() {
      await stop();
      if (opts.backend === undefined) await backend.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
