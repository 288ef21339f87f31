/**
 * `--plugin NAME[:TAG]` for a managed (v2) plugin: dockerd dials it at
 * /run/docker/plugins/<id>/<Interface.Socket> (protocol.md §1.2) and never sends
 * it Plugin.Activate. `docker plugin inspect` says where it listens; a restart
 * is `docker plugin disable -f` + `docker plugin enable`, as an operator does it.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { managedPluginSocket } from '../client/index.js';
import { CnmkitError } from '../errors.js';

export class ManagedPluginError extends CnmkitError {
  constructor(message: string) {
    super('E_MANAGED_PLUGIN', message);
  }
}

export interface ManagedPlugin {
  readonly name: string;
  readonly socket: string;
  readonly enabled: boolean;
  restart(): Promise<void>;
}

function docker(args: readonly string[], timeoutMs = 60_000): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile('docker', [...args], { timeout: timeoutMs }, (err, stdout, stderr) => resolve({ ok: err === null, out: (err === null ? stdout : `${stderr}${stdout}`).trim() }));
  });
}

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ path });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

/** The managed plugin of that name, or null when docker knows none (no docker, or not a managed plugin). */
export async function findManagedPlugin(name: string): Promise<ManagedPlugin | null> {
  const got = await docker(['plugin', 'inspect', '--format', '{{.Id}}|{{.Config.Interface.Socket}}|{{.Enabled}}', name], 15_000);
  if (!got.ok) return null;
  const [id, socketName, enabled] = got.out.split('|');
  if (!id || !socketName) return null;
  const socket = managedPluginSocket(id, socketName);
  return {
    name,
    socket,
    enabled: enabled === 'true',
    async restart() {
      const off = await docker(['plugin', 'disable', '-f', name]);
      if (!off.ok) throw new ManagedPluginError(`docker plugin disable -f ${name}: ${off.out}`);
      const on = await docker(['plugin', 'enable', name]);
      if (!on.ok) throw new ManagedPluginError(`docker plugin enable ${name}: ${on.out}`);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (await accepts(socket)) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new ManagedPluginError(`${name} was enabled again but ${socket} did not accept connections within 30 s`);
    },
  };
}
