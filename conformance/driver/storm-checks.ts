/**
 * Driver concurrency beyond parallel container starts:
 * - driver.concurrent-networks: several `docker network create` at once
 *   (compose creates a project's networks in parallel), each with its own
 *   pool and its own `com.docker.network.generic` map; every network must
 *   keep its own data (a driver keeping the request in a shared variable
 *   across an await gives one network another's gateway or options);
 * - driver.interleaved-join-leave: a container starting (Join) while another
 *   stops (Leave) on the same network; names handed out must stay unique.
 * Failures are shrunk to the fewest networks / steps that still show them.
 */
import type { PluginCaller } from '../../src/client/types.js';
import { Options } from '../../src/protocol/constants.js';
import type { ResponseOf } from '../../src/protocol/methods.js';
import { type Cidr, contains, parseIp } from '../cidr.js';
import { summarizeRecord } from '../counterexample.js';
import type { CallSummary, Check, CheckContext } from '../types.js';
import { type Design, type PoolAddressing, allocatePool, ctxPort, releasePool, requireDesign, trackNetwork } from './addressing.js';
import { type OpenEndpoint, type OpenNetwork, closeNetwork, join, openEndpoint, openNetwork, teardown } from './helpers.js';
import { gatewayProblem, subnetOf } from './rules.js';
import { IdSource } from './system.js';

interface Attempt {
  readonly problem: string | null;
  readonly steps: string[];
  readonly calls: CallSummary[];
}

/** Runs `body` while recording every call of `callers` (the counterexample's calls). */
async function recorded(callers: readonly PluginCaller[], body: (steps: string[]) => Promise<string | null>): Promise<Attempt> {
  const calls: CallSummary[] = [];
  const steps: string[] = [];
  const stop = callers.map((c) => c.onCall((r) => calls.push(summarizeRecord(r))));
  try {
    const problem = await body(steps);
    return { problem, steps, calls };
  } finally {
    for (const s of stop) s();
  }
}

async function connections(ctx: CheckContext, n: number): Promise<PluginCaller[]> {
  const callers: PluginCaller[] = [ctx.caller];
  for (let i = 1; i < n; i++) callers.push(await ctx.connect());
  return callers;
}

const short = (id: string): string => id.slice(0, 12);

// ---------------------------------------------------------------------------------------------
// driver.concurrent-networks

interface StormNet {
  readonly net: OpenNetwork;
  readonly caller: PluginCaller;
  readonly conn: number;
  readonly marker: string | null;
}

/** The generic options of the i-th network: the user's --driver-opt plus, when the driver takes it, a marker of its own. */
function genericOf(ctx: CheckContext, marker: string | null): Record<string, string> {
  return marker === null ? { ...ctx.config.driverOpts } : { ...ctx.config.driverOpts, 'cnmkit.network': marker };
}

function createRequest(ctx: CheckContext, id: string, p: PoolAddressing, marker: string | null): { NetworkID: string; Options: Record<string, unknown>; IPv4Data: PoolAddressing['data'][]; IPv6Data: [] } {
  return { NetworkID: id, Options: { [Options.Generic]: genericOf(ctx, marker), [Options.EnableIPv6]: false }, IPv4Data: [p.data], IPv6Data: [] };
}

/** One sequential network create with a marker option: does the driver take an option it does not know? */
async function takesMarker(ctx: CheckContext, design: Design, ids: IdSource): Promise<boolean> {
  const slot = ctx.pools.next().v4[0]!;
  const port = ctxPort(ctx);
  const p = await allocatePool(port, design.mode, slot);
  if (typeof p === 'string') ctx.skip(`precondition: ${p}`);
  const id = ids.next('marker-net');
  const out = await port.call('CreateNetwork', createRequest(ctx, id, p, 'probe'));
  if (!out.ok) {
    await releasePool(port, p);
    ctx.note(`the driver refused an unknown --driver-opt (cnmkit.network=probe: ${out.error.message}); the parallel networks get the same options, only their pools differ`);
    return false;
  }
  trackNetwork(port, id, p);
  await closeNetwork(ctx, { id, pool: p.pool, gateway: p.gateway, ids, addressing: p, design });
  return true;
}

/** The network of the storm (other than `own`) whose pool holds `value` while `own`'s does not. */
function ownerOf(nets: readonly StormNet[], own: StormNet, family: 4 | 6, value: bigint): StormNet | null {
  if (contains(own.net.pool, family, value)) return null;
  return nets.find((n) => n !== own && n.net.pool.family === family && contains(n.net.pool, family, value)) ?? null;
}

