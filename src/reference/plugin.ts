/**
 * The reference plugin: the reference network driver and the reference IPAM
 * wired together on one backend, with optional durable state. What
 * `cnmkit serve`, `cnmkit check --reference` and `cnmkit simulate` run.
 */
import { join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { VirtualBackend } from '../backend/virtual/index.js';
import { createFileStateStore, openReferenceDriver, type ReferenceDriver } from '../driver/index.js';
import { createIpam, type AddressPoolSpec, type ReferenceIpam } from '../ipam/index.js';
import type { Profile } from '../protocol/constants.js';

export type BackendKind = 'virtual' | 'linux';

export interface ReferencePluginOptions {
  /** `virtual` (default, in memory, no root) or `linux` (the real kernel), or a ready Backend. */
  backend?: BackendKind | Backend;
  /** Durable state directory (IPAM journal under `ipam/`, driver state under `driver/`). */
  stateDir?: string;
  defaultAddressPools?: readonly AddressPoolSpec[];
  profile?: Profile;
}

export interface ReferencePlugin {
  readonly driver: ReferenceDriver;
  readonly ipam: ReferenceIpam;
  readonly backend: Backend;
  close(): Promise<void>;
}

async function makeBackend(kind: BackendKind | Backend | undefined): Promise<Backend> {
  if (kind === undefined || kind === 'virtual') return new VirtualBackend();
  if (kind === 'linux') {
    // Loaded lazily: only `--backend linux` needs iproute2 and root.
    const { createLinuxBackend } = await import('../backend/linux/index.js');
    return createLinuxBackend();
  }
  return kind;
}

export async function createReferencePlugin(opts: ReferencePluginOptions = {}): Promise<ReferencePlugin> {
  const ipam = createIpam({
    profile: opts.profile,
    defaultAddressPools: opts.defaultAddressPools,
    // The issue asks for explicit pools in any non-empty address space (20.10 refuses them).
    customAddressSpaces: true,
    stateDir: opts.stateDir === undefined ? undefined : join(opts.stateDir, 'ipam'),
  });
  let backend: Backend | undefined;
  try {
    backend = await makeBackend(opts.backend);
    const driver = await openReferenceDriver({
      backend,
      profile: opts.profile,
      store: opts.stateDir === undefined ? undefined : createFileStateStore(join(opts.stateDir, 'driver')),
    });
    const b = backend;
    return {
      driver,
      ipam,
      backend: b,
      async close() {
        await ipam.close();
        // A caller-supplied backend stays open: its owner closes it.
        if (typeof opts.backend !== 'object') await b.close();
      },
    };
  } catch (e) {
    await ipam.close();
    if (backend !== undefined && typeof opts.backend !== 'object') await backend.close();
    throw e;
  }
}
