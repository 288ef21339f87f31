/**
 * Ids the way dockerd really uses them:
 * - driver.twin-delete-isolated: two live endpoints whose ids share their
 *   first 5 or 7 characters (random 64-hex ids do on a busy host); stopping
 *   one must leave the other's state (and, on the real kernel, its link) alone;
 * - driver.long-id-prefix-compat: the same with 11 and 12 shared characters
 *   (distinct SrcNames, both work, delete isolation): compat, because Calico
 *   (11) and docker-net-dhcp (12) name links that way and 48-bit collisions of
 *   random ids practically never happen;
 * - driver.stale-ids: a network id created again after `docker network rm`
 *   (swarm nodes re-create a network with its swarm id each time a container
 *   attaches) on another pool, with a deleted endpoint's id, must behave like
 *   a fresh network: no leftover gateway, endpoint or refusal; calls for the
 *   deleted network are refused.
 */
import type { ResponseOf } from '../../src/protocol/methods.js';
import { contains, formatCidr, parseIp } from '../cidr.js';
import type { Check, CheckContext } from '../types.js';
import { type PoolAddressing, allocatePool, ctxPort, releasePool, requireDesign, trackNetwork } from './addressing.js';
import { type OpenEndpoint, type OpenNetwork, closeNetwork, join, openEndpoint, openNetwork, teardown } from './helpers.js';
import { findLink } from './kernel-links.js';
import { netnsMode } from './netns-check.js';
import { gatewayProblem, subnetOf } from './rules.js';
import { IdSource, networkRequest, sharingExactly } from './system.js';

const short = (id: string): string => id.slice(0, 12);
/** Twins share up to 12 characters: 16 tell them apart. */
const twin = (id: string): string => id.slice(0, 16);

/** An id source that hands out one chosen id (the twin's), then falls back to fresh ones. */
class ChosenIds extends IdSource {
  private chosen: string | null;
  constructor(seed: number, chosen: string) {
    super(seed);
    this.chosen = chosen;
  }
  override next(kind: string): string {
    const c = this.chosen;
    this.chosen = null;
    return c ?? super.next(kind);
  }
}

/** The plugin host's namespace for link lookups, or undefined when the kernel is not looked at (--netns none, not root). */
function kernelView(ctx: CheckContext): string | null | undefined {
  return netnsMode(ctx.config).run ? ctx.config.netnsHost : undefined;
}

async function linkExists(ns: string | null, name: string): Promise<boolean> {
  return typeof (await findLink(ns, name)) !== 'string';
}

interface TwinResult {
  readonly problem: string | null;
  readonly steps: string[];
}

/**
 * Endpoint A is created and joined; endpoint B, whose id shares A's first `k`
 * characters, too; then A's container stops (Leave + DeleteEndpoint) and B
 * must still answer as before. `names`: B's refusal or a shared SrcName is
 * this check's finding (else another check's: noted, round skipped).
 */
