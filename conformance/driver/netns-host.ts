/**
 * A namespace that plays a plugin's host for `--netns linux` runs of an
 * embedded plugin (e.g. `cnmkit check --reference --netns linux`): a fresh
 * `cnmt-ref-<hex>` netns with lo up, removed by `close()`. The plugin's links
 * and the checker's traffic then never touch the real host.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CnmkitError } from '../../src/errors.js';

export class NetnsHostError extends CnmkitError {
  constructor(message: string) {
    super('E_NETNS_HOST', message);
  }
}

export interface NetnsHost {
  /** `ip netns` name: give it to createLinuxBackend({ hostNetns }) and as `config.netnsHost`. */
  readonly name: string;
  close(): Promise<void>;
}

function ip(args: readonly string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('ip', [...args], (err, _out, stderr) => resolve(err === null ? null : stderr.trim() || err.message));
  });
}

export async function openNetnsHost(): Promise<NetnsHost> {
  if (process.getuid?.() !== 0) throw new NetnsHostError('--netns linux needs root (it creates network namespaces)');
  const name = `cnmt-ref-${randomBytes(4).toString('hex')}`;
  const err = (await ip(['netns', 'add', name])) ?? (await ip(['-n', name, 'link', 'set', 'lo', 'up']));
  if (err !== null) {
    await ip(['netns', 'del', name]);
    throw new NetnsHostError(`cannot create network namespace ${name}: ${err}`);
  }
  return {
    name,
    async close() {
      await ip(['netns', 'del', name]);
    },
  };
}