function describeNet(s: StormNet): string {
  return `network ${short(s.net.id)} (${s.net.addressing.label}${s.net.gateway !== null ? `, gateway ${s.net.gateway}` : ''}${s.marker !== null ? `, --opt cnmkit.network=${s.marker}` : ''})`;
}

/**
 * `width` networks created at once (each on its own connection), while the
 * `previous` round's networks are removed at the same time (one compose
 * project goes down while another comes up); then one container per network,
 * all at once. With `keep` the networks stay for the next round to remove.
 */
async function networkStorm(ctx: CheckContext, design: Design, callers: readonly PluginCaller[], width: number, markers: boolean, ids: IdSource, round: number, previous: readonly StormNet[], keep: boolean): Promise<Attempt & { alive: StormNet[] }> {
  let alive: StormNet[] = [];
  const a = await recorded(callers, async (steps) => {
    const slots: Cidr[] = [...ctx.pools.next().v4].slice(0, width);
    // The IPAM half of each `docker network create`, each on its own connection.
    const pools = await Promise.all(slots.map((slot, i) => allocatePool(ctxPort(ctx, callers[i % callers.length]!), design.mode, slot)));
    const refusedPool = pools.find((p): p is string => typeof p === 'string');
    if (refusedPool !== undefined) {
      for (const [i, p] of pools.entries()) if (typeof p !== 'string') await releasePool(ctxPort(ctx, callers[i % callers.length]!), p);
      ctx.skip(`precondition: ${refusedPool}`);
    }
    const planned = (pools as PoolAddressing[]).map((p, i) => ({ p, i, id: ids.next('storm-net'), marker: markers ? `net-${round}-${i}` : null }));
    const [created, removed] = await Promise.all([
      Promise.all(
        planned.map(async ({ p, i, id, marker }) => {
          const caller = callers[i % callers.length]!;
          const out = await caller.tryCall('CreateNetwork', createRequest(ctx, id, p, marker), { timeoutMs: ctx.config.timeoutMs });
          return { p, i, id, marker, caller, out };
        }),
      ),
      Promise.all(previous.map((s) => closeNetwork(ctx, s.net, s.caller))),
    ]);
    let problem: string | null = null;
    if (previous.length > 0) steps.push(`${previous.length} x DeleteNetwork of the previous round's networks, in parallel with the creates below:`);
    for (const [i, d] of removed.entries()) {
      const s = previous[i]!;
      steps.push(`  DeleteNetwork ${short(s.net.id)} [connection ${s.conn}] -> ${d === null ? 'ok' : `refused: ${d}`}`);
      if (d !== null) problem ??= `DeleteNetwork of ${describeNet(s)} (no endpoints), sent while ${width} other networks were being created, was refused: ${d}`;
    }
    steps.push(`${width} x CreateNetwork in parallel over ${Math.min(width, callers.length)} connections:`);
    const nets: StormNet[] = [];
    for (const c of created) {
      const net: OpenNetwork = { id: c.id, pool: c.p.pool, gateway: c.p.gateway, ids, addressing: c.p, design };
      const s: StormNet = { net, caller: c.caller, conn: c.i % callers.length, marker: c.marker };
      steps.push(`  CreateNetwork ${describeNet(s)} [connection ${s.conn}] -> ${c.out.ok ? 'ok' : `refused: ${c.out.error.message}`}`);
      if (!c.out.ok) {
        await releasePool(ctxPort(ctx, c.caller), c.p);
        problem ??= `CreateNetwork of ${describeNet(s)}, sent in parallel with ${width - 1} other network creates, was refused: ${c.out.error.message}`;
        continue;
      }
      trackNetwork(ctxPort(ctx, c.caller), c.id, c.p);
      nets.push(s);
    }
    // One container per network, all at once: each Join answers from its own network's data.
    const started = await Promise.all(
      nets.map(async (s) => {
        const ep = await openEndpoint(ctx, s.net, 2, s.caller);
        if (typeof ep === 'string') return { s, ep, reply: null, info: null };
        const reply = await join(ctx, s.net, ep, s.caller);
        const info = typeof reply === 'string' ? null : await s.caller.tryCall('EndpointOperInfo', { NetworkID: s.net.id, EndpointID: ep.id }, { timeoutMs: ctx.config.timeoutMs });
        return { s, ep, reply, info };
      }),
    );
    steps.push(`then on each network at once: CreateEndpoint + Join + EndpointOperInfo:`);
    for (const { s, ep, reply, info } of started) {
      if (typeof ep === 'string') {
        steps.push(`  CreateEndpoint on ${short(s.net.id)} -> refused: ${ep}`);
        problem ??= `CreateEndpoint on ${describeNet(s)}, created in parallel with ${width - 1} others, was refused: ${ep}`;
        continue;
      }
      if (typeof reply === 'string' || reply === null) {
        steps.push(`  CreateEndpoint ${short(ep.id)} (${ep.address || 'no address'}) on ${short(s.net.id)}, Join -> refused: ${reply ?? ''}`);
        problem ??= `Join of endpoint ${short(ep.id)} on ${describeNet(s)}, created in parallel with ${width - 1} others, was refused: ${reply ?? ''}`;
        continue;
      }
      steps.push(`  CreateEndpoint ${short(ep.id)} (${ep.address || 'no address'}) on ${short(s.net.id)}, Join -> Gateway ${reply.Gateway || '(none)'}${reply.InterfaceName?.SrcName ? `, SrcName ${reply.InterfaceName.SrcName}` : ''}`);
      problem ??= judgeStormJoin(nets, s, ep, reply, info !== null && info.ok ? info.value : null);
    }
    // Undo everything as dockerd would (containers stop, networks are removed), in parallel again.
    await Promise.all(started.map(({ s, ep }) => (typeof ep === 'string' ? null : teardown(ctx, s.net, ep, s.caller))));
    if (keep && problem === null) {
      alive = nets;
      return problem;
    }
    const dels = await Promise.all(nets.map((s) => closeNetwork(ctx, s.net, s.caller)));
    for (const [i, d] of dels.entries()) if (d !== null) steps.push(`  DeleteNetwork ${short(nets[i]!.net.id)} -> refused: ${d}`);
    return problem;
  });
  return { ...a, alive };
}