async function twinRound(ctx: CheckContext, net: OpenNetwork, k: number, offset: number, names: boolean): Promise<TwinResult> {
  const steps: string[] = [];
  const t = { timeoutMs: ctx.config.timeoutMs };
  const a = await openEndpoint(ctx, net, offset);
  if (typeof a === 'string') ctx.skip(`precondition: CreateEndpoint refused (${a}); see driver.lifecycle-accepted`);
  const ja = await join(ctx, net, a);
  if (typeof ja === 'string') ctx.skip(`precondition: Join refused (${ja}); see driver.lifecycle-accepted`);
  const srcA = ja.InterfaceName?.SrcName ?? '';
  steps.push(`CreateEndpoint A ${twin(a.id)} (${a.address || 'no address'}) on ${twin(net.id)} + Join -> SrcName ${srcA || '(none)'}`);
  const twinId = sharingExactly(a.id, net.ids.next('twin'), k);
  const twinNet: OpenNetwork = { ...net, ids: new ChosenIds(ctx.seed, twinId) };
  const b = await openEndpoint(ctx, twinNet, offset + 1);
  if (typeof b === 'string') {
    steps.push(`CreateEndpoint B ${twin(twinId)} (shares ${k} characters with A) -> refused: ${b}`);
    await teardown(ctx, net, a);
    if (names) return { problem: `CreateEndpoint of ${twin(twinId)}, whose id shares its first ${k} characters with live endpoint ${twin(a.id)}, was refused: ${b}`, steps };
    ctx.note(`CreateEndpoint of an endpoint sharing ${k} id characters with a live one was refused (${b}); see driver.lifecycle-accepted`);
    return { problem: null, steps };
  }
  const jb = await join(ctx, net, b);
  const srcB = typeof jb === 'string' ? '' : (jb.InterfaceName?.SrcName ?? '');
  steps.push(`CreateEndpoint B ${twin(b.id)} (${b.address || 'no address'}, shares ${k} characters with A) + Join -> ${typeof jb === 'string' ? `refused: ${jb}` : `SrcName ${srcB || '(none)'}`}`);
  const sameLink = srcB !== '' && srcB === srcA;
  if (typeof jb === 'string' || sameLink) {
    await teardown(ctx, net, b);
    await teardown(ctx, net, a);
    const what = typeof jb === 'string' ? `Join of ${twin(b.id)} was refused (${jb})` : `endpoints ${twin(a.id)} and ${twin(b.id)} are both joined with SrcName ${srcA}: two sandboxes cannot get one host link`;
    if (names) return { problem: `${what}; their ids share the first ${k} characters (the driver names or keys things by an id prefix)`, steps };
    ctx.note(`${what} with ids sharing ${k} characters; driver.interface-name-unique judges that`);
    return { problem: null, steps };
  }
  const ns = kernelView(ctx);
  const linkBefore = ns !== undefined && srcB !== '' ? await linkExists(ns, srcB) : false;
  const before = await ctx.caller.tryCall('EndpointOperInfo', { NetworkID: net.id, EndpointID: b.id }, t);
  steps.push(`EndpointOperInfo B ${twin(b.id)} -> ${before.ok ? 'ok' : `error: ${before.error.message}`}${linkBefore ? ` (host link ${srcB} present)` : ''}`);
  const downA = await teardown(ctx, net, a);
  steps.push(`Leave + DeleteEndpoint A ${twin(a.id)} -> ${downA ?? 'ok'}`);
  const after = await ctx.caller.tryCall('EndpointOperInfo', { NetworkID: net.id, EndpointID: b.id }, t);
  steps.push(`EndpointOperInfo B ${twin(b.id)} -> ${after.ok ? 'ok' : `error: ${after.error.message}`}`);
  const linkAfter = linkBefore ? await linkExists(ns ?? null, srcB) : false;
  let problem: string | null = null;
  const lost = `deleting endpoint ${twin(a.id)} (ids share the first ${k} characters) removed what belongs to live, joined endpoint ${twin(b.id)} (${b.address || 'no address'})`;
  if (linkBefore && !linkAfter) problem = `${lost}: its host link ${srcB} is gone (the container loses its network)`;
  else if (linkBefore) ctx.note(`ids sharing ${k} characters: B's host link ${srcB} is still on the kernel (${ns === null ? "this process's namespace" : `namespace ${ns}`}) after A's Leave + DeleteEndpoint`);
  else if (before.ok && !after.ok) problem = `${lost}: EndpointOperInfo of ${twin(b.id)} answered before A's DeleteEndpoint and fails after it (${after.error.message}); the driver lost B's state`;
  const downB = await teardown(ctx, net, b);
  steps.push(`Leave + DeleteEndpoint B ${twin(b.id)} -> ${downB ?? 'ok'}`);
  if (problem === null && downA === null && downB !== null) problem = `${lost}: A's Leave + DeleteEndpoint succeeded, B's then failed (${downB}); the driver lost B's state with A's`;
  return { problem, steps };
}

async function twinCheck(ctx: CheckContext, prefixes: readonly number[], names: boolean): Promise<void> {
  const net = await openNetwork(ctx, new IdSource(ctx.seed ^ 0x7a1a));
  for (const [i, k] of prefixes.entries()) {
    const r = await twinRound(ctx, net, k, 2 + 2 * i, names);
    if (r.problem !== null) ctx.fail(r.problem, { steps: r.steps, seed: ctx.seed });
  }
  const del = await closeNetwork(ctx, net);
  if (del !== null) ctx.note(`DeleteNetwork after the twin endpoints answered: ${del}`);
}

