/**
 * multi.model: generated histories of network create / container start / --ip /
 * container stop / network rm, each step on a random instance (fast-check
 * `fc.commands`, shrunk to the fewest steps), against the cross-instance model.
 * Only the global address space is used: LocalDefault pools are per host.
 */
import fc from 'fast-check';
import type { AsyncCommand } from 'fast-check';
import { Options } from '../../src/protocol/constants.js';
import { type Cidr, contains, formatCidr, formatIp, parseCidrWithAddress } from '../cidr.js';
import { POOL_HINT } from '../ipam/helpers.js';
import { runModelCheck } from '../model-run.js';
import type { Check, CheckContext } from '../types.js';
import { requireGlobalSpaces } from './global-space.js';
import type { Instance } from './instances.js';
import { type ModelPool, MULTI_MODEL_ID, type MultiModel, MultiSystem, newMultiModel } from './model.js';
import { type MultiTargets, SETTLE_MS, SHARED_STORE_HINT, withCluster } from './shared-pool-checks.js';

type MultiCommand = AsyncCommand<MultiModel, MultiSystem>;

/** How long a refusal on another instance is asked again within one step (shorter than SETTLE_MS: shrinking repeats it). */
const MODEL_SETTLE_MS = 500;

const name = (p: ModelPool): string => `pool ${p.poolId} (${formatCidr(p.cidr)}) from instance ${p.owner}`;
const text = (p: ModelPool, a: bigint): string => formatIp(p.cidr.family, a);

/** What one check's executions share: whether any pool was ever granted (else the check skips with the refusal). */
interface Shared {
  granted: boolean;
  refusal: string | null;
}

/** Track and hold an address handed out by `inst`. */
function hold(r: MultiSystem, inst: Instance, p: ModelPool, a: bigint): void {
  p.held.set(a, inst.label);
  p.unknown.delete(a);
  r.resources.trackAddress(inst.caller, p.poolId, text(p, a));
}

/** Read a RequestAddress answer: inside the pool and not held through any instance, or a violation. */
function granted(r: MultiSystem, inst: Instance, p: ModelPool, address: string, what: string): bigint {
  const parsed = parseCidrWithAddress(address);
  if (parsed === null || !contains(p.cidr, parsed.cidr.family, parsed.addr)) r.violate(`instance ${inst.label} answered ${what} on ${name(p)} with ${address}, not an address of that pool; ${SHARED_STORE_HINT}`);
  const a = parsed.addr;
  const by = p.held.get(a);
  if (by !== undefined) r.violate(`instance ${inst.label} handed out ${text(p, a)} (${what}) on ${name(p)}, held through instance ${by}: two containers on different hosts get one address${by === inst.label ? '' : `; ${SHARED_STORE_HINT}`}`);
  return a;
}

/** The `pick`th held address of the `pool`th pool among those holding any (the address a --ip or a stop is about). */
function heldAddress(m: Readonly<MultiModel>, pool: number, pick: number): { p: ModelPool; a: bigint } {
  const withHeld = m.pools.filter((p) => p.held.size > 0);
  const p = withHeld[pool % withHeld.length]!;
  const held = [...p.held.keys()];
  return { p, a: held[pick % held.length]! };
}

/** ReleaseAddress of a held address through `inst` (`why`: what dockerd is doing). */
async function releaseHeld(r: MultiSystem, inst: Instance, p: ModelPool, a: bigint, why: string): Promise<void> {
  const out = await r.call(inst, 'ReleaseAddress', { PoolID: p.poolId, Address: text(p, a) });
  r.steps.push(`${inst.label}: ReleaseAddress ${text(p, a)} (${why}) on ${name(p)} -> ${out.ok ? 'ok' : `refused: ${out.error.message}`}`);
  p.held.delete(a);
  if (out.ok) r.resources.forgetAddress(p.poolId, text(p, a));
  // dockerd only logs a refused release: whether the address is still taken is unknown.
  else p.unknown.add(a);
}

