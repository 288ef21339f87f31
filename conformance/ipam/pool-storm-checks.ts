/**
 * RequestPool storms: dockerd creates networks in parallel (compose up, several
 * clients) over several connections (protocol.md §1.3). Parallel requests, for
 * automatic pools or for the same and overlapping subnets, must never give two
 * networks one pool or overlapping pools that hand out one address twice.
 */
import type { CallRecord, PluginCaller } from '../../src/client/types.js';
import type { RequestOf } from '../../src/protocol/methods.js';
import { type Cidr, formatCidr, overlaps, parseCidr } from '../cidr.js';
import { summarizeRecord } from '../counterexample.js';
import { innerOf, outerOf } from '../pools.js';
import type { Check, CheckContext, Counterexample } from '../types.js';
import { addressThroughBoth, type OpenPool, poolRequest } from './helpers.js';
import { poolName } from './probe-steps.js';

interface Grant {
  readonly pool: OpenPool;
  readonly record: CallRecord;
  readonly asked: string;
  readonly req: RequestOf<'RequestPool'>;
}

interface Verdict {
  readonly message: string;
  readonly example: Partial<Counterexample>;
  /** The two requests that make the case. */
  readonly pair: readonly [RequestOf<'RequestPool'>, RequestOf<'RequestPool'>];
}

const asked = (req: RequestOf<'RequestPool'>): string => (!req.Pool ? `(automatic${req.V6 ? ', V6' : ''})` : req.Pool);

/** Send every request at once, spread over the connections; returns the grants (tracked for cleanup). */
async function storm(ctx: CheckContext, conns: readonly PluginCaller[], reqs: readonly RequestOf<'RequestPool'>[]): Promise<Grant[]> {
  const outs = await Promise.all(reqs.map((req, i) => conns[i % conns.length]!.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs }).then((out) => ({ out, req }))));
  const grants: Grant[] = [];
  for (const { out, req } of outs) {
    if (!out.ok) continue;
    ctx.resources.trackPool(ctx.caller, out.value.PoolID, req);
    const cidr = parseCidr(out.value.Pool);
    // An unparsable Pool is ipam.request-pool-explicit's / ipam.auto-pool's concern.
    if (cidr) grants.push({ pool: { poolId: out.value.PoolID, cidr }, record: out.record, asked: asked(req), req });
  }
  return grants;
}

/** The same requests one after another (the control: what is no race). */
async function sequential(ctx: CheckContext, reqs: readonly RequestOf<'RequestPool'>[]): Promise<Grant[]> {
  const grants: Grant[] = [];
  for (const req of reqs) grants.push(...(await storm(ctx, [ctx.caller], [req])));
  return grants;
}

/** Judge the grants of one storm: overlapping pools that share an address, or one pool given to several requests without a reference count. */
async function judge(ctx: CheckContext, reqs: readonly RequestOf<'RequestPool'>[], conns: number, grants: readonly Grant[]): Promise<Verdict | null> {
  const stormStep = `${reqs.length} parallel RequestPool over ${Math.min(conns, reqs.length)} connections: ${reqs.map(asked).join(', ')}`;
  const grantSteps = (gs: readonly Grant[]): string[] => gs.map((g) => `RequestPool ${g.asked} -> ${poolName(g.pool)}`);
  const t = { timeoutMs: ctx.config.timeoutMs };
  // One PoolID granted to several parallel requests: fine if reference counted (or ReleasePool is a no-op), as
  // docs/ipam.md asks; without a count the first `docker network rm` takes the pool from the other networks.
  const byId = new Map<string, Grant[]>();
  for (const g of grants) byId.set(g.pool.poolId, [...(byId.get(g.pool.poolId) ?? []), g]);
  for (const [id, gs] of byId) {
    if (gs.length < 2) continue;
    // One address taken and given back first: the pool served, and has a free address when probed again.
    const probe = await ctx.caller.tryCall('RequestAddress', { PoolID: id, Address: '', Options: null }, t);
    if (!probe.ok) continue;
    const back = await ctx.caller.tryCall('ReleaseAddress', { PoolID: id, Address: probe.value.Address.split('/')[0]! }, t);
    if (!back.ok) ctx.resources.trackAddress(ctx.caller, id, probe.value.Address.split('/')[0]!);
    const rel = await ctx.caller.tryCall('ReleasePool', { PoolID: id }, t);
    if (!rel.ok) continue;
    ctx.resources.forget('pool', id);
    const still = await ctx.caller.tryCall('RequestAddress', { PoolID: id, Address: '', Options: null }, t);
    if (still.ok) {
      ctx.resources.trackAddress(ctx.caller, id, still.value.Address.split('/')[0]!);
      ctx.note(`${gs.length} parallel RequestPool calls shared ${poolName(gs[0]!.pool)}; it still serves after one ReleasePool (reference counted, or ReleasePool keeps no state)`);
      continue;
    }
    return {
      pair: [gs[0]!.req, gs[1]!.req],
      message: `${gs.length} parallel RequestPool calls (${gs.map((g) => g.asked).join(', ')}) were all granted ${poolName(gs[0]!.pool)}, and after one ReleasePool the pool is gone for the other ${gs.length - 1} (RequestAddress refused: ${still.error.message}): one network's removal takes the pool of the others`,
      example: {
        steps: [stormStep, ...grantSteps(gs.slice(0, 2)), `RequestAddress (automatic) on ${poolName(gs[0]!.pool)} -> ${probe.value.Address}`, `ReleaseAddress ${probe.value.Address.split('/')[0]!} -> ${back.ok ? 'ok' : 'refused'}`, `ReleasePool [PoolID ${id}] -> ok`, `RequestAddress (automatic) on ${poolName(gs[0]!.pool)} -> refused`],
        calls: [...gs.slice(0, 2).map((g) => summarizeRecord(g.record)), ...[probe.record, back.record, rel.record, still.record].map(summarizeRecord)],
      },
    };
  }
  // Distinct pools that overlap: only a real duplicate address is a violation (per-address allocators grant them).
  // One pair per shape (same subnet, inner, outer) is probed: in a race every pair of one shape is alike.
  const shapes = new Set<string>();
  const accepted: string[] = [];
  for (let i = 0; i < grants.length; i++) {
    for (let j = i + 1; j < grants.length; j++) {
      const a = grants[i]!;
      const b = grants[j]!;
      if (a.pool.poolId === b.pool.poolId || !overlaps(a.pool.cidr, b.pool.cidr)) continue;
      const shape = [formatCidr(a.pool.cidr), formatCidr(b.pool.cidr)].sort().join(' ');
      if (shapes.has(shape)) continue;
      shapes.add(shape);
      const from = ctx.records.length;
      const twice = await addressThroughBoth(ctx, a.pool, b.pool, null);
      if (twice === null) {
        accepted.push(`${poolName(a.pool)} and ${poolName(b.pool)}`);
        continue;
      }
      return {
        pair: [a.req, b.req],
        message: `parallel RequestPool ${a.asked} and ${b.asked} granted the overlapping pools ${poolName(a.pool)} and ${poolName(b.pool)}, and ${twice}: two networks share an address`,
        example: { steps: [stormStep, ...grantSteps([a, b]), twice], calls: [summarizeRecord(a.record), summarizeRecord(b.record), ...ctx.records.slice(from).map(summarizeRecord)] },
      };
    }
  }
  if (accepted.length > 0) ctx.note(`parallel RequestPool granted overlapping pools (${accepted.join('; ')}); no address came out through both (per-address allocation)`);
  return null;
}

