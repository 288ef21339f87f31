/**
 * Cross-instance pool checks: a pool requested on one host is used on every
 * other (dockerd on host B starts containers on a global network whose pool
 * host A's IPAM granted, or a new swarm leader's IPAM serves the old leader's
 * pools), releases on one host are seen on all, and no address is held twice.
 */
import { type Cidr, formatCidr } from '../cidr.js';
import { POOL_HINT } from '../ipam/helpers.js';
import type { Check, CheckContext } from '../types.js';
import { askGlobalSpaces, globalSpaceProblem, requireGlobalSpaces } from './global-space.js';
import { Cluster, type Instance, type MultiPeer } from './instances.js';
import { type GlobalPool, type Grant, type Outcome, Story, within } from './steps.js';

/** How long a release or a pool on one instance may take to show on another (a store's replication delay). */
export const SETTLE_MS = 2_000;

export interface MultiTargets {
  /** Instance A's description (the runner's own target). */
  readonly first: string;
  readonly peers: readonly MultiPeer[];
}

export const SHARED_STORE_HINT = 'the instances do not share state; is the plugin configured with a shared store?';

/** Open the cluster for one check, run `body`, always stop journaling. */
export async function withCluster(ctx: CheckContext, targets: MultiTargets, body: (cluster: Cluster) => Promise<void>): Promise<void> {
  const cluster = await Cluster.open(ctx, targets.peers, targets.first);
  try {
    await body(cluster);
  } finally {
    await cluster.close();
  }
}

/** `inst` answered RequestAddress on another instance's pool with `answer`, which is no address of that pool. */
export function notInPoolMessage(inst: Instance, pool: GlobalPool, answer: string): string {
  return `instance ${inst.label} answered RequestAddress on pool ${pool.poolId} (${formatCidr(pool.cidr)}) from instance ${pool.owner.label} with ${answer}, not an address of that pool; ${SHARED_STORE_HINT}`;
}

/** `got` (a grant of `inst` on `pool`) is an address of the pool that no one holds (else the sharing failure); it is held as `as` from then on. */
export function holdGrant(story: Story, inst: Instance, pool: GlobalPool, got: Grant, held: Map<string, string>, as: string): string {
  const bare = got.bare;
  if (bare === null || !got.inPool) story.fail(notInPoolMessage(inst, pool, got.text));
  const before = held.get(bare);
  if (before !== undefined) story.fail(`instance ${inst.label} handed out ${bare} of pool ${pool.poolId} (${formatCidr(pool.cidr)}), already held as ${before}: two containers on different hosts get one address`);
  held.set(bare, as);
  return bare;
}

export function unknownPoolMessage(inst: Instance, pool: GlobalPool, error: string, waitedMs = 0): string {
  return `instance ${inst.label} does not know pool ${pool.poolId} (${formatCidr(pool.cidr)}) from instance ${pool.owner.label}: RequestAddress with that PoolID was refused ("${error}")${waitedMs > 0 ? ` for ${waitedMs} ms` : ''}; ${SHARED_STORE_HINT}`;
}

/** The first IPv4 slot of a fresh arena (or the first IPv4 --subnet). */
export function sharedCidr(ctx: CheckContext): Cidr {
  const c = ctx.pools.next().v4[0];
  if (!c) ctx.skip('no IPv4 pool to test with (give an IPv4 --subnet)');
  return c;
}

/** RequestPool on `owner` in its global space, plus the gateway request `docker network create` makes; a refusal skips. */
export async function openGlobalPool(ctx: CheckContext, story: Story, owner: Instance, space: string, cidr: Cidr): Promise<{ pool: GlobalPool; held: Map<string, string> }> {
  const got = await story.requestPool(owner, space, cidr);
  if (!got.ok) ctx.skip(`precondition: RequestPool ${formatCidr(cidr)} in the global space ${JSON.stringify(space)} refused on instance ${owner.label} (${got.error}); ${POOL_HINT}`);
  const pool = got.value;
  const held = new Map<string, string>();
  if (!pool.gatewayInData) {
    const gw = await story.requestAddress(owner, pool, '', '(the gateway)', true);
    if (gw.ok && gw.value.bare !== null) held.set(gw.value.bare, `the gateway, from instance ${owner.label}`);
  }
  return { pool, held };
}