class NewPool implements MultiCommand {
  constructor(
    readonly on: number,
    readonly slot: number,
    readonly shared: Shared,
  ) {}
  check(m: Readonly<MultiModel>): boolean {
    return !m.pools.some((p) => p.slot === this.slot);
  }
  async run(m: MultiModel, r: MultiSystem): Promise<void> {
    const inst = r.instance(this.on);
    const cidr = r.slots[this.slot % r.slots.length]!;
    const req = { AddressSpace: r.spaces.get(inst.label)!, Pool: formatCidr(cidr), SubPool: '', Options: { ...r.ctx.config.ipamOpts }, V6: cidr.family === 6 };
    let out = await r.call(inst, 'RequestPool', req);
    // A subnet released through another instance may take a moment to show (a store's replication).
    for (const until = performance.now() + SETTLE_MS; !out.ok && m.freed.has(this.slot) && performance.now() < until; ) {
      await new Promise((res) => setTimeout(res, 100));
      out = await r.call(inst, 'RequestPool', req);
    }
    if (!out.ok) {
      r.steps.push(`${inst.label}: RequestPool ${formatCidr(cidr)} (docker network create) -> refused: ${out.error.message}`);
      if (m.freed.has(this.slot)) r.violate(`instance ${inst.label} refused RequestPool ${formatCidr(cidr)} for ${SETTLE_MS} ms after that subnet's pool was released ("${out.error.message}"): the subnet is lost for global networks; ${SHARED_STORE_HINT}`);
      this.shared.refusal ??= `RequestPool ${formatCidr(cidr)} in the global space refused on instance ${inst.label} (${out.error.message})`;
      return;
    }
    this.shared.granted = true;
    r.resources.trackPool(inst.caller, out.value.PoolID, req);
    const pool: ModelPool = { slot: this.slot, cidr, poolId: out.value.PoolID, owner: inst.label, held: new Map(), unknown: new Set() };
    m.pools.push(pool);
    m.freed.delete(this.slot);
    r.steps.push(`${inst.label}: RequestPool ${formatCidr(cidr)} (docker network create) -> PoolID ${pool.poolId}`);
    if (typeof out.value.Data?.[Options.Gateway] === 'string' && out.value.Data[Options.Gateway] !== '') return;
    const gw = await r.call(inst, 'RequestAddress', { PoolID: pool.poolId, Address: '', Options: { [Options.RequestAddressType]: Options.Gateway } });
    r.steps.push(`${inst.label}: gateway RequestAddress on ${name(pool)} -> ${gw.ok ? gw.value.Address : `refused: ${gw.error.message}`}`);
    if (gw.ok) hold(r, inst, pool, granted(r, inst, pool, gw.value.Address, 'the gateway RequestAddress'));
  }
  toString(): string {
    return `NewPool(on ${this.on}, slot ${this.slot})`;
  }
}

/** A step on one pool (a container start, the network's removal): possible while any pool is open. */
abstract class OnPool implements MultiCommand {
  constructor(
    readonly on: number,
    readonly pool: number,
  ) {}
  check(m: Readonly<MultiModel>): boolean {
    return m.pools.length > 0;
  }
  abstract run(m: MultiModel, r: MultiSystem): Promise<void>;
}

