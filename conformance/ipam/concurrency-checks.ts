/**
 * Concurrency: dockerd opens several connections and sends calls in parallel
 * (protocol.md §1.3, "concurrent calls may open more connections"). Request
 * storms over many connections must never hand out an address twice, and a
 * mixed allocate/release storm must be linearizable.
 */
import type { CallRecord, PluginCaller } from '../../src/client/types.js';
import { type Cidr, formatCidr, formatIp, parseCidrWithAddress, sizeOf, usableCount } from '../cidr.js';
import { summarizeRecord } from '../counterexample.js';
import type { Check, CheckContext } from '../types.js';
import { openPool, type OpenPool } from './helpers.js';
import { type AddressOp, findNonLinearizable } from './linearizability.js';

/** A pool big enough for a storm: the whole arena (a /26) or the first --subnet. */
function stormCidr(ctx: CheckContext): Cidr {
  const arena = ctx.pools.next();
  const first = arena.v4[0];
  if (!first) ctx.skip('no IPv4 pool to test with');
  if (arena.fixed) return first;
  // Four adjacent /28 slots make one /26.
  return { family: 4, base: first.base, prefix: first.prefix - 2 };
}

/** The storm's pool (requested; a refusal skips) and `--concurrency` extra connections to the plugin. */
async function openStorm(ctx: CheckContext): Promise<{ cidr: Cidr; pool: OpenPool; conns: PluginCaller[] }> {
  const cidr = stormCidr(ctx);
  const pool = await openPool(ctx, cidr);
  const conns: PluginCaller[] = [];
  for (let i = 0; i < ctx.config.concurrency; i++) conns.push(await ctx.connect());
  return { cidr, pool, conns };
}

interface Timed {
  readonly op: AddressOp | null;
  readonly record: CallRecord;
  /** The answer was the address's own /32 (/128): the routed design, where every address of the pool is usable. */
  readonly routed?: boolean;
}

function bare(text: string): string | null {
  const p = parseCidrWithAddress(text);
  return p ? formatIp(p.cidr.family, p.addr) : null;
}

async function allocate(ctx: CheckContext, c: PluginCaller, pool: OpenPool, ref: number): Promise<Timed> {
  const start = performance.now();
  const out = await c.tryCall('RequestAddress', { PoolID: pool.poolId, Address: '', Options: null }, { timeoutMs: ctx.config.timeoutMs });
  const end = performance.now();
  const address = out.ok ? bare(out.value.Address) : null;
  if (address) ctx.resources.trackAddress(c, pool.poolId, address);
  const parsed = out.ok ? parseCidrWithAddress(out.value.Address) : null;
  const routed = parsed !== null && parsed.cidr.prefix === (parsed.cidr.family === 4 ? 32 : 128);
  return { op: address ? { kind: 'allocate', address, start, end, ok: true, ref } : null, record: out.record, routed };
}

async function release(ctx: CheckContext, c: PluginCaller, pool: OpenPool, address: string, ref: number): Promise<Timed> {
  const start = performance.now();
  const out = await c.tryCall('ReleaseAddress', { PoolID: pool.poolId, Address: address }, { timeoutMs: ctx.config.timeoutMs });
  const end = performance.now();
  if (out.ok) ctx.resources.forgetAddress(pool.poolId, address);
  return { op: { kind: 'release', address, start, end, ok: out.ok, ref }, record: out.record };
}

export const concurrentNoDuplicate: Check = {
  id: 'ipam.concurrent-no-duplicate',
  title: 'Parallel RequestAddress storms never hand out an address twice',
  level: 'must',
  reason: 'protocol.md §1.3 and §7.1 item 5 ("expect concurrent calls"): containers started in parallel reach the plugin over several connections; a duplicate address breaks both containers.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const { cidr, pool, conns } = await openStorm(ctx);
    const usable = Number(usableCount(cidr) > 100000n ? 100000n : usableCount(cidr));
    const total = Math.min(ctx.config.stormSize, usable + conns.length * 2);
    const results = await Promise.all(Array.from({ length: total }, (_, i) => allocate(ctx, conns[i % conns.length]!, pool, i)));
    const owner = new Map<string, Timed>();
    for (const r of results) {
      if (!r.op) continue;
      const prev = owner.get(r.op.address);
      if (prev) {
        ctx.fail(`${r.op.address} of ${formatCidr(cidr)} [PoolID ${pool.poolId}] was handed out twice by parallel RequestAddress calls`, {
          steps: [`${total} parallel RequestAddress calls over ${conns.length} connections on ${formatCidr(cidr)}`],
          calls: [summarizeRecord(prev.record), summarizeRecord(r.record)],
        });
      }
      owner.set(r.op.address, r);
    }
    // In the routed design (/32 answers) every address of the pool is usable, network and broadcast included.
    const limit = results.some((r) => r.routed) ? Number(sizeOf(cidr) > 100000n ? 100000n : sizeOf(cidr)) : usable;
    if (owner.size > limit) ctx.fail(`${owner.size} distinct addresses handed out by parallel RequestAddress calls on ${formatCidr(cidr)} [PoolID ${pool.poolId}], which has ${limit} usable`);
  },
};

