/**
 * Everything a check creates in the plugin is registered here and released in
 * LIFO order afterwards (csi-sanity's Resources). A failed release that is not
 * a "not found" and a pool that cannot be requested again after its release
 * end up in the leak report: what the plugin still holds after cleanup.
 */
import type { PluginCaller } from '../src/client/types.js';
import type { RequestOf } from '../src/protocol/methods.js';
import type { Leak } from './types.js';

interface Tracked {
  readonly kind: string;
  readonly id: string;
  release(): Promise<string | null>;
  /** Resolves with a reason when the plugin still holds the resource after release. */
  probe?(): Promise<string | null>;
}

/** Error texts that mean "already gone": tolerated during cleanup. */
const NOT_FOUND = /not\s*found|unknown|no such|does not (exist|contain)|cannot find|not exist|doesn't exist|invalid pool|not allocated|already released/i;

/** The RequestPool that created a pool (re-sent to probe for leaks). */
export type PoolRequestEcho = RequestOf<'RequestPool'>;

export class Resources {
  private readonly items: Tracked[] = [];

  constructor(
    private readonly checkId: string,
    private readonly timeoutMs: number,
  ) {}

  get size(): number {
    return this.items.length;
  }

  /** Register any resource with its release action (returns an untrack function). */
  add(item: Tracked): () => void {
    this.items.push(item);
    return () => this.forget(item.kind, item.id);
  }

  forget(kind: string, id: string): void {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i]!;
      if (it.kind === kind && it.id === id) {
        this.items.splice(i, 1);
        return;
      }
    }
  }

  has(kind: string, id: string): boolean {
    return this.items.some((it) => it.kind === kind && it.id === id);
  }

  trackPool(caller: PluginCaller, poolId: string, request: PoolRequestEcho): void {
    const timeoutMs = this.timeoutMs;
    this.add({
      kind: 'pool',
      id: poolId,
      release: async () => errorText(await caller.tryCall('ReleasePool', { PoolID: poolId }, { timeoutMs })),
      probe: request.Pool
        ? async () => {
            const again = await caller.tryCall('RequestPool', { ...request }, { timeoutMs });
            if (!again.ok) return `pool ${request.Pool} cannot be requested again after ReleasePool: ${again.error.message}`;
            await caller.tryCall('ReleasePool', { PoolID: again.value.PoolID }, { timeoutMs });
            return null;
          }
        : undefined,
    });
  }

  trackAddress(caller: PluginCaller, poolId: string, address: string): void {
    const timeoutMs = this.timeoutMs;
    this.add({
      kind: 'address',
      id: `${poolId} ${address}`,
      release: async () => errorText(await caller.tryCall('ReleaseAddress', { PoolID: poolId, Address: address }, { timeoutMs })),
    });
  }

  forgetAddress(poolId: string, address: string): void {
    this.forget('address', `${poolId} ${address}`);
  }

  trackNetwork(caller: PluginCaller, networkId: string): void {
    const timeoutMs = this.timeoutMs;
    this.add({ kind: 'network', id: networkId, release: async () => errorText(await caller.tryCall('DeleteNetwork', { NetworkID: networkId }, { timeoutMs })) });
  }

  trackEndpoint(caller: PluginCaller, networkId: string, endpointId: string): void {
    const timeoutMs = this.timeoutMs;
    this.add({
      kind: 'endpoint',
      id: endpointId,
      release: async () => errorText(await caller.tryCall('DeleteEndpoint', { NetworkID: networkId, EndpointID: endpointId }, { timeoutMs })),
    });
  }

  /**
   * Release everything, newest first. With `probe`, released pools are
   * requested again to find pools the plugin never freed.
   */
  async cleanup(opts: { probe?: boolean } = {}): Promise<Leak[]> {
    const leaks: Leak[] = [];
    const released: Tracked[] = [];
    while (this.items.length > 0) {
      const it = this.items.pop()!;
      let err: string | null;
      try {
        err = await it.release();
      } catch (e) {
        err = e instanceof Error ? e.message : String(e);
      }
      if (err !== null && !NOT_FOUND.test(err)) {
        leaks.push({ kind: it.kind, id: it.id, check: this.checkId, detail: `release failed: ${err}` });
      } else {
        released.push(it);
      }
    }
    if (opts.probe) {
      for (const it of released) {
        if (!it.probe) continue;
        const reason = await it.probe().catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
        if (reason !== null) leaks.push({ kind: it.kind, id: it.id, check: this.checkId, detail: reason });
      }
    }
    return leaks;
  }
}

function errorText(outcome: { ok: true } | { ok: false; error: { message: string } }): string | null {
  return outcome.ok ? null : outcome.error.message;
}
