/**
 * `--reference`: the reference plugin served on a private temporary socket, with
 * durable state so that the checker can kill and restart it (the restart checks,
 * and carrying on after a crash). The state lives on a tmpfs when there is one:
 * its journal's syncs then cost nothing.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { VirtualBackend } from '../backend/virtual/index.js';
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
  const start = async (): Promise<{ plugin: ReferencePlugin; server: PluginServer }> => {
    const plugin = await createReferencePlugin({ backend, profile: opts.profile, stateDir });
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
