/**
 * The registration handshake dockerd performs on first use (protocol.md §1.7):
 * Plugin.Activate (v1 only), then per `Implements` entry in order the
 * capability handlers. Failures of individual handlers are collected, not
 * thrown, because dockerd registers what succeeded.
 */
import type { AddressSpacesResponse, IpamCapabilitiesResponse, NetworkCapabilitiesResponse } from '../protocol/messages.js';
import type { MethodKey } from '../protocol/methods.js';
import type { PluginCallError, PluginCaller } from './types.js';

export interface ActivationStepError {
  readonly step: MethodKey;
  /** Why registration (or this step) failed, as dockerd would report it. */
  readonly message: string;
  readonly error?: PluginCallError;
}

export interface Activation {
  /** The manifest's `Implements` (or the managed plugin's types mapped to names). */
  readonly implements: readonly string[];
  /** dockerd would register a network driver under this plugin. */
  readonly networkDriver: boolean;
  /** dockerd would register an IPAM driver under this plugin. */
  readonly ipamDriver: boolean;
  readonly driverCapabilities?: NetworkCapabilitiesResponse;
  /** Absent when IpamDriver.GetCapabilities failed (dockerd then assumes all false). */
  readonly ipamCapabilities?: IpamCapabilitiesResponse;
  readonly addressSpaces?: AddressSpacesResponse;
  readonly errors: readonly ActivationStepError[];
}

export interface ActivateOptions {
  /**
   * Managed (v2) plugin: no Plugin.Activate; `implements` lists the
   * interface types (`docker.networkdriver/1.0`, `docker.ipamdriver/1.0`
   * or the plain names).
   */
  readonly managed?: boolean;
  readonly implements?: readonly string[];
  readonly timeoutMs?: number;
}

const MANAGED_TYPES: Record<string, string> = {
  'docker.networkdriver/1.0': 'NetworkDriver',
  'docker.ipamdriver/1.0': 'IpamDriver',
};

/** Run dockerd's activation against a plugin. Rejects only when Plugin.Activate itself fails. */
export async function activate(caller: PluginCaller, opts: ActivateOptions = {}): Promise<Activation> {
  const callOpts = opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {};
  let names: readonly string[];
  if (opts.managed) {
    names = (opts.implements ?? []).map((t) => MANAGED_TYPES[t] ?? t);
  } else {
    const manifest = await caller.call('Activate', undefined, callOpts);
    names = manifest.Implements ?? [];
  }
  const errors: ActivationStepError[] = [];
  let networkDriver = false;
  let ipamDriver = false;
  let driverCapabilities: NetworkCapabilitiesResponse | undefined;
  let ipamCapabilities: IpamCapabilitiesResponse | undefined;
  let addressSpaces: AddressSpacesResponse | undefined;

  // Entries run in array order; dockerd does not deduplicate them.
  for (const name of names) {
    if (name === 'NetworkDriver') {
      const r = await caller.tryCall('NetworkGetCapabilities', undefined, callOpts);
      if (!r.ok) {
        networkDriver = false;
        errors.push({ step: 'NetworkGetCapabilities', message: r.error.message, error: r.error });
        continue;
      }
      driverCapabilities = r.value;
      const { Scope, ConnectivityScope } = r.value;
      if (Scope !== 'local' && Scope !== 'global') {
        networkDriver = false;
        errors.push({ step: 'NetworkGetCapabilities', message: `invalid capability: expecting 'local' or 'global', got ${JSON.stringify(Scope)}` });
      } else if (ConnectivityScope !== undefined && ConnectivityScope !== '' && ConnectivityScope !== 'local' && ConnectivityScope !== 'global') {
        networkDriver = false;
        errors.push({ step: 'NetworkGetCapabilities', message: `invalid capability: expecting 'local' or 'global', got ${JSON.stringify(ConnectivityScope)}` });
      } else networkDriver = true;
    } else if (name === 'IpamDriver') {
      const caps = await caller.tryCall('IpamGetCapabilities', undefined, callOpts);
      if (caps.ok) ipamCapabilities = caps.value;
      // Tolerated: the IPAM registers with no capabilities.
      else errors.push({ step: 'IpamGetCapabilities', message: caps.error.message, error: caps.error });
      const spaces = await caller.tryCall('GetDefaultAddressSpaces', undefined, callOpts);
      if (spaces.ok) {
        addressSpaces = spaces.value;
        ipamDriver = true;
      } else {
        ipamDriver = false;
        errors.push({ step: 'GetDefaultAddressSpaces', message: spaces.error.message, error: spaces.error });
      }
    }
  }
  return {
    implements: names,
    networkDriver,
    ipamDriver,
    ...(driverCapabilities ? { driverCapabilities } : {}),
    ...(ipamCapabilities ? { ipamCapabilities } : {}),
    ...(addressSpaces ? { addressSpaces } : {}),
    errors,
  };
}