export const twinDeleteIsolated: Check = {
  id: 'driver.twin-delete-isolated',
  title: 'Stopping a container leaves its id twin alone',
  level: 'should',
  reason:
    "protocol.md §2.2 (CreateEndpoint) / §4.4: endpoint ids are random 64-hex, so two live endpoints sharing their first 5 or 7 characters happen on a busy host; a driver that cleans up by id prefix (links, files, state keys) removes the other container's link or state when one stops. Judged from B's EndpointOperInfo/Leave/DeleteEndpoint answers before and after A's DeleteEndpoint and, with --netns linux, B's host link. should: dockerd only sees it as errors it logs; the container loses its network. SrcName clashes are driver.interface-name-unique's.",
  requires: ['driver'],
  run: (ctx) => twinCheck(ctx, [5, 7], false),
};

export const longIdPrefixCompat: Check = {
  id: 'driver.long-id-prefix-compat',
  title: 'Endpoints sharing 11 or 12 id characters stay apart',
  level: 'compat',
  reason:
    "protocol.md §2.2 (Join): Calico names host links by 11 endpoint-id characters and docker-net-dhcp by 12, as dockerd names containers by 12; two live endpoints sharing that many characters (48 bits) practically never happen, so a shared link or lost state there is only reported (compat), never failed at should.",
  requires: ['driver'],
  run: (ctx) => twinCheck(ctx, [11, 12], true),
};

/** CreateNetwork of `id` on `slot` as `docker network create` does; the addressing, or the refusal text. */
async function createOn(ctx: CheckContext, id: string, slot: NonNullable<ReturnType<CheckContext['pools']['next']>['v4'][number]>, mode: PoolAddressing['mode']): Promise<PoolAddressing | string> {
  const port = ctxPort(ctx);
  const p = await allocatePool(port, mode, slot);
  if (typeof p === 'string') ctx.skip(`precondition: ${p}`);
  const out = await port.call('CreateNetwork', networkRequest(ctx, id, p));
  if (!out.ok) {
    await releasePool(port, p);
    return out.error.message;
  }
  trackNetwork(port, id, p);
  return p;
}

function staleGateway(reply: ResponseOf<'Join'>, ep: OpenEndpoint, old: PoolAddressing, fresh: PoolAddressing): string | null {
  const gw = reply.Gateway ? parseIp(reply.Gateway) : null;
  if (gw === null || gw.family !== 4) return null;
  if (gatewayProblem(reply.Gateway!, subnetOf(ep.address), ep.address.split('/')[0] ?? '', reply.StaticRoutes, 4) === null) return null;
  if (!contains(old.pool, 4, gw.value) || contains(fresh.pool, 4, gw.value)) return null;
  return `Gateway ${reply.Gateway}, on the deleted network's ${old.label}${old.gateway !== null ? ` (its gateway ${old.gateway})` : ''}, not on the re-created network's ${fresh.label}`;
}

