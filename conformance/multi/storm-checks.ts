/**
 * Storms on every instance at once: containers start on all hosts of a global
 * network at the same time. Over several connections per instance, all
 * instances' RequestAddress calls together must never hand out an address
 * twice, and a mixed allocate/release history across instances must be
 * linearizable (per-address Wing-Gong search, conformance/ipam/linearizability.ts:
 * spec-level, one clock for every instance's calls since the checker makes them all).
 */
import type { CallRecord, PluginCaller } from '../../src/client/types.js';
import { type Cidr, formatCidr, parseCidrWithAddress, formatIp, contains, sizeOf, usableCount } from '../cidr.js';
import { type AddressOp, findNonLinearizable } from '../ipam/linearizability.js';
import type { Check, CheckContext } from '../types.js';
import type { Cluster, Instance } from './instances.js';
import { firstAddressOn, holdGrant, type MultiTargets, notInPoolMessage, poolOfFirst, unknownPoolMessage, withCluster } from './shared-pool-checks.js';
import { type GlobalPool, Story } from './steps.js';

/** A pool big enough for a storm: four adjacent /28 slots (a /26), or the first IPv4 --subnet. */
function stormCidr(ctx: CheckContext): Cidr {
  const arena = ctx.pools.next();
  const first = arena.v4[0];
  if (!first) ctx.skip('no IPv4 pool to test with (give an IPv4 --subnet)');
  return arena.fixed ? first : { family: 4, base: first.base, prefix: first.prefix - 2 };
}

interface Lane {
  readonly inst: Instance;
  readonly conn: PluginCaller;
}

/** `config.concurrency` connections spread over the instances (at least two per instance). */
async function lanes(ctx: CheckContext, cluster: Cluster): Promise<Lane[]> {
  const per = Math.max(2, Math.ceil(ctx.config.concurrency / cluster.instances.length));
  const out: Lane[] = [];
  for (let k = 0; k < per; k++) for (const inst of cluster.instances) out.push({ inst, conn: await inst.connect() });
  return out;
}

interface Timed {
  readonly lane: Lane;
  readonly op: AddressOp | null;
  readonly record: CallRecord;
  readonly error: string | null;
  readonly routed: boolean;
  readonly outside: string | null;
}

async function allocate(ctx: CheckContext, lane: Lane, pool: GlobalPool, ref: number): Promise<Timed> {
  const start = performance.now();
  const out = await lane.conn.tryCall('RequestAddress', { PoolID: pool.poolId, Address: '', Options: null }, { timeoutMs: ctx.config.timeoutMs });
  const end = performance.now();
  if (!out.ok) return { lane, op: null, record: out.record, error: out.error.message, routed: false, outside: null };
  const parsed = parseCidrWithAddress(out.value.Address);
  if (parsed === null || !contains(pool.cidr, parsed.cidr.family, parsed.addr)) return { lane, op: null, record: out.record, error: null, routed: false, outside: out.value.Address };
  const address = formatIp(parsed.cidr.family, parsed.addr);
  // Released through the instance's main connection: storm connections close with the check.
  ctx.resources.trackAddress(lane.inst.caller, pool.poolId, address);
  const routed = parsed.cidr.prefix === (parsed.cidr.family === 4 ? 32 : 128);
  return { lane, op: { kind: 'allocate', address, start, end, ok: true, ref }, record: out.record, error: null, routed, outside: null };
}

async function release(ctx: CheckContext, lane: Lane, pool: GlobalPool, address: string, ref: number): Promise<Timed> {
  const start = performance.now();
  const out = await lane.conn.tryCall('ReleaseAddress', { PoolID: pool.poolId, Address: address }, { timeoutMs: ctx.config.timeoutMs });
  const end = performance.now();
  if (out.ok) ctx.resources.forgetAddress(pool.poolId, address);
  return { lane, op: { kind: 'release', address, start, end, ok: out.ok, ref }, record: out.record, error: out.ok ? null : out.error.message, routed: false, outside: null };
}

/** Before a storm: every other instance has shown it knows the pool (one address each, held from then on). */
async function knownEverywhere(story: Story, cluster: Cluster, pool: GlobalPool, held: Map<string, string>): Promise<void> {
  for (const inst of cluster.instances) {
    if (inst === pool.owner) continue;
    holdGrant(story, inst, pool, await firstAddressOn(story, inst, pool, '(the pool is known here)'), held, `a container address from instance ${inst.label}`);
  }
}

/** A storm's setting: a pool granted by the first instance (with its gateway), known on every instance, and the storm's connections. */
async function openStorm(ctx: CheckContext, cluster: Cluster): Promise<{ story: Story; cidr: Cidr; pool: GlobalPool; held: Map<string, string>; ls: Lane[] }> {
  const { story, cidr, pool, held } = await poolOfFirst(ctx, cluster, stormCidr);
  await knownEverywhere(story, cluster, pool, held);
  return { story, cidr, pool, held, ls: await lanes(ctx, cluster) };
}

/**
 * An instance that refused every request of the storm while the pool never ran out (the other
 * instances together took fewer addresses than were free): the sharing failure, said plainly.
 */
function refusedEverything(cluster: Cluster, story: Story, results: readonly Timed[], pool: GlobalPool, free: number): void {
  if (results.filter((r) => r.op?.kind === 'allocate').length >= free) return;
  for (const inst of cluster.instances) {
    const mine = results.filter((r) => r.lane.inst === inst && r.op?.kind !== 'release');
    if (mine.length > 0 && mine.every((r) => r.error !== null) && results.some((r) => r.op?.kind === 'allocate')) {
      cluster.fail(unknownPoolMessage(inst, pool, mine[0]!.error!), story.steps, [mine[0]!.record]);
    }
  }
}