/** The explicit storm: copies of a subnet, its inner half and the subnet around it, all at once. */
function explicitRequests(ctx: CheckContext, s: Cidr, copies: number): RequestOf<'RequestPool'>[] {
  const reqs: RequestOf<'RequestPool'>[] = [];
  for (let i = 0; i < copies; i++) reqs.push(poolRequest(ctx, s));
  for (const c of [innerOf(s), outerOf(s)]) if (c) for (let i = 0; i < 2; i++) reqs.push(poolRequest(ctx, c));
  return reqs;
}

export const concurrentPoolRequests: Check = {
  id: 'ipam.concurrent-pool-requests',
  title: 'Parallel RequestPool storms never grant one pool twice or overlapping pools that share an address',
  level: 'must',
  reason:
    'protocol.md §1.3/§7.1 item 5: networks are created in parallel over several connections; an IPAM whose overlap test and insert are not atomic grants the same or overlapping subnets to two networks, which then hand out the same addresses (ipam-semantics.md §1.4). Refusals, one pool shared with a reference count (libnetwork docs/ipam.md), and overlapping pools that never share an address (per-address allocators) are accepted. Shrunk to the fewest parallel requests that still show it.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const conns: PluginCaller[] = [];
    for (let i = 0; i < Math.max(2, ctx.config.concurrency); i++) conns.push(await ctx.connect());
    const n = Math.max(2, Math.min(ctx.config.concurrency, 6));
    let found: { verdict: Verdict; kind: 'explicit' | 'auto' } | null = null;
    const explicit = ctx.pools.next().v4[0];
    if (explicit) {
      const reqs = explicitRequests(ctx, explicit, n);
      const v = await judge(ctx, reqs, conns.length, await storm(ctx, conns, reqs));
      if (v) found = { verdict: v, kind: 'explicit' };
    }
    if (!found) {
      await ctx.resources.cleanup();
      const reqs = Array.from({ length: Math.max(2, Math.min(ctx.config.stormSize, 12)) }, () => poolRequest(ctx, null));
      const v = await judge(ctx, reqs, conns.length, await storm(ctx, conns, reqs));
      if (v) found = { verdict: v, kind: 'auto' };
    }
    if (!found) return;
    // Control: the same two requests one after another. What happens without concurrency is no race
    // (ipam.identical-pool-request / ipam.overlapping-pool-refused / ipam.auto-pool judge it).
    const [ra, rb] = found.verdict.pair;
    await ctx.resources.cleanup();
    const control = await judge(ctx, [ra, rb], 1, await sequential(ctx, [ra, { ...rb }]));
    if (control !== null) {
      ctx.note(`the same happens with the two requests one after another (${control.message}): not a race; left to the sequential checks`);
      return;
    }
    // Shrink: the two requests of the case in parallel, on fresh state, a few tries (a race need not show every time).
    for (let attempt = 0; attempt < 3; attempt++) {
      await ctx.resources.cleanup();
      const reqs = [ra, { ...rb }];
      const v = await judge(ctx, reqs, 2, await storm(ctx, conns.slice(0, 2), reqs));
      if (v) ctx.fail(v.message, v.example);
    }
    ctx.fail(found.verdict.message, found.verdict.example);
  },
};
