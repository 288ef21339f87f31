/**
 * The global address space: the one dockerd uses for global-scope (swarm,
 * multi-host) networks (protocol.md §2.3 GetDefaultAddressSpaces, §4.9). Only
 * it is shared across hosts; LocalDefault pools are legitimately per host
 * (a swarm node requests the manager's subnet again in its local space), so
 * every cross-instance check works in the global space only.
 */
import type { CheckContext } from '../types.js';
import { type Cluster, type Instance, instanceName } from './instances.js';

export interface SpaceAnswer {
  readonly inst: Instance;
  /** null: GetDefaultAddressSpaces failed; '' : no global space. */
  readonly global: string | null;
  readonly error: string | null;
}

export async function askGlobalSpaces(ctx: CheckContext, cluster: Cluster): Promise<SpaceAnswer[]> {
  return Promise.all(
    cluster.instances.map(async (inst): Promise<SpaceAnswer> => {
      const out = await inst.caller.tryCall('GetDefaultAddressSpaces', undefined, { timeoutMs: ctx.config.timeoutMs });
      return out.ok ? { inst, global: out.value.GlobalDefaultAddressSpace ?? '', error: null } : { inst, global: null, error: out.error.message };
    }),
  );
}

/** What is wrong with the answers for multi-host use, or null. */
export function globalSpaceProblem(answers: readonly SpaceAnswer[]): string | null {
  for (const a of answers) {
    if (a.global === null) return `${instanceName(a.inst)} did not answer GetDefaultAddressSpaces (${a.error})`;
    if (a.global === '') {
      return `${instanceName(a.inst)} answers GetDefaultAddressSpaces with an empty GlobalDefaultAddressSpace: it is a local-scope-only IPAM, whose pools live on one host; as instances of one multi-host plugin they must share a global address space (is the plugin configured with a shared store?)`;
    }
  }
  return null;
}

/** The global space of every instance (by label), or skip pointing at multi.global-space. */
export async function requireGlobalSpaces(ctx: CheckContext, cluster: Cluster): Promise<Map<string, string>> {
  const answers = await askGlobalSpaces(ctx, cluster);
  const problem = globalSpaceProblem(answers);
  if (problem !== null) ctx.skip(`no shared global address space (multi.global-space): ${problem}`);
  return new Map(answers.map((a) => [a.inst.label, a.global!]));
}
