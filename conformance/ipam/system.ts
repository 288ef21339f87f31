/**
 * The "real" side of the model run: the plugin behind a PluginCaller, plus
 * what one execution needs (its arena of pools, the calls it made, the
 * focused check). Commands report every broken invariant through `violate`;
 * only the focused check's invariant stops the run, the others are tolerated
 * so that each check fails for its own reason only.
 */
import type { CallOutcome, PluginCaller } from '../../src/client/types.js';
import type { MethodKey, RequestOf, ResponseOf } from '../../src/protocol/methods.js';
import { type Cidr, type Family, contains, formatCidr, formatIp, isReserved as isReservedAddress, parseCidrWithAddress } from '../cidr.js';
import { summarizeRecord } from '../counterexample.js';
import { Violation } from '../errors.js';
import type { Arena } from '../pools.js';
import { Resources } from '../resources.js';
import type { CallSummary, CheckContext } from '../types.js';
import { IpamIds, type IpamModelId } from './ids.js';
import { type ModelPool, describePool } from './model.js';

/** What the executions of one check share. */
export interface RunShared {
  /** How often each model invariant was really evaluated. */
  readonly tally: Map<string, number>;
  /**
   * Whether the plugin ever granted an explicit pool. Until it does, a refused
   * explicit RequestPool is a design (a plugin that serves only automatic or
   * configured pools), recorded here, not a violation.
   */
  explicitGranted: boolean;
  explicitRefusal: string | null;
}

export function newRunShared(): RunShared {
  return { tally: new Map(), explicitGranted: false, explicitRefusal: null };
}
import { OutOfTime } from '../model-run.js';

export class IpamSystem {
  readonly calls: CallSummary[] = [];
  readonly steps: string[] = [];
  readonly slots: readonly Cidr[];
  readonly resources: Resources;

  constructor(
    readonly ctx: CheckContext,
    readonly arena: Arena,
    readonly focus: string,
    /** Set once a call times out or the connection fails: later runs stop at once (no shrinking against a dead plugin). */
    readonly transport: { broken: boolean } = { broken: false },
    /** True once the check's time is up: the next call throws OutOfTime (the run counts as passed). */
    readonly timeUp: () => boolean = () => false,
    readonly caller: PluginCaller = ctx.caller,
    /** Shared by the executions of one check: a check whose invariant was never evaluated is skipped, not passed. */
    readonly shared: RunShared = newRunShared(),
  ) {
    this.slots = [...arena.v4, ...(ctx.capabilities.has('ipv6') ? arena.v6 : [])];
    this.resources = new Resources(ctx.check.id, ctx.config.timeoutMs);
  }

  slot(index: number): { cidr: Cidr; key: number } {
    const key = index % this.slots.length;
    return { cidr: this.slots[key]!, key };
  }

  /** One plugin call with the per-call timeout; transport failures stop the run. */
  async call<K extends MethodKey>(key: K, req: RequestOf<K>): Promise<CallOutcome<ResponseOf<K>>> {
    if (this.ctx.signal.aborted) throw new Error('check budget spent');
    if (this.timeUp()) throw new OutOfTime();
    const out = await this.caller.tryCall(key, req, { timeoutMs: this.ctx.config.timeoutMs });
    this.calls.push(summarizeRecord(out.record));
    if (!out.ok && (out.error.kind === 'timeout' || out.error.kind === 'transport-error' || out.error.kind === 'decode-error')) {
      if (out.error.kind !== 'decode-error') this.transport.broken = true;
      throw new Violation(`${out.record.path}: ${out.error.message}`, this.focus);
    }
    return out;
  }

  /** Report a broken invariant; stops the run only when it is the focused one. */
  violate(id: IpamModelId, message: string): void {
    if (id === this.focus) throw new Violation(message, id);
  }

  /** The invariant `id` was evaluated once (whatever the verdict). */
  checked(id: IpamModelId): void {
    this.shared.tally.set(id, (this.shared.tally.get(id) ?? 0) + 1);
  }

