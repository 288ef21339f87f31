/**
 * The recorded steps of a cross-instance case: every call names the instance
 * that made it, so a failure reads as a story across hosts ("A: RequestPool
 * ...; B: RequestAddress on A's pool -> refused ...") with only its own calls.
 */
import type { CallRecord } from '../../src/client/types.js';
import { Options } from '../../src/protocol/constants.js';
import { type Cidr, contains, formatCidr, formatIp, parseCidrWithAddress } from '../cidr.js';
import type { CheckContext } from '../types.js';
import type { Cluster, Instance } from './instances.js';

/** A pool in the global address space, as requested on one instance. */
export interface GlobalPool {
  readonly poolId: string;
  readonly cidr: Cidr;
  /** The instance that requested it. */
  readonly owner: Instance;
  /** The RequestPool Data carried a gateway (then dockerd makes no gateway request). */
  readonly gatewayInData: boolean;
}

export interface Grant {
  readonly text: string;
  /** Bare address, null when the answer is no CIDR. */
  readonly bare: string | null;
  readonly inPool: boolean;
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export class Story {
  readonly steps: string[] = [];
  readonly records: CallRecord[] = [];

  constructor(
    private readonly ctx: CheckContext,
    private readonly cluster: Cluster,
  ) {}

  private get t(): { timeoutMs: number } {
    return { timeoutMs: this.ctx.config.timeoutMs };
  }

  note(step: string): void {
    this.steps.push(step);
  }

  /** A visibility delay worth telling (not a failure): a note of the check. */
  noteDelay(message: string): void {
    this.ctx.note(message);
  }

  /** RequestPool in the instance's global space (the swarm allocator's request); tracked for cleanup on that instance. */
  async requestPool(inst: Instance, space: string, cidr: Cidr): Promise<Outcome<GlobalPool>> {
    const req = { AddressSpace: space, Pool: formatCidr(cidr), SubPool: '', Options: { ...this.ctx.config.ipamOpts }, V6: cidr.family === 6 };
    const out = await inst.caller.tryCall('RequestPool', req, this.t);
    this.records.push(out.record);
    if (!out.ok) {
      this.steps.push(`${inst.label}: RequestPool ${formatCidr(cidr)} in ${JSON.stringify(space)} -> refused: ${out.error.message}`);
      return { ok: false, error: out.error.message };
    }
    this.ctx.resources.trackPool(inst.caller, out.value.PoolID, req);
    this.steps.push(`${inst.label}: RequestPool ${formatCidr(cidr)} in ${JSON.stringify(space)} -> PoolID ${out.value.PoolID}`);
    const gatewayInData = typeof out.value.Data?.[Options.Gateway] === 'string' && out.value.Data[Options.Gateway] !== '';
    return { ok: true, value: { poolId: out.value.PoolID, cidr, owner: inst, gatewayInData } };
  }

  /** RequestAddress on `inst` with `pool`'s PoolID (possibly another instance's). Granted addresses are tracked for cleanup on `inst`. */
  async requestAddress(inst: Instance, pool: GlobalPool, preferred = '', why = '', gateway = false): Promise<Outcome<Grant>> {
    const options = gateway ? { [Options.RequestAddressType]: Options.Gateway } : null;
    const out = await inst.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: preferred, Options: options }, this.t);
    this.records.push(out.record);
    const what = `${inst.label}: RequestAddress ${preferred === '' ? '(automatic)' : `${preferred} (preferred)`}${gateway ? ' gateway' : ''} on ${pool.owner.label}'s PoolID ${pool.poolId}${why ? ` ${why}` : ''}`;
    if (!out.ok) {
      this.steps.push(`${what} -> refused: ${out.error.message}`);
      return { ok: false, error: out.error.message };
    }
    const parsed = parseCidrWithAddress(out.value.Address);
    const bare = parsed ? formatIp(parsed.cidr.family, parsed.addr) : null;
    const inPool = parsed !== null && contains(pool.cidr, parsed.cidr.family, parsed.addr);
    if (bare !== null) this.ctx.resources.trackAddress(inst.caller, pool.poolId, bare);
    this.steps.push(`${what} -> ${out.value.Address}`);
    return { ok: true, value: { text: out.value.Address, bare, inPool } };
  }

  async releaseAddress(inst: Instance, pool: GlobalPool, address: string, why = ''): Promise<Outcome<null>> {
    const out = await inst.caller.tryCall('ReleaseAddress', { PoolID: pool.poolId, Address: address }, this.t);
    this.records.push(out.record);
    this.steps.push(`${inst.label}: ReleaseAddress ${address} on ${pool.owner.label}'s PoolID ${pool.poolId}${why ? ` ${why}` : ''} -> ${out.ok ? 'ok' : `refused: ${out.error.message}`}`);
    if (out.ok) this.ctx.resources.forgetAddress(pool.poolId, address);
    return out.ok ? { ok: true, value: null } : { ok: false, error: out.error.message };
  }

  async releasePool(inst: Instance, pool: GlobalPool): Promise<Outcome<null>> {
    const out = await inst.caller.tryCall('ReleasePool', { PoolID: pool.poolId }, this.t);
    this.records.push(out.record);
    this.steps.push(`${inst.label}: ReleasePool ${pool.owner.label}'s PoolID ${pool.poolId} (${formatCidr(pool.cidr)}) -> ${out.ok ? 'ok' : `refused: ${out.error.message}`}`);
    if (out.ok) this.ctx.resources.forget('pool', pool.poolId);
    return out.ok ? { ok: true, value: null } : { ok: false, error: out.error.message };
  }

  /** Fail with every step and call of the story so far. */
  fail(message: string): never {
    this.cluster.fail(message, this.steps, this.records);
  }
}

/**
 * Poll `attempt` for up to `ms` (a store may take a moment to show another host's write): the last
 * outcome, and how long the answers stayed refused (0 when the first attempt succeeded).
 */
export async function within<T>(ms: number, attempt: () => Promise<Outcome<T>>): Promise<{ out: Outcome<T>; waitedMs: number }> {
  const start = performance.now();
  for (let tries = 1; ; tries++) {
    const out = await attempt();
    const elapsed = Math.round(performance.now() - start);
    if (out.ok) return { out, waitedMs: tries === 1 ? 0 : elapsed };
    if (elapsed >= ms) return { out, waitedMs: elapsed };
    await new Promise((r) => setTimeout(r, 100));
  }
}
