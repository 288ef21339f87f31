/** `--reference`: the reference plugin (virtual backend) served on a private temporary socket. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import type { Profile } from '../protocol/constants.js';
import { createReferencePlugin } from '../reference/plugin.js';
import { servePlugin } from '../sdk/index.js';

export interface ReferenceTarget {
  readonly socket: string;
  close(): Promise<void>;
}

export async function startReferenceTarget(opts: { profile?: Profile; backend?: Backend } = {}): Promise<ReferenceTarget> {
  const dir = await mkdtemp(join(tmpdir(), 'cnmkit-ref-'));
  const socket = join(dir, 'cnmkit.sock');
  const plugin = await createReferencePlugin({ backend: opts.backend ?? 'virtual', profile: opts.profile });
  const server = await servePlugin({ driver: plugin.driver, ipam: plugin.ipam, listen: { socket }, profile: opts.profile });
  return {
    socket,
    async close() {
      await server.close();
      await plugin.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