/** Another network's gateway or options in this network's replies: the driver mixed the networks up. */
function judgeStormJoin(nets: readonly StormNet[], s: StormNet, ep: OpenEndpoint, reply: ResponseOf<'Join'>, info: unknown): string | null {
  const who = `Join of endpoint ${short(ep.id)} (${ep.address || 'no address'}) on ${describeNet(s)}`;
  const gw = reply.Gateway ? parseIp(reply.Gateway) : null;
  if (gw !== null && gw.family === 4) {
    const own = ep.address.split('/')[0] ?? '';
    // Only a gateway the container cannot use AND that is another storm network's is this check's finding.
    if (gatewayProblem(reply.Gateway!, subnetOf(ep.address), own, reply.StaticRoutes, 4) !== null) {
      const other = ownerOf(nets, s, 4, gw.value);
      if (other !== null) return `${who} answered Gateway ${reply.Gateway}, which belongs to ${describeNet(other)} created at the same time: the driver gave this network another network's data (state shared between parallel CreateNetwork calls?); containers on it get an unreachable gateway`;
    }
  }
  for (const other of nets) {
    if (other === s || other.marker === null || s.marker === null) continue;
    const text = `${JSON.stringify(reply)} ${JSON.stringify(info ?? {})}`;
    if (text.includes(`"${other.marker}"`) && !text.includes(`"${s.marker}"`)) {
      return `${who} (or its EndpointOperInfo) carries the option value ${JSON.stringify(other.marker)} of ${describeNet(other)} instead of its own ${JSON.stringify(s.marker)}: the driver mixed the per-network options up`;
    }
  }
  return null;
}