class StartContainer extends OnPool {
  override async run(m: MultiModel, r: MultiSystem): Promise<void> {
    const inst = r.instance(this.on);
    const p = m.pools[this.pool % m.pools.length]!;
    let out = await r.call(inst, 'RequestAddress', { PoolID: p.poolId, Address: '', Options: null });
    // Another instance's new pool may take a moment to show here (a store's replication): ask again for a short while.
    for (const until = performance.now() + MODEL_SETTLE_MS; !out.ok && inst.label !== p.owner && performance.now() < until; ) {
      await new Promise((res) => setTimeout(res, 50));
      out = await r.call(inst, 'RequestAddress', { PoolID: p.poolId, Address: '', Options: null });
    }
    r.steps.push(`${inst.label}: RequestAddress (docker run) on ${name(p)} -> ${out.ok ? out.value.Address : `refused: ${out.error.message}`}`);
    if (out.ok) return hold(r, inst, p, granted(r, inst, p, out.value.Address, 'RequestAddress'));
    if (inst.label === p.owner) return;
    // Full, or unknown here? Ask the instance that granted the pool: if it still hands out an address, this one should have.
    const owner = r.cluster.instances.find((i) => i.label === p.owner)!;
    const probe = await r.call(owner, 'RequestAddress', { PoolID: p.poolId, Address: '', Options: null });
    r.steps.push(`${owner.label}: RequestAddress on ${name(p)} -> ${probe.ok ? probe.value.Address : `refused: ${probe.error.message}`}`);
    if (!probe.ok) return;
    hold(r, owner, p, granted(r, owner, p, probe.value.Address, 'RequestAddress'));
    r.violate(`instance ${inst.label} refused RequestAddress on ${name(p)} ("${out.error.message}", for ${MODEL_SETTLE_MS} ms) while instance ${p.owner} still hands out its addresses: containers on that host cannot start; ${SHARED_STORE_HINT}`);
  }
  override toString(): string {
    return `StartContainer(on ${this.on}, pool ${this.pool})`;
  }
}

/** A step about one held address (a --ip of it, its container's stop): possible while some pool holds one. */
abstract class OnHeldAddress implements MultiCommand {
  constructor(
    readonly on: number,
    readonly pool: number,
    readonly pick: number,
  ) {}
  check(m: Readonly<MultiModel>): boolean {
    return m.pools.some((p) => p.held.size > 0);
  }
  abstract run(m: MultiModel, r: MultiSystem): Promise<void>;
}

class FixedIpOfHeld extends OnHeldAddress {
  override async run(m: MultiModel, r: MultiSystem): Promise<void> {
    const inst = r.instance(this.on);
    const { p, a } = heldAddress(m, this.pool, this.pick);
    const out = await r.call(inst, 'RequestAddress', { PoolID: p.poolId, Address: text(p, a), Options: null });
    r.steps.push(`${inst.label}: RequestAddress ${text(p, a)} (docker run --ip) on ${name(p)} -> ${out.ok ? out.value.Address : `refused: ${out.error.message}`}`);
    if (out.ok) granted(r, inst, p, out.value.Address, `RequestAddress ${text(p, a)} (preferred)`);
  }
  override toString(): string {
    return `FixedIpOfHeld(on ${this.on}, pool ${this.pool}, address ${this.pick})`;
  }
}

class StopContainer extends OnHeldAddress {
  override async run(m: MultiModel, r: MultiSystem): Promise<void> {
    const inst = r.instance(this.on);
    const { p, a } = heldAddress(m, this.pool, this.pick);
    await releaseHeld(r, inst, p, a, 'container stop');
  }
  override toString(): string {
    return `StopContainer(on ${this.on}, pool ${this.pool}, address ${this.pick})`;
  }
}

class RemoveNetwork extends OnPool {
  override async run(m: MultiModel, r: MultiSystem): Promise<void> {
    const inst = r.instance(this.on);
    const i = this.pool % m.pools.length;
    const p = m.pools[i]!;
    // docker network rm: every address (the gateway last), then the pool, all through this host's instance.
    for (const a of [...p.held.keys()].reverse()) await releaseHeld(r, inst, p, a, 'docker network rm');
    const out = await r.call(inst, 'ReleasePool', { PoolID: p.poolId });
    r.steps.push(`${inst.label}: ReleasePool ${p.poolId} (docker network rm) -> ${out.ok ? 'ok' : `refused: ${out.error.message}`}`);
    if (!out.ok) {
      if (inst.label !== p.owner) r.violate(`instance ${inst.label} refused ReleasePool of ${name(p)} ("${out.error.message}"): docker network rm on that host cannot give the subnet back; ${SHARED_STORE_HINT}`);
      return;
    }
    r.resources.forget('pool', p.poolId);
    m.pools.splice(i, 1);
    // Only when every address was surely released is the subnet surely free again.
    if (p.unknown.size === 0) m.freed.add(p.slot);
  }
  override toString(): string {
    return `RemoveNetwork(on ${this.on}, pool ${this.pool})`;
  }
}