export const staleIds: Check = {
  id: 'driver.stale-ids',
  title: 'A re-created network id starts fresh; a deleted network takes no calls',
  level: 'should',
  reason:
    "protocol.md §2.2 (DeleteNetwork) / §4.6 / §4.9: after `docker network rm` the driver must forget the network and its endpoints; the same network id comes back (a swarm node re-creates a network with its swarm id each time a container attaches) with other addressing and must work like a fresh one (no leftover gateway, no 'endpoint exists' for a deleted endpoint's id); a Join for the deleted network must be refused, never answered from leftovers. should, like driver.unknown-ids: dockerd itself does not re-send a local network's id.",
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const design = await requireDesign(ctx);
    const slots = ctx.pools.next().v4;
    if (slots.length < 2) ctx.skip('needs at least two IPv4 pools (give two IPv4 --subnet)');
    const ids = new IdSource(ctx.seed ^ 0x57a1e);
    const netId = ids.next('net');
    const steps: string[] = [];
    const first = await createOn(ctx, netId, slots[0]!, design.mode);
    if (typeof first === 'string') ctx.skip(`precondition: CreateNetwork on ${formatCidr(slots[0]!)} refused (${first}); see driver.lifecycle-accepted`);
    const net1: OpenNetwork = { id: netId, pool: first.pool, gateway: first.gateway, ids, addressing: first, design };
    const e = await openEndpoint(ctx, net1, 2);
    if (typeof e === 'string') ctx.skip(`precondition: CreateEndpoint refused (${e}); see driver.lifecycle-accepted`);
    const j1 = await join(ctx, net1, e);
    steps.push(`CreateNetwork ${short(netId)} on ${first.label}; CreateEndpoint E ${short(e.id)} (${e.address || 'no address'}) + Join -> ${typeof j1 === 'string' ? `refused: ${j1}` : `Gateway ${j1.Gateway || '(none)'}`}`);
    const down = await teardown(ctx, net1, e);
    const del = await closeNetwork(ctx, net1);
    steps.push(`Leave + DeleteEndpoint E -> ${down ?? 'ok'}; DeleteNetwork ${short(netId)} -> ${del ?? 'ok'}`);
    if (down !== null || del !== null) ctx.skip(`precondition: the teardown was refused (${down ?? del}); see driver.delete-undoes`);
    const t = { timeoutMs: ctx.config.timeoutMs };
    // A Join for the deleted network (a racing `docker run` / stale daemon state).
    const ghost = await ctx.caller.tryCall('Join', { NetworkID: netId, EndpointID: e.id, SandboxKey: '/var/run/docker/netns/57a1e57a1e00', Options: { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] } }, t);
    steps.push(`Join E ${short(e.id)} on deleted network ${short(netId)} -> ${ghost.ok ? 'ok' : `refused: ${ghost.error.message}`}`);
    if (ghost.ok) {
      ctx.resources.add({ kind: 'join', id: e.id, release: async () => ((await ctx.caller.tryCall('Leave', { NetworkID: netId, EndpointID: e.id }, t)).ok ? null : 'Leave refused') });
      ctx.fail(`Join of endpoint ${short(e.id)} on network ${short(netId)}, both deleted successfully, succeeded; the driver answered from leftovers of a network dockerd removed`, { steps, seed: ctx.seed });
    }
    // The same network id again, on another pool; the deleted endpoint's id again on it.
    const second = await createOn(ctx, netId, slots[1]!, design.mode);
    if (typeof second === 'string') {
      steps.push(`CreateNetwork ${short(netId)} again -> refused: ${second}`);
      ctx.fail(`CreateNetwork of ${short(netId)} after its successful DeleteNetwork was refused: ${second}; the delete left the network behind`, { steps, seed: ctx.seed });
    }
    const net2: OpenNetwork = { id: netId, pool: second.pool, gateway: second.gateway, ids: new ChosenIds(ctx.seed, e.id), addressing: second, design };
    const again = await openEndpoint(ctx, net2, 2);
    steps.push(`CreateNetwork ${short(netId)} again on ${second.label}; CreateEndpoint E ${short(e.id)} again -> ${typeof again === 'string' ? `refused: ${again}` : `ok (${again.address || 'no address'})`}`);
    if (typeof again === 'string') ctx.fail(`CreateEndpoint of ${short(e.id)} on re-created network ${short(netId)} (${second.label}) was refused: ${again}; the deleted network's endpoint was left behind`, { steps, seed: ctx.seed });
    const j2 = await join(ctx, net2, again);
    steps.push(`Join E ${short(e.id)} -> ${typeof j2 === 'string' ? `refused: ${j2}` : `Gateway ${j2.Gateway || '(none)'}`}`);
    if (typeof j2 === 'string') ctx.fail(`Join of ${short(e.id)} on re-created network ${short(netId)} (${second.label}) was refused: ${j2}; the deleted network left state behind`, { steps, seed: ctx.seed });
    const stale = staleGateway(j2, again, first, second);
    if (stale !== null) ctx.fail(`Join of ${short(e.id)} (${again.address || 'no address'}) on re-created network ${short(netId)} answered ${stale}: the driver kept the deleted network's data and revived it (containers get an unreachable gateway)`, { steps, seed: ctx.seed });
    await teardown(ctx, net2, again);
    await closeNetwork(ctx, net2);
  },
};