export const concurrentNetworks: Check = {
  id: 'driver.concurrent-networks',
  title: 'Networks created in parallel keep their own data',
  level: 'must',
  reason:
    "protocol.md §1.3/§2.2 (CreateNetwork, DeleteNetwork): dockerd runs `docker network create`/`rm` commands in parallel (compose brings a project's networks up or down at once) over several connections, each with its own IPv4Data and com.docker.network.generic map; every parallel create and delete must be answered, and every network must keep its own pool, gateway and options (a driver storing the request in a shared variable across an await gives containers another network's gateway: container start fails). Routed designs whose networks share one pool are judged by their options only.",
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const design = await requireDesign(ctx);
    if (ctx.pools.next().v4.length < 2) ctx.skip('needs at least two IPv4 pools (give two IPv4 --subnet)');
    const callers = await connections(ctx, Math.max(2, Math.min(ctx.config.concurrency, 4)));
    const ids = new IdSource(ctx.seed ^ 0x0c0c);
    const markers = await takesMarker(ctx, design, ids);
    const width = Math.min(4, ctx.pools.next().v4.length);
    // Fresh pools every round (unless --subnet fixed them): a round's networks are removed while the next round's are created.
    const overlap = ctx.pools.next().fixed === true;
    let failing: { n: number; a: Attempt } | null = null;
    let alive: StormNet[] = [];
    const rounds = 3;
    for (let round = 0; round < rounds && failing === null; round++) {
      const a = await networkStorm(ctx, design, callers, width, markers, ids, round, alive, !overlap && round < rounds - 1);
      alive = a.alive;
      if (a.problem !== null) failing = { n: width, a };
    }
    await Promise.all(alive.map((s) => closeNetwork(ctx, s.net, s.caller)));
    if (failing === null) return;
    // Shrink: the fewest parallel networks that still show it (a few tries each: races are not deterministic).
    for (let n = 2; n < failing.n; n++) {
      let found: Attempt | null = null;
      for (let t = 0; t < 5 && found === null; t++) {
        const a = await networkStorm(ctx, design, callers, n, markers, ids, 10 + t, [], false);
        if (a.problem !== null) found = a;
      }
      if (found !== null) {
        failing = { n, a: found };
        break;
      }
    }
    const { n, a } = failing;
    ctx.fail(`${a.problem} (${n} networks created in parallel)`, { steps: a.steps, calls: a.calls, seed: ctx.seed });
  },
};

// ---------------------------------------------------------------------------------------------
// driver.interleaved-join-leave

interface Joined {
  readonly ep: OpenEndpoint;
  readonly src: string;
}

/** Two joined endpoints with one SrcName, as a sentence, or null. */
function clash(joined: readonly Joined[]): string | null {
  const seen = new Map<string, Joined>();
  for (const j of joined) {
    if (j.src === '') continue;
    const other = seen.get(j.src);
    if (other !== undefined) return `endpoints ${short(other.ep.id)} (${other.ep.address || 'no address'}) and ${short(j.ep.id)} (${j.ep.address || 'no address'}) are both joined with SrcName ${j.src}: two sandboxes cannot get one host link (the second container start fails)`;
    seen.set(j.src, j);
  }
  return null;
}

interface Shape {
  readonly base: number;
  readonly pairs: number;
  readonly after: number;
}

/**
 * `base` containers start; then `pairs` times a container starts (Join, on
 * connection 0) while the newest (then the oldest) running one stops (Leave, on connection 1);
 * then `after` more containers start one by one. Every joined endpoint must
 * keep a SrcName of its own.
 */
async function interleave(ctx: CheckContext, net: OpenNetwork, callers: readonly PluginCaller[], shape: Shape): Promise<Attempt> {
  return recorded(callers, async (steps) => {
    const joined: Joined[] = [];
    const made: OpenEndpoint[] = [];
    const t = { timeoutMs: ctx.config.timeoutMs };
    const start = async (label: string): Promise<string | null> => {
      const ep = await openEndpoint(ctx, net, 2 + made.length, callers[0]);
      if (typeof ep === 'string') {
        steps.push(`${label}: CreateEndpoint on ${short(net.id)} -> refused: ${ep}`);
        return `CreateEndpoint on network ${short(net.id)} (${net.addressing.label}) was refused: ${ep}`;
      }
      made.push(ep);
      const r = await join(ctx, net, ep, callers[0]);
      if (typeof r === 'string') {
        steps.push(`${label}: CreateEndpoint ${short(ep.id)} (${ep.address || 'no address'}) + Join -> refused: ${r}`);
        return `Join of endpoint ${short(ep.id)} was refused: ${r}`;
      }
      const src = r.InterfaceName?.SrcName ?? '';
      joined.push({ ep, src });
      steps.push(`${label}: CreateEndpoint ${short(ep.id)} (${ep.address || 'no address'}) + Join -> SrcName ${src || '(none)'}`);
      return clash(joined);
    };
    let problem: string | null = null;
    try {
      for (let i = 0; i < shape.base && problem === null; i++) problem = await start(`start ${i + 1}`);
      for (let p = 0; p < shape.pairs && problem === null; p++) {
        // The newest running container stops, then the oldest: both orders of names handed back.
        const victim = p % 2 === 0 ? joined.pop() : joined.shift();
        if (victim === undefined) break;
        const ep = await openEndpoint(ctx, net, 2 + made.length, callers[0]);
        if (typeof ep === 'string') {
          problem = `CreateEndpoint on network ${short(net.id)} (${net.addressing.label}) was refused: ${ep}`;
          break;
        }
        made.push(ep);
        const [jr, lr] = await Promise.all([join(ctx, net, ep, callers[0]), callers[1]!.tryCall('Leave', { NetworkID: net.id, EndpointID: victim.ep.id }, t)]);
        victim.ep.joined = false;
        ctx.resources.forget('join', victim.ep.id);
        const d = await teardown(ctx, net, victim.ep, callers[1]);
        const src = typeof jr === 'string' ? '' : (jr.InterfaceName?.SrcName ?? '');
        steps.push(
          `in parallel: Join ${short(ep.id)} (${ep.address || 'no address'}) [connection 0] -> ${typeof jr === 'string' ? `refused: ${jr}` : `SrcName ${src || '(none)'}`} || Leave ${short(victim.ep.id)} (SrcName ${victim.src || '(none)'}) [connection 1] -> ${lr.ok ? 'ok' : `refused: ${lr.error.message}`}; then DeleteEndpoint ${short(victim.ep.id)}${d !== null ? ` -> ${d}` : ''}`,
        );
        if (typeof jr === 'string') {
          problem = `Join of endpoint ${short(ep.id)}, sent while endpoint ${short(victim.ep.id)} left the same network, was refused: ${jr}`;
          break;
        }
        joined.push({ ep, src });
        problem = clash(joined);
      }
      for (let i = 0; i < shape.after && problem === null; i++) problem = await start(`start ${shape.base + shape.pairs + i + 1}`);
    } finally {
      for (const ep of made) if (ctx.resources.has('endpoint', ep.id)) await teardown(ctx, net, ep, callers[0]);
    }
    return problem;
  });
}

