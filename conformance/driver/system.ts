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
import { type Cidr, formatIp } from '../cidr.js';
import type { Design, PoolAddressing } from './addressing.js';
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

/**
 * `fresh` with `id`'s first k characters and a different (k+1)-th, so the two ids
 * share exactly k: one more by chance (1 in 16) would charge a driver that keys by
 * k+1 characters in a round meant for k, and name the wrong length.
 */
export function sharingExactly(id: string, fresh: string, k: number): string {
  const next = fresh[k];
  if (next === undefined) return id.slice(0, k) + fresh.slice(k);
  const differs = next === id[k] ? (next === '0' ? '1' : '0') : next;
  return id.slice(0, k) + differs + fresh.slice(k + 1);
}

/**
 * The sandbox options dockerd sends with CreateEndpoint, Join and
 * ProgramExternalConnectivity: exposed ports and port mappings are always
 * there (arrays, `[]` without ports); `ports` gives the entries of Appendix B
 * (`-p 8080:80/tcp -p 127.0.0.1:5353:53/udp --expose 9999`).
 */
export function sandboxOptions(ports = false): Record<string, unknown> {
  if (!ports) return { [Options.ExposedPorts]: [], [Options.PortMap]: [] };
  return {
    [Options.ExposedPorts]: [
      { Proto: 6, Port: 9999 },
      { Proto: 6, Port: 80 },
      { Proto: 17, Port: 53 },
    ],
    [Options.PortMap]: [
      { Proto: 6, IP: '', Port: 80, HostIP: '', HostPort: 8080, HostPortEnd: 8080 },
      { Proto: 17, IP: '', Port: 53, HostIP: '127.0.0.1', HostPort: 5353, HostPortEnd: 5353 },
    ],
  };
}

/** CreateEndpoint's Options: the sandbox options, plus `--dns` servers in the port-carrying variant (never null: dockerd always builds the map). */
export function endpointOptions(ports = false): Record<string, unknown> {
  return ports ? { ...sandboxOptions(true), [Options.DnsServers]: ['192.0.2.53'] } : sandboxOptions(false);
}

/** CreateNetwork as dockerd sends it: generic options from --driver-opt, IPv4Data from the IPAM step. */
export function networkRequest(ctx: CheckContext, id: string, v4: PoolAddressing): RequestOf<'CreateNetwork'> {
  return {
    NetworkID: id,
    Options: { [Options.Generic]: { ...ctx.config.driverOpts }, [Options.EnableIPv6]: false },
    IPv4Data: [v4.data],
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
    /** What the design probe learnt: where addresses come from, routed or shared L2. */
    readonly design: Design = { mode: 'default', routed: false, refusedAll: null, notes: [] },
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