/** How a cross-instance check begins: the global spaces, a Story, and a pool on `pick(ctx)` from the first instance (with its gateway). */
export async function poolOfFirst(ctx: CheckContext, cluster: Cluster, pick: (ctx: CheckContext) => Cidr): Promise<{ spaces: Map<string, string>; story: Story; cidr: Cidr; pool: GlobalPool; held: Map<string, string> }> {
  const spaces = await requireGlobalSpaces(ctx, cluster);
  const story: Story = new Story(ctx, cluster);
  const a = cluster.instances[0]!;
  const cidr = pick(ctx);
  const { pool, held } = await openGlobalPool(ctx, story, a, spaces.get(a.label)!, cidr);
  return { spaces, story, cidr, pool, held };
}

/**
 * The first RequestAddress of `inst` on another instance's pool, retried while refused for up to
 * SETTLE_MS: a store may take a moment to show a new pool on other hosts (dockerd on another host
 * learns about the network later too). Still refused: the sharing failure.
 */
export async function firstAddressOn(story: Story, inst: Instance, pool: GlobalPool, why = ''): Promise<Grant> {
  const attempt = (): Promise<Outcome<Grant>> => story.requestAddress(inst, pool, '', why);
  const { out, waitedMs } = await within(SETTLE_MS, attempt);
  if (!out.ok) story.fail(unknownPoolMessage(inst, pool, out.error, waitedMs));
  if (waitedMs > 0) story.noteDelay(`instance ${inst.label} knew pool ${pool.poolId} from instance ${pool.owner.label} after ${waitedMs} ms`);
  return out.value;
}

export function globalSpaceCheck(targets: MultiTargets): Check {
  return {
    id: 'multi.global-space',
    title: 'Every instance serves a global address space',
    level: 'must',
    reason:
      'protocol.md §2.3 GetDefaultAddressSpaces / §4.9: dockerd requests the pools of global-scope (multi-host) networks in GlobalDefaultAddressSpace; an IPAM with none is local-scope only and its instances cannot share pools across hosts.',
    requires: ['ipam'],
    async run(ctx: CheckContext) {
      await withCluster(ctx, targets, async (cluster) => {
        const answers = await askGlobalSpaces(ctx, cluster);
        const problem = globalSpaceProblem(answers);
        if (problem !== null) cluster.fail(problem);
        const names = new Set(answers.map((a) => a.global));
        if (names.size > 1) ctx.note(`the instances name their global space differently (${answers.map((a) => `${a.inst.label}: ${JSON.stringify(a.global)}`).join(', ')}); dockerd stores the PoolID, not the space, so this works`);
      });
    },
  };
}

export function poolUsedEverywhereCheck(targets: MultiTargets): Check {
  return {
    id: 'multi.pool-used-everywhere',
    title: "A pool requested on one instance serves addresses on every other, never one held elsewhere",
    level: 'must',
    reason:
      "protocol.md §4.9: a global network's pool is requested once (by the creating host or the swarm manager) and its PoolID is then used by other hosts' dockerd or a new manager; an instance that does not know it fails every container start there, and one that hands out an address held through another instance gives two containers one address.",
    requires: ['ipam'],
    async run(ctx: CheckContext) {
      await withCluster(ctx, targets, async (cluster) => {
        const { story, pool, held } = await poolOfFirst(ctx, cluster, sharedCidr);
        for (const inst of cluster.instances.slice(1)) {
          holdGrant(story, inst, pool, await firstAddressOn(story, inst, pool), held, `a container address from instance ${inst.label}`);
        }
        // Every held address is refused everywhere when asked for by name (docker run --ip on any host).
        for (const inst of cluster.instances) {
          for (const [address, what] of held) {
            if (what.endsWith(`instance ${inst.label}`)) continue;
            const again = await story.requestAddress(inst, pool, address);
            if (again.ok && again.value.bare === address) story.fail(`instance ${inst.label} granted ${address} (preferred) of pool ${pool.poolId} (${formatCidr(pool.cidr)}) although it is held as ${what}: two containers on different hosts get one address; ${SHARED_STORE_HINT}`);
          }
        }
      });
    },
  };
}