export const interleavedJoinLeave: Check = {
  id: 'driver.interleaved-join-leave',
  title: 'A container starting while another stops gets a link of its own',
  level: 'must',
  reason:
    "protocol.md §1.3/§4.3/§4.4: dockerd starts and stops containers at the same time over several connections, so a Join and a Leave of different endpoints of one network interleave; every joined endpoint needs its own host link (SrcName), or a later container start fails (a link name handed out twice: e.g. a counter that Leave reads before an await and writes after). Drivers answering no SrcName are not judged.",
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const callers = await connections(ctx, 2);
    const net = await openNetwork(ctx, new IdSource(ctx.seed ^ 0x1e4e));
    const full: Shape = { base: 2, pairs: 2, after: 3 };
    // Docker's default IPAM: one address per container start (hosts 2..), none reused within a run.
    const needed = full.base + full.pairs + full.after;
    if (net.addressing.mode === 'default' && 2 ** (32 - net.pool.prefix) - 3 < needed) ctx.skip(`needs a pool with ${needed} free addresses; ${net.addressing.label} is too small (give a larger --subnet)`);
    let failing: { shape: Shape; a: Attempt } | null = null;
    for (let round = 0; round < 2 && failing === null; round++) {
      const a = await interleave(ctx, net, callers, full);
      if (a.problem !== null) failing = { shape: full, a };
    }
    if (failing === null) {
      const del = await closeNetwork(ctx, net);
      if (del !== null) ctx.note(`DeleteNetwork after the interleaved lifecycles answered: ${del}`);
      return;
    }
    // Shrink: the shortest shape (fewest container starts and stops) that still fails, a few tries each.
    const shapes: Shape[] = [];
    for (let base = 1; base <= full.base; base++) for (let pairs = 1; pairs <= full.pairs; pairs++) for (let after = 0; after <= full.after; after++) shapes.push({ base, pairs, after });
    shapes.sort((x, y) => x.base + x.pairs + x.after - (y.base + y.pairs + y.after));
    for (const shape of shapes) {
      if (shape.base + shape.pairs + shape.after >= full.base + full.pairs + full.after) break;
      let found: Attempt | null = null;
      for (let t = 0; t < 3 && found === null; t++) {
        const a = await interleave(ctx, net, callers, shape);
        if (a.problem !== null) found = a;
      }
      if (found !== null) {
        failing = { shape, a: found };
        break;
      }
    }
    const { shape, a } = failing;
    ctx.fail(`${a.problem} (after ${shape.base} start(s), ${shape.pairs} Join/Leave pair(s) in parallel, ${shape.after} more start(s) on network ${short(net.id)}, ${net.addressing.label})`, { steps: a.steps, calls: a.calls, seed: ctx.seed });
  },
};