  /** RequestPool as dockerd sends it for a local network: `--subnet` (null = automatic), `--ip-range`, `--ipam-opt`. */
  poolRequest(cidr: Cidr | null, sub: Cidr | null, v6 = cidr?.family === 6): RequestOf<'RequestPool'> {
    return {
      AddressSpace: this.ctx.addressSpaces.local,
      Pool: cidr ? formatCidr(cidr) : '',
      SubPool: sub ? formatCidr(sub) : '',
      Options: { ...this.ctx.config.ipamOpts },
      V6: v6,
    };
  }

  /**
   * Check an address the plugin handed out for `call` (e.g. `RequestAddress
   * 10.199.0.5 (preferred)`). Returns its value when it can be tracked
   * (parsable, inside the pool), else null. An answer with the full prefix
   * length (/32, /128) is the routed design's (Calico): the address is its own
   * network, so no network/broadcast reservation applies to it.
   */
  checkAddress(pool: ModelPool, text: string, how: 'auto' | 'gateway' | 'preferred', asked = ''): bigint | null {
    const call = `RequestAddress${asked ? ` ${asked}` : ''} (${how}) on ${describePool(pool)}`;
    const parsed = parseCidrWithAddress(text);
    this.checked(IpamIds.cidrReply);
    if (!parsed) {
      this.violate(IpamIds.cidrReply, `${call} returned ${JSON.stringify(text)}, not a CIDR (dockerd fails with "invalid CIDR address")`);
      return null;
    }
    const family: Family = parsed.cidr.family;
    const addr = parsed.addr;
    const shown = formatIp(family, addr);
    this.checked(IpamIds.inPool);
    if (!contains(pool.cidr, family, addr)) {
      this.violate(IpamIds.inPool, `${call} returned ${text}, outside the pool ${formatCidr(pool.cidr)}`);
      return null;
    }
    const full = family === 4 ? 32 : 128;
    const routedAnswer = parsed.cidr.prefix === full && pool.cidr.prefix !== full;
    this.checked(IpamIds.prefixLength);
    if (routedAnswer) {
      if (!pool.routed) this.ctx.note(`${call} returned ${text}: one /${full} per address (routed design, e.g. Calico); judged by that design's rules (no network/broadcast reservation)`);
      pool.routed = true;
    } else if (parsed.cidr.prefix !== pool.cidr.prefix) {
      this.violate(
        IpamIds.prefixLength,
        `${call} returned ${text}; the prefix length should be the pool's /${pool.cidr.prefix} (or /${full}, an address of its own in the routed design): the container gets this netmask`,
      );
    }
    this.checked(family === 4 ? IpamIds.noNetworkBroadcast : IpamIds.v6Anycast);
    if (!routedAnswer && isReservedAddress(pool.cidr, addr)) {
      if (family === 4) this.violate(IpamIds.noNetworkBroadcast, `${call} handed out ${text}, the ${addr === pool.cidr.base ? 'network' : 'broadcast'} address of ${formatCidr(pool.cidr)} (with the pool's prefix length)`);
      else this.violate(IpamIds.v6Anycast, `${call} handed out ${text}, the subnet-router anycast address of ${formatCidr(pool.cidr)}`);
    }
    if (how === 'auto' && pool.sub) {
      this.checked(IpamIds.inSubPool);
      if (!contains(pool.sub, family, addr)) this.violate(IpamIds.inSubPool, `${call} returned ${shown}, outside the sub-pool ${formatCidr(pool.sub)}`);
    }
    this.checked(IpamIds.noDuplicate);
    if (pool.held.has(addr)) {
      this.violate(IpamIds.noDuplicate, `${call} handed out ${shown} a second time while it is still allocated in that pool`);
    }
    return addr;
  }

  /** Record an address as handed out (model + cleanup). */
  hold(pool: ModelPool, addr: bigint): void {
    pool.held.add(addr);
    pool.released.delete(addr);
    pool.unknown.delete(addr);
    this.resources.trackAddress(this.caller, pool.poolId, formatIp(pool.cidr.family, addr));
  }

  async cleanup(): Promise<void> {
    await this.resources.cleanup();
  }
}