export function releaseSeenEverywhereCheck(targets: MultiTargets): Check {
  return {
    id: 'multi.release-seen-everywhere',
    title: 'An address or pool released on one instance is free again on the others',
    level: 'must',
    reason:
      'protocol.md §4.4/§4.6: a container stopped on host B releases its address through B; `docker network rm` on any host releases the pool there. If the other instances never see it, the address (or subnet) is lost: `docker run --ip` and `docker network create --subnet` fail forever on every other host.',
    requires: ['ipam'],
    async run(ctx: CheckContext) {
      await withCluster(ctx, targets, async (cluster) => {
        const { spaces, story: opened, cidr, pool, held } = await poolOfFirst(ctx, cluster, sharedCidr);
        // Typed here: its fail() narrows only through an explicitly typed name.
        const story: Story = opened;
        const b = cluster.instances[cluster.instances.length - 1]!;
        // A container on B comes and goes: its address is free again on A (and every other instance).
        const got = await firstAddressOn(story, b, pool, '(container on B)');
        const address = got.bare;
        if (address === null || !got.inPool) story.fail(notInPoolMessage(b, pool, got.text));
        const released: string = address;
        await story.releaseAddress(b, pool, released, '(the container on B stops)');
        for (const inst of cluster.instances) {
          if (inst === b) continue;
          const again = (): Promise<Outcome<Grant>> => story.requestAddress(inst, pool, released, '(docker run --ip on this host)');
          const { out, waitedMs } = await within(SETTLE_MS, again);
          if (!out.ok || out.value.bare !== address) {
            story.fail(`${address} released on instance ${b.label} is not free on instance ${inst.label}: RequestAddress ${address} (preferred) there ${out.ok ? `answered ${out.value.text}` : `was refused ("${out.error}")`} for ${waitedMs} ms; the address is lost on that host; ${SHARED_STORE_HINT}`);
          }
          if (waitedMs > 0) ctx.note(`instance ${inst.label} saw the release on ${b.label} after ${waitedMs} ms`);
          await story.releaseAddress(inst, pool, address, '(and stops again)');
        }
        // docker network rm on B: the gateway, then the pool; the subnet is then free on every instance.
        for (const address of held.keys()) await story.releaseAddress(b, pool, address, '(docker network rm on B: the gateway)');
        const rel = await story.releasePool(b, pool);
        if (!rel.ok) story.fail(`instance ${b.label} refused ReleasePool of pool ${pool.poolId} (${formatCidr(cidr)}) from instance ${pool.owner.label} ("${rel.error}"): docker network rm on that host cannot give the subnet back; ${SHARED_STORE_HINT}`);
        for (const inst of cluster.instances) {
          const { out, waitedMs } = await within<GlobalPool>(SETTLE_MS, () => story.requestPool(inst, spaces.get(inst.label)!, cidr));
          if (!out.ok) story.fail(`pool ${formatCidr(cidr)} released on instance ${b.label} is not free on instance ${inst.label}: RequestPool there was refused ("${out.error}") for ${waitedMs} ms; the subnet is lost for global networks; ${SHARED_STORE_HINT}`);
          if (waitedMs > 0) ctx.note(`instance ${inst.label} saw the pool release on ${b.label} after ${waitedMs} ms`);
          await story.releasePool(inst, out.value);
        }
      });
    },
  };
}