function commands(instances: number, slots: number, maxCommands: number, shared: Shared, replayPath: string | undefined): fc.Arbitrary<Iterable<MultiCommand>> {
  const on = fc.nat(instances - 1);
  const pool = fc.nat(7);
  const pick = fc.nat(31);
  return fc.commands<MultiModel, MultiSystem, false>(
    [
      fc.tuple(on, fc.nat(slots - 1)).map(([o, s]) => new NewPool(o, s, shared)),
      fc.tuple(on, pool).map(([o, p]) => new StartContainer(o, p)),
      fc.tuple(on, pool).map(([o, p]) => new StartContainer(o, p)),
      fc.tuple(on, pool, pick).map(([o, p, k]) => new FixedIpOfHeld(o, p, k)),
      fc.tuple(on, pool, pick).map(([o, p, k]) => new StopContainer(o, p, k)),
      fc.tuple(on, pool).map(([o, p]) => new RemoveNetwork(o, p)),
    ],
    { maxCommands, size: 'max', ...(replayPath !== undefined ? { replayPath } : {}) },
  );
}

export function modelCheck(targets: MultiTargets): Check {
  return {
    id: MULTI_MODEL_ID,
    title: 'Generated histories across instances: pools known everywhere, no address twice, released subnets free everywhere',
    level: 'must',
    reason:
      'protocol.md §4.1-§4.6/§4.9: network create, container start / --ip / stop and network rm happen on any host of a global network, each through its host\'s instance; random histories (shrunk) must never hand out an address held through another instance, refuse a pool another instance granted while it still has addresses, or keep a released subnet taken.',
    requires: ['ipam'],
    async run(ctx: CheckContext) {
      await withCluster(ctx, targets, async (cluster) => {
        const spaces = await requireGlobalSpaces(ctx, cluster);
        const probe = ctx.pools.next();
        // Dual-stack global networks too: IPv6 slots when the plugin took an IPv6 pool at the handshake.
        const slotsOf = (a: typeof probe): Cidr[] => [...a.v4, ...(ctx.capabilities.has('ipv6') ? a.v6 : [])];
        if (slotsOf(probe).length === 0) ctx.skip('no pool to test with (give a --subnet)');
        const shared: Shared = { granted: false, refusal: null };
        const transport = { broken: false };
        let failed: MultiSystem | null = null;
        // Reports name each call's instance: the reproducer sends every call to its own socket.
        const withReproducer: CheckContext = {
          ...ctx,
          fail: (message, ce) => {
            const ev = failed !== null ? cluster.evidence(failed.records) : null;
            return ctx.fail(message, { ...ce, ...(ev?.reproducer !== undefined ? { reproducer: ev.reproducer } : {}) });
          },
        };
        const replay = ctx.config.replay;
        await runModelCheck(withReproducer, {
          commands: commands(cluster.instances.length, slotsOf(probe).length, ctx.config.maxCommands, shared, replay?.commandsReplayPath),
          runs: ctx.config.runs,
          transport,
          generateShare: 0.6,
          newSystem: (timeUp) => new MultiSystem(ctx, cluster, spaces, slotsOf(ctx.pools.next()), transport, timeUp),
          execute: async (sys, cmds) => {
            try {
              await fc.asyncModelRun(() => ({ model: newMultiModel(), real: sys }), cmds);
            } catch (e) {
              failed = sys;
              throw e;
            }
          },
        });
        if (!shared.granted && !replay) ctx.skip(`nothing to judge: ${shared.refusal ?? 'no pool was requested'}; ${POOL_HINT}`);
      });
    },
  };
}
