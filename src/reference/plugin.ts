/**
 * The reference plugin: the reference network driver and the reference IPAM
 * wired together on one backend, with optional durable state. What
 * `cnmkit serve`, `cnmkit check --reference` and `cnmkit simulate` run.
 */
import { join } from 'node:path';
import { createIpam, type AddressPoolSpec, type ReferenceIpam } from '../ipam/index.js';
import type { IpamApi, NetworkDriverApi } from '../protocol/api.js';
import type { Profile } from '../protocol/constants.js';

export type BackendKind = 'virtual' | 'linux';

export interface ReferencePluginOptions {
  backend?: BackendKind;
  /** Durable state directory (IPAM journal under `ipam/`, driver state under `driver/`). */
  stateDir?: string;
  defaultAddressPools?: readonly AddressPoolSpec[];
  profile?: Profile;
}

export interface ReferencePlugin {
  readonly driver: NetworkDriverApi | undefined;
  readonly ipam: ReferenceIpam & IpamApi;
  close(): Promise<void>;
}

export async function createReferencePlugin(opts: ReferencePluginOptions = {}): Promise<ReferencePlugin> {
  const ipam = createIpam({
    profile: opts.profile,
    defaultAddressPools: opts.defaultAddressPools,
    // The issue asks for explicit pools in any non-empty address space (20.10 refuses them).
    customAddressSpaces: true,
    stateDir: opts.stateDir === undefined ? undefined : join(opts.stateDir, 'ipam'),
  });
  return {
    driver: undefined,
    ipam,
    async close() {
      await ipam.close();
    },
  };
}