export const concurrentLinearizable: Check = {
  id: 'ipam.concurrent-linearizable',
  title: 'Parallel allocate/release histories are linearizable',
  level: 'must',
  reason:
    'protocol.md §7.1 item 5: calls arrive concurrently (container start and stop overlap); an address may be handed out only when it is free at some instant between request and reply, or two containers share it.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const { cidr, pool, conns } = await openStorm(ctx);
    // Hold a first batch, then release it while new requests race for the same addresses.
    const firstBatch = Math.min(Number(usableCount(cidr)) - 2, Math.floor(ctx.config.stormSize / 2), 60);
    const records: CallRecord[] = [];
    const ops: AddressOp[] = [];
    const held = new Set<string>();
    for (let i = 0; i < firstBatch; i++) {
      const r = await allocate(ctx, ctx.caller, pool, -1);
      if (r.op) held.add(r.op.address);
    }
    if (held.size === 0) ctx.skip('precondition: no address could be allocated');
    const tasks: Promise<Timed>[] = [];
    let i = 0;
    for (const address of held) {
      const c = conns[i % conns.length]!;
      tasks.push(release(ctx, c, pool, address, i++));
      tasks.push(allocate(ctx, conns[(i + 3) % conns.length]!, pool, i++));
    }
    const results = await Promise.all(tasks);
    for (const r of results) {
      records.push(r.record);
      if (r.op) ops.push({ ...r.op, ref: records.length - 1 });
    }
    const bad = findNonLinearizable(ops, held);
    if (bad) {
      const calls = bad.ops.map((o) => summarizeRecord(records[o.ref]!));
      ctx.fail(`the history of ${bad.address} in ${formatCidr(cidr)} [PoolID ${pool.poolId}] is not linearizable: it was handed out while it cannot have been free`, {
        steps: [
          `allocate ${held.size} addresses, then release them over ${conns.length} connections while as many RequestAddress calls race`,
          ...bad.ops.map((o) => `${o.kind} ${o.address} ${o.ok ? 'ok' : 'error'} [${o.start.toFixed(2)}..${o.end.toFixed(2)} ms]`),
        ],
        calls,
      });
    }
  },
};

export const concurrentPreferredExclusive: Check = {
  id: 'ipam.concurrent-preferred-exclusive',
  title: 'Parallel requests for the same preferred address: at most one wins',
  level: 'must',
  reason:
    'ipam-semantics.md §2.2 step 6 / protocol.md §7.1 item 5: a preferred address (--ip, --gateway) already taken is refused ("Address already in use"); two containers started in parallel with the same --ip must not both get it.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const { cidr, pool, conns } = await openStorm(ctx);
    const usable = Number(usableCount(cidr) > 64n ? 64n : usableCount(cidr));
    const tasks: Promise<{ address: string; ok: boolean; record: CallRecord }>[] = [];
    for (let i = 1; i <= usable; i++) {
      const address = formatIp(cidr.family, cidr.base + BigInt(i));
      for (let k = 0; k < 2; k++) {
        const c = conns[(i * 2 + k) % conns.length]!;
        tasks.push(
          c.tryCall('RequestAddress', { PoolID: pool.poolId, Address: address, Options: null }, { timeoutMs: ctx.config.timeoutMs }).then((out) => {
            const got = out.ok ? bare(out.value.Address) : null;
            if (got) ctx.resources.trackAddress(c, pool.poolId, got);
            // Another address than asked for is ipam.preferred-address-honoured's concern.
            return { address, ok: got === address, record: out.record };
          }),
        );
      }
    }
    const results = await Promise.all(tasks);
    const winners = new Map<string, CallRecord[]>();
    for (const r of results) if (r.ok) winners.set(r.address, [...(winners.get(r.address) ?? []), r.record]);
    for (const [address, records] of winners) {
      if (records.length > 1) {
        ctx.fail(`RequestAddress ${address} (preferred) on ${formatCidr(cidr)} [PoolID ${pool.poolId}] was granted to ${records.length} parallel calls asking for it`, {
          steps: [`RequestPool ${formatCidr(cidr)}`, `2 parallel RequestAddress {Address: ${address}} over different connections`],
          calls: records.map(summarizeRecord),
        });
      }
    }
  },
};