export function stormNoDuplicateCheck(targets: MultiTargets): Check {
  return {
    id: 'multi.storm-no-duplicate',
    title: 'Parallel RequestAddress storms on every instance at once never hand out an address twice',
    level: 'must',
    reason:
      'protocol.md §1.3/§7.1 item 5: containers start on every host of a global network at once, each host\'s dockerd calling its own instance; one address handed out twice across hosts gives two containers one address.',
    requires: ['ipam'],
    async run(ctx: CheckContext) {
      await withCluster(ctx, targets, async (cluster) => {
        const { story, cidr, pool, held, ls } = await openStorm(ctx, cluster);
        const usable = Number(usableCount(cidr) > 100000n ? 100000n : usableCount(cidr));
        const total = Math.min(ctx.config.stormSize, Math.max(0, usable - held.size) + ls.length * 2);
        story.note(`${total} parallel RequestAddress calls over ${ls.length} connections to ${cluster.instances.length} instances`);
        const results = await Promise.all(Array.from({ length: total }, (_, i) => allocate(ctx, ls[i % ls.length]!, pool, i)));
        refusedEverything(cluster, story, results, pool, usable - held.size);
        const owner = new Map<string, Timed>();
        for (const r of results) {
          if (r.outside !== null) cluster.fail(notInPoolMessage(r.lane.inst, pool, r.outside), story.steps, [r.record]);
          if (!r.op) continue;
          const gw = held.get(r.op.address);
          if (gw !== undefined) cluster.fail(`instance ${r.lane.inst.label} handed out ${r.op.address} of ${formatCidr(cidr)} [PoolID ${pool.poolId}] during a storm on every instance, held as ${gw}: two containers get one address`, story.steps, [r.record]);
          const prev = owner.get(r.op.address);
          if (prev) {
            const where = prev.lane.inst === r.lane.inst ? `twice by instance ${r.lane.inst.label}` : `by instance ${prev.lane.inst.label} and by instance ${r.lane.inst.label}`;
            cluster.fail(`${r.op.address} of ${formatCidr(cidr)} [PoolID ${pool.poolId}] was handed out ${where} during a storm on every instance: two containers get one address`, story.steps, [prev.record, r.record]);
          }
          owner.set(r.op.address, r);
        }
        const limit = results.some((r) => r.routed) ? Number(sizeOf(cidr) > 100000n ? 100000n : sizeOf(cidr)) : usable;
        if (owner.size + held.size > limit) cluster.fail(`${owner.size + held.size} distinct addresses held on ${formatCidr(cidr)} [PoolID ${pool.poolId}] after a storm on every instance, which has ${limit} usable`, story.steps);
      });
    },
  };
}

export function stormLinearizableCheck(targets: MultiTargets): Check {
  return {
    id: 'multi.storm-linearizable',
    title: 'Allocate/release histories across instances are linearizable',
    level: 'must',
    reason:
      'protocol.md §7.1 item 5: containers stop on one host while others start elsewhere; an address may be handed out only when it is free at some instant between request and reply, whichever instance answers.',
    requires: ['ipam'],
    async run(ctx: CheckContext) {
      await withCluster(ctx, targets, async (cluster) => {
        const { story, cidr, pool, held: gateway, ls } = await openStorm(ctx, cluster);
        // A first batch held through every instance, then released through another instance while new requests race on all.
        const firstBatch = Math.min(Number(usableCount(cidr)) - 2 - gateway.size, Math.floor(ctx.config.stormSize / 2), 60);
        const held = new Map<string, Lane>();
        // The first batch is part of the history: an address granted twice there is caught too.
        const first: Timed[] = [];
        for (let i = 0; i < firstBatch; i++) {
          const r = await allocate(ctx, ls[i % ls.length]!, pool, -1);
          first.push(r);
          if (r.op) held.set(r.op.address, r.lane);
          else if (r.error !== null && i < cluster.instances.length) cluster.fail(unknownPoolMessage(r.lane.inst, pool, r.error), story.steps, [r.record]);
        }
        if (held.size === 0) ctx.skip('precondition: no address could be allocated');
        story.note(`held ${held.size} addresses through ${cluster.instances.length} instances; then each is released through another instance while as many RequestAddress calls race on all of them`);
        const tasks: Promise<Timed>[] = [];
        let i = 0;
        for (const [address, lane] of held) {
          const n = cluster.instances.length;
          const idx = ls.indexOf(lane);
          tasks.push(release(ctx, ls[(idx + 1) % ls.length]!, pool, address, i++));
          tasks.push(allocate(ctx, ls[(idx + 2 + (i % n)) % ls.length]!, pool, i++));
        }
        const results = [...first, ...(await Promise.all(tasks))];
        const records: CallRecord[] = [];
        const ops: AddressOp[] = [];
        const who = new Map<number, string>();
        for (const r of results) {
          records.push(r.record);
          if (r.op) {
            ops.push({ ...r.op, ref: records.length - 1 });
            who.set(records.length - 1, r.lane.inst.label);
          }
        }
        // The gateway is held before the history starts and through all of it.
        const bad = findNonLinearizable(ops, new Set(gateway.keys()));
        if (bad) {
          const base = Math.min(...bad.ops.map((o) => o.start));
          cluster.fail(
            `the history of ${bad.address} in ${formatCidr(cidr)} [PoolID ${pool.poolId}] across instances is not linearizable: it was handed out while it cannot have been free`,
            [...story.steps, ...bad.ops.map((o) => `instance ${who.get(o.ref)}: ${o.kind} ${o.address} ${o.ok ? 'ok' : 'error'} [${(o.start - base).toFixed(2)}..${(o.end - base).toFixed(2)} ms]`)],
            bad.ops.map((o) => records[o.ref]!),
          );
        }
      });
    },
  };
}
