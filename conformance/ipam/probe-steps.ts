/**
 * Small recorded steps for the deterministic blind-spot checks (stale ids, IPv6
 * sizes, pool storms, restart): every call is kept with a one-line step, so a
 * failure shows only the calls that make the case, naming pool CIDR, PoolID,
 * address and call.
 */
import type { CallRecord, PluginCaller } from '../../src/client/types.js';
import type { RequestOf } from '../../src/protocol/methods.js';
import { type Cidr, formatCidr, formatIp, parseCidr, parseCidrWithAddress } from '../cidr.js';
import { summarizeRecord } from '../counterexample.js';
import type { CheckContext, Counterexample } from '../types.js';
import { type OpenPool, poolRequest } from './helpers.js';

export const poolName = (p: OpenPool): string => `${formatCidr(p.cidr)} [PoolID ${p.poolId}]`;

/** What a RequestAddress answered: the bare address and its CIDR, or null parts when it does not parse. */
export interface Granted {
  readonly text: string;
  readonly bare: string | null;
  readonly prefix: number | null;
  /** The address as a number (null when the answer is no CIDR). */
  readonly value: bigint | null;
  readonly family: 4 | 6 | null;
}

/** The steps and calls of one check's case, in order. */
export class Trail {
  readonly steps: string[] = [];
  /** One per step (null for a step that is no call, e.g. a restart). */
  readonly records: (CallRecord | null)[] = [];

  constructor(private readonly ctx: CheckContext) {}

  private get t(): { timeoutMs: number } {
    return { timeoutMs: this.ctx.config.timeoutMs };
  }

  /** A step that is no call (a restart); returns its index. */
  note(step: string): number {
    this.steps.push(step);
    this.records.push(null);
    return this.steps.length - 1;
  }

  /** Index of the last step. */
  get last(): number {
    return this.steps.length - 1;
  }

  /** RequestPool; the granted pool is tracked for cleanup. `cidr` null = automatic. */
  async requestPool(cidr: Cidr | null, extra: Partial<RequestOf<'RequestPool'>> = {}, caller: PluginCaller = this.ctx.caller): Promise<{ pool: OpenPool | null; error: string | null; answered: string; parsed: boolean }> {
    const req = poolRequest(this.ctx, cidr, extra);
    const out = await caller.tryCall('RequestPool', req, this.t);
    this.records.push(out.record);
    const what = cidr ? formatCidr(cidr) : `(automatic${req.V6 ? ', V6' : ''})`;
    if (!out.ok) {
      this.steps.push(`RequestPool ${what} -> refused: ${out.error.message}`);
      return { pool: null, error: out.error.message, answered: '', parsed: false };
    }
    this.ctx.resources.trackPool(this.ctx.caller, out.value.PoolID, req);
    const got = parseCidr(out.value.Pool);
    const pool: OpenPool = { poolId: out.value.PoolID, cidr: got ?? cidr ?? { family: 4, base: 0n, prefix: 0 } };
    this.steps.push(`RequestPool ${what} -> ${out.value.Pool} [PoolID ${out.value.PoolID}]`);
    return { pool, error: null, answered: out.value.Pool, parsed: got !== null };
  }

  async releasePool(pool: OpenPool): Promise<boolean> {
    const out = await this.ctx.caller.tryCall('ReleasePool', { PoolID: pool.poolId }, this.t);
    this.records.push(out.record);
    this.steps.push(`ReleasePool [PoolID ${pool.poolId}] (${formatCidr(pool.cidr)}) -> ${out.ok ? 'ok' : `refused: ${out.error.message}`}`);
    if (out.ok) this.ctx.resources.forget('pool', pool.poolId);
    return out.ok;
  }

  /** RequestAddress (preferred when `address` is given); a grant is tracked for cleanup. */
  async requestAddress(pool: OpenPool, address = '', options: Record<string, string> | null = null, what = ''): Promise<{ granted: Granted | null; error: string | null }> {
    const out = await this.ctx.caller.tryCall('RequestAddress', { PoolID: pool.poolId, Address: address, Options: options }, this.t);
    this.records.push(out.record);
    const label = `RequestAddress ${address === '' ? '(automatic)' : `${address} (preferred)`}${what ? ` ${what}` : ''} on ${poolName(pool)}`;
    if (!out.ok) {
      this.steps.push(`${label} -> refused: ${out.error.message}`);
      return { granted: null, error: out.error.message };
    }
    const parsed = parseCidrWithAddress(out.value.Address);
    const granted: Granted = parsed
      ? { text: out.value.Address, bare: formatIp(parsed.cidr.family, parsed.addr), prefix: parsed.cidr.prefix, value: parsed.addr, family: parsed.cidr.family }
      : { text: out.value.Address, bare: null, prefix: null, value: null, family: null };
    this.ctx.resources.trackAddress(this.ctx.caller, pool.poolId, granted.bare ?? out.value.Address);
    this.steps.push(`${label} -> ${JSON.stringify(out.value.Address)}`);
    return { granted, error: null };
  }

  async releaseAddress(pool: OpenPool, address: string, what = ''): Promise<boolean> {
    const out = await this.ctx.caller.tryCall('ReleaseAddress', { PoolID: pool.poolId, Address: address }, this.t);
    this.records.push(out.record);
    this.steps.push(`ReleaseAddress ${address}${what ? ` ${what}` : ''} on ${poolName(pool)} -> ${out.ok ? 'ok' : `refused: ${out.error.message}`}`);
    if (out.ok) this.ctx.resources.forgetAddress(pool.poolId, address);
    return out.ok;
  }

  /** The counterexample of what happened so far. */
  example(): Partial<Counterexample> {
    return { steps: [...this.steps], calls: this.records.filter((r): r is CallRecord => r !== null).map(summarizeRecord) };
  }

  /** Only the steps (and their calls) at `indices`: the shrunk case. */
  pick(indices: readonly number[]): Partial<Counterexample> {
    const keep = [...new Set(indices)].filter((i) => i >= 0 && i < this.steps.length).sort((a, b) => a - b);
    return { steps: keep.map((i) => this.steps[i]!), calls: keep.map((i) => this.records[i]).filter((r): r is CallRecord => r !== null && r !== undefined).map(summarizeRecord) };
  }

  fail(message: string, only?: readonly number[]): never {
    return this.ctx.fail(message, only ? this.pick(only) : this.example());
  }
}

/** A held pool given back without its addresses (forget every address tracked in it). */
export function forgetAddressesOf(ctx: CheckContext, pool: OpenPool, addresses: Iterable<string>): void {
  for (const a of addresses) ctx.resources.forgetAddress(pool.poolId, a);
}
