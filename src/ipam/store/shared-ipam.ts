/**
 * `openSharedIpam`: the reference IPAM with some address spaces (GlobalDefault,
 * optionally LocalDefault) kept in etcd, shared by every instance on the same
 * store and key prefix. Calls for other spaces go to the local reference IPAM
 * untouched (same speed, same state directory).
 */
import type { IpamApi } from '../../protocol/api.js';
import { GLOBAL_DEFAULT, LOCAL_DEFAULT } from '../../protocol/constants.js';
import type * as m from '../../protocol/messages.js';
import { IpamErrors, type IpamProfile } from '../errors.js';
import type { AddressPoolSpec } from '../predefined.js';
import { openEtcdStore } from './etcd.js';
import type { KvTxnStore } from './kv.js';
import { newInstanceId, SharedSpace } from './shared-space.js';

export interface SharedIpamOptions {
  /** `etcd://HOST:PORT[,HOST:PORT...]`, or a ready store. */
  store: string | KvTxnStore;
  /** Key prefix in etcd (default `/cnmkit/ipam/`): instances with the same store and prefix are one IPAM. */
  prefix?: string;
  /** The local reference IPAM answering every other space (and capabilities). */
  local: IpamApi & { close(): Promise<void> };
  /** Keep LocalDefault in the store too (default: only GlobalDefault). */
  localDefaultInStore?: boolean;
  profile?: IpamProfile;
  defaultAddressPools?: readonly AddressPoolSpec[];
  globalAddressPools?: readonly AddressPoolSpec[];
  customAddressSpaces?: boolean;
  /** A store call not confirmed within this many ms fails with {"Err"} (default 10000; dockerd's v2 plugin timeout is 30 s). */
  timeoutMs?: number;
}

export interface SharedIpam extends IpamApi {
  /** Spaces kept in the store. */
  readonly sharedSpaces: readonly string[];
  /** One linearizable read from the store within `timeoutMs`; rejects with StoreError when etcd does not answer. */
  probe(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export function openSharedIpam(opts: SharedIpamOptions): SharedIpam {
  return new Shared(opts);
}

class Shared implements SharedIpam {
  private readonly store: KvTxnStore;
  private readonly spaces = new Map<string, SharedSpace>();
  private readonly local: IpamApi & { close(): Promise<void> };
  private readonly errors: IpamErrors;
  readonly sharedSpaces: readonly string[];

  constructor(opts: SharedIpamOptions) {
    this.store = typeof opts.store === 'string' ? openEtcdStore(opts.store, { prefix: opts.prefix }) : opts.store;
    this.local = opts.local;
    const profile = opts.profile ?? 'docker-20.10';
    this.errors = new IpamErrors(profile);
    const names = opts.localDefaultInStore === true ? [GLOBAL_DEFAULT, LOCAL_DEFAULT] : [GLOBAL_DEFAULT];
    const instanceId = newInstanceId();
    for (const space of names) {
      this.spaces.set(
        space,
        new SharedSpace(this.store, space, {
          profile,
          defaultAddressPools: opts.defaultAddressPools,
          globalAddressPools: opts.globalAddressPools,
          customAddressSpaces: opts.customAddressSpaces,
          instanceId,
          deadlineMs: opts.timeoutMs ?? 10_000,
        }),
      );
    }
    this.sharedSpaces = names;
  }

  getCapabilities(ctx: Parameters<NonNullable<IpamApi['getCapabilities']>>[0]): ReturnType<NonNullable<IpamApi['getCapabilities']>> {
    return this.local.getCapabilities?.(ctx) ?? { RequiresMACAddress: false, RequiresRequestReplay: false };
  }

  getDefaultAddressSpaces(): m.AddressSpacesResponse {
    return { LocalDefaultAddressSpace: LOCAL_DEFAULT, GlobalDefaultAddressSpace: GLOBAL_DEFAULT };
  }

  requestPool(req: m.RequestPoolRequest, ctx: Parameters<IpamApi['requestPool']>[1]): ReturnType<IpamApi['requestPool']> {
    const s = this.spaces.get(req.AddressSpace);
    return s === undefined ? this.local.requestPool(req, ctx) : s.requestPool(req);
  }

  releasePool(req: m.PoolIdRequest, ctx: Parameters<IpamApi['releasePool']>[1]): ReturnType<IpamApi['releasePool']> {
    const s = this.spaceOf(req.PoolID);
    return s === undefined ? this.local.releasePool(req, ctx) : s.releasePool(req);
  }

  requestAddress(req: m.RequestAddressRequest, ctx: Parameters<IpamApi['requestAddress']>[1]): ReturnType<IpamApi['requestAddress']> {
    const s = this.spaceOf(req.PoolID);
    if (s === undefined) return this.local.requestAddress(req, ctx);
    const { masterId, child } = this.split(req.PoolID);
    return s.requestAddress(req, masterId, child);
  }

  releaseAddress(req: m.ReleaseAddressRequest, ctx: Parameters<IpamApi['releaseAddress']>[1]): ReturnType<IpamApi['releaseAddress']> {
    const s = this.spaceOf(req.PoolID);
    if (s === undefined) return this.local.releaseAddress(req, ctx);
    const { masterId, child } = this.split(req.PoolID);
    return s.releaseAddress(req, masterId, child);
  }

  /** The shared space a pool ID names (text before the first '/'), or undefined for a local one. */
  private spaceOf(id: string): SharedSpace | undefined {
    const i = id.indexOf('/');
    return i < 0 ? undefined : this.spaces.get(id.slice(0, i));
  }

  /** `<space>/<addr>/<len>[/<addr>/<len>]`: the master's ID and the sub-pool as given; other shapes are invalid (as in the reference). */
  private split(id: string): { masterId: string; child: string } {
    const parts = id.split('/');
    if (parts.length !== 3 && parts.length !== 5) throw this.errors.invalidPoolId(id);
    return { masterId: parts.slice(0, 3).join('/'), child: parts.length === 5 ? `${parts[3]}/${parts[4]}` : '' };
  }

  async probe(timeoutMs: number): Promise<void> {
    await this.store.get([`space/${GLOBAL_DEFAULT}`], Date.now() + timeoutMs);
  }

  async close(): Promise<void> {
    for (const s of this.spaces.values()) s.close();
    await this.store.close();
    await this.local.close();
  }
}
