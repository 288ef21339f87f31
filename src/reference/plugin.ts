/**
 * The reference plugin: the reference network driver and the reference IPAM
 * wired together on one backend, with optional durable state. What
 * `cnmkit serve`, `cnmkit check --reference` and `cnmkit simulate` run.
 */
import { join } from 'node:path';
import { HOST_NAMESPACE, type Backend } from '../backend/backend.js';
import { VirtualBackend } from '../backend/virtual/index.js';
import { createFileStateStore, openReferenceDriver, type DriverStateStore, type ReferenceDriver } from '../driver/index.js';
import { createIpam, type AddressPoolSpec, type ReferenceIpam } from '../ipam/index.js';
import type { Profile } from '../protocol/constants.js';
import type { Scope } from '../protocol/messages.js';
import type { Firewall } from '../backend/firewall.js';
import { RecordingFirewall } from '../backend/virtual/recording-firewall.js';
import { canRemoveOwned, sweepUnknownLinks } from './forwarding.js';

export type BackendKind = 'virtual' | 'linux';

export interface ReferencePluginOptions {
  /** `virtual` (default, in memory, no root) or `linux` (the real kernel), or a ready Backend. */
  backend?: BackendKind | Backend;
  /** Durable state directory (IPAM journal under `ipam/`, driver state under `driver/`). */
  stateDir?: string;
  /** Where the driver keeps its state instead of `stateDir/driver` (e.g. one that outlives an in-process restart). */
  driverStore?: DriverStateStore;
  defaultAddressPools?: readonly AddressPoolSpec[];
  profile?: Profile;
  /** Forwarding rules for the networks; default: iptables with `linux`, a recording one otherwise. */
  firewall?: Firewall;
  /** The driver's Scope (default `local`); `global`: swarm networks, AllocateNetwork hands out segment ids. */
  scope?: Scope;
}

export interface ReferencePlugin {
  readonly driver: ReferenceDriver;
  readonly ipam: ReferenceIpam;
  readonly backend: Backend;
  readonly firewall: Firewall;
  close(): Promise<void>;
}

async function makeFirewall(opts: ReferencePluginOptions): Promise<Firewall> {
  if (opts.firewall !== undefined) return opts.firewall;
  if (opts.backend !== 'linux') return new RecordingFirewall();
  const { createIptablesFirewall } = await import('../backend/linux/index.js');
  return createIptablesFirewall();
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
    const firewall = await makeFirewall(opts);
    // Without durable state nothing of an earlier (crashed) run can be adopted: sweep it.
    const sweep = opts.stateDir === undefined && opts.backend === 'linux' && canRemoveOwned(backend);
    if (sweep) {
      await (backend as Backend & { removeOwned(): Promise<unknown> }).removeOwned();
      await firewall.removeAll();
    }
    const driver = await openReferenceDriver({
      backend,
      profile: opts.profile,
      ...(opts.scope !== undefined ? { scope: opts.scope } : {}),
      // Forwarding rules follow the networks: added with the bridge, removed with it, resynced at start.
      firewall,
      store: opts.driverStore ?? (opts.stateDir === undefined ? undefined : createFileStateStore(join(opts.stateDir, 'driver'))),
    });
    // With --state: adopt what the state knows, remove what a crashed run left unrecorded.
    if (opts.stateDir !== undefined && opts.backend === 'linux') await sweepUnknownLinks(driver, backend, HOST_NAMESPACE);
    const b = backend;
    return {
      driver,
      ipam,
      backend: b,
      firewall,
      async close() {
        await ipam.close();
        // Without --state the next start could not adopt anything: leave nothing behind.
        if (sweep) {
          await (b as Backend & { removeOwned(): Promise<unknown> }).removeOwned().catch(() => undefined);
          await firewall.removeAll().catch(() => undefined);
        } else if ((await firewall.listNetworks().catch(() => [1])).length === 0) {
          // No network left: drop the (empty) owned chain and its jump too.
          await firewall.removeAll().catch(() => undefined);
        }
        await firewall.close();
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
