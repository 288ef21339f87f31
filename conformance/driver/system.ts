/**
 * The "real" side of a driver model run: the plugin behind a PluginCaller,
 * the calls one execution made, the focused check, and the requests dockerd
 * would send. Commands report every broken rule through `violate`; only the
 * focused check's rule stops the run (the model then follows what the plugin
 * really did), so each check fails for its own reason only.
 */
import { createHash } from 'node:crypto';
import type { CallOutcome, PluginCaller } from '../../src/client/types.js';
import { Options } from '../../src/protocol/constants.js';
import type { MethodKey, RequestOf, ResponseOf } from '../../src/protocol/methods.js';
import { type Cidr, formatCidr, formatIp } from '../cidr.js';
import { summarizeRecord } from '../counterexample.js';
import { Violation } from '../errors.js';
import type { Arena } from '../pools.js';
import { Resources } from '../resources.js';
import type { CallSummary, CheckContext } from '../types.js';
import { DriverIds, type DriverModelId } from './ids.js';
import type { ModelEndpoint, ModelNetwork } from './model.js';
import { OutOfTime } from '../model-run.js';

/** Deterministic 64-hex ids (dockerd's network and endpoint ids), from the check seed. */
export class IdSource {
  private n = 0;
  constructor(private readonly seed: number) {}
  next(kind: string): string {
    return createHash('sha256').update(`${this.seed}:${kind}:${this.n++}`).digest('hex');
  }
}

/** The sandbox options dockerd sends with CreateEndpoint and Join (no ports). */
export function sandboxOptions(): Record<string, unknown> {
  return { [Options.ExposedPorts]: [], [Options.PortMap]: [] };
}

export function networkRequest(ctx: CheckContext, id: string, pool: Cidr, gateway: string): RequestOf<'CreateNetwork'> {
  return {
    NetworkID: id,
    Options: { [Options.Generic]: { ...ctx.config.driverOpts }, [Options.EnableIPv6]: false },
    IPv4Data: [{ AddressSpace: ctx.addressSpaces.local, Gateway: `${gateway}/${pool.prefix}`, Pool: formatCidr(pool) }],
    IPv6Data: [],
  };
}

export class DriverSystem {
  readonly calls: CallSummary[] = [];
  readonly steps: string[] = [];
  readonly resources: Resources;
  private macCounter = 0;

  constructor(
    readonly ctx: CheckContext,
    readonly arena: Arena,
    readonly focus: string,
    readonly ids: IdSource,
    /** Set once the plugin stops answering: later runs stop at once (no shrinking against a dead plugin). */
    readonly transport: { broken: boolean } = { broken: false },
    /** True once the check's time is up: the next call throws OutOfTime (the run counts as passed). */
    readonly timeUp: () => boolean = () => false,
    readonly caller: PluginCaller = ctx.caller,
  ) {
    this.resources = new Resources(ctx.check.id, ctx.config.timeoutMs);
  }

  get slots(): number {
    return this.arena.v4.length;
  }

  pool(slot: number): Cidr {
    return this.arena.v4[slot % this.arena.v4.length]!;
  }

  hostAddress(pool: Cidr, offset: number): string {
    return formatIp(4, pool.base + BigInt(offset));
  }

  /** A locally administered unicast MAC, different for every call (what `--mac-address` would give). */
  nextMac(): string {
    const n = this.macCounter++;
    const seed = (this.ctx.seed >>> 0) & 0xffff;
    const bytes = [0x02, 0xcc, (seed >> 8) & 0xff, seed & 0xff, (n >> 8) & 0xff, n & 0xff];
    return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
  }

  /**
   * One plugin call with the per-call timeout. A failed connection that the
   * plugin survives (Go's net/http closes the connection of a panicking
   * handler) is returned as a failed call; a plugin that stops answering
   * altogether stops the run.
   */
  async call<K extends MethodKey>(key: K, req: RequestOf<K>): Promise<CallOutcome<ResponseOf<K>>> {
    if (this.ctx.signal.aborted) throw new Error('check budget spent');
    if (this.timeUp()) throw new OutOfTime();
    const out = await this.caller.tryCall(key, req, { timeoutMs: this.ctx.config.timeoutMs });
    this.calls.push(summarizeRecord(out.record));
    if (!out.ok && (out.error.kind === 'timeout' || out.error.kind === 'transport-error')) {
      const alive = await this.ctx.raw.send({ path: '/Plugin.Activate' });
      if (alive.kind !== 'reply') {
        this.transport.broken = true;
        throw new Violation(`${out.record.path}: ${out.error.message} (and the plugin stopped answering)`, this.focus);
      }
    }
    return out;
  }

  /** Report a broken rule; stops the run only when it is the focused one. */
  violate(id: DriverModelId, message: string): void {
    if (id === this.focus) throw new Violation(message, id);
  }

  /** A valid call was refused: the plugin breaks the corresponding docker command. */
  refused(what: string, out: { ok: false; error: { message: string } }): void {
    this.violate(DriverIds.accepted, `${what} was refused: ${out.error.message}`);
  }

  trackNetwork(net: ModelNetwork): void {
    this.resources.trackNetwork(this.caller, net.id);
  }

  trackEndpoint(net: ModelNetwork, ep: ModelEndpoint): void {
    this.resources.trackEndpoint(this.caller, net.id, ep.id);
  }

  trackJoin(net: ModelNetwork, ep: ModelEndpoint): void {
    const timeoutMs = this.ctx.config.timeoutMs;
    this.resources.add({
      kind: 'join',
      id: ep.id,
      release: async () => {
        const r = await this.caller.tryCall('Leave', { NetworkID: net.id, EndpointID: ep.id }, { timeoutMs });
        return r.ok ? null : r.error.message;
      },
    });
  }

  async cleanup(): Promise<void> {
    await this.resources.cleanup();
  }
}
