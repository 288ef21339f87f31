/**
 * driver.concurrent-lifecycles: many containers start and stop at once over
 * several connections (dockerd runs docker commands in parallel). The plugin
 * must answer every call and give every live endpoint its own MAC and host
 * link name. A failure is shrunk to the fewest parallel endpoints that still
 * show it.
 */
import type { PluginCaller } from '../../src/client/types.js';
import { summarizeRecord } from '../counterexample.js';
import type { CallSummary, Check, CheckContext } from '../types.js';
import { type OpenEndpoint, type OpenNetwork, closeNetwork, join, openEndpoint, openNetwork, routedEndpoint, teardown } from './helpers.js';
import { IdSource } from './system.js';

interface StormResult {
  readonly problem: string | null;
  readonly calls: CallSummary[];
}

async function storm(ctx: CheckContext, net: OpenNetwork, callers: readonly PluginCaller[], n: number): Promise<StormResult> {
  const calls: CallSummary[] = [];
  const stop = callers.map((c) => c.onCall((r) => calls.push(summarizeRecord(r))));
  try {
    const made = await Promise.all(Array.from({ length: n }, (_, i) => openEndpoint(ctx, net, 2 + i, callers[i % callers.length]!)));
    const refused = made.find((m): m is string => typeof m === 'string');
    const eps = made.filter((m): m is OpenEndpoint => typeof m !== 'string');
    const cleanup = (): Promise<unknown> => Promise.all(eps.map((ep, i) => teardown(ctx, net, ep, callers[i % callers.length]!)));
    if (refused !== undefined) {
      await cleanup();
      return { problem: `a parallel CreateEndpoint was refused: ${refused}`, calls };
    }
    const joins = await Promise.all(eps.map((ep, i) => join(ctx, net, ep, callers[i % callers.length]!)));
    let problem: string | null = null;
    const names = new Map<string, string>();
    const macs = new Map<string, string>();
    for (const [i, j] of joins.entries()) {
      const ep = eps[i]!;
      if (typeof j === 'string') {
        problem ??= `a parallel Join was refused: ${j}`;
        continue;
      }
      const src = j.InterfaceName?.SrcName ?? '';
      if (src !== '') {
        const other = names.get(src);
        if (other !== undefined) problem ??= `endpoints ${other.slice(0, 12)} and ${ep.id.slice(0, 12)} joined in parallel both got SrcName ${src}`;
        names.set(src, ep.id);
      }
      // MACs only need to differ on a shared L2 segment, not on routed point-to-point links.
      if (ep.mac !== null && !routedEndpoint(net, ep)) {
        const other = macs.get(ep.mac);
        if (other !== undefined) problem ??= `endpoints ${other.slice(0, 12)} and ${ep.id.slice(0, 12)} created in parallel both got MAC ${ep.mac}`;
        macs.set(ep.mac, ep.id);
      }
    }
    const down = (await cleanup()) as (string | null)[];
    problem ??= down.find((d) => d !== null) ?? null;
    return { problem, calls };
  } finally {
    for (const s of stop) s();
  }
}

export const concurrentLifecycles: Check = {
  id: 'driver.concurrent-lifecycles',
  title: 'Parallel container starts get distinct interfaces',
  level: 'must',
  reason:
    'protocol.md §1.3/§4.3: dockerd runs docker commands in parallel over several connections; every CreateEndpoint/Join must be answered and every live endpoint needs its own MAC and host link (SrcName), or containers clash on the network.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const callers: PluginCaller[] = [ctx.caller];
    for (let i = 1; i < ctx.config.concurrency; i++) callers.push(await ctx.connect());
    const ids = new IdSource(ctx.seed);
    const net = await openNetwork(ctx, ids);
    // Docker's default IPAM: the pool's free hosts; another IPAM (or the driver) chooses: a dozen.
    const hosts = net.addressing.mode === 'default' ? 2 ** (32 - net.pool.prefix) - 3 : 12;
    const width = Math.max(2, Math.min(hosts, 12));
    const rounds = Math.max(1, Math.min(6, Math.ceil(ctx.config.stormSize / 40)));
    let failing: { n: number; result: StormResult } | null = null;
    for (let round = 0; round < rounds && failing === null; round++) {
      const result = await storm(ctx, net, callers, width);
      if (result.problem !== null) failing = { n: width, result };
    }
    if (failing === null) {
      // The plugin ends consistent: the network it served the storm on can be deleted.
      const del = await closeNetwork(ctx, net);
      if (del !== null) ctx.fail(`DeleteNetwork after the parallel lifecycles (every endpoint deleted) was refused: ${del}`);
      return;
    }
    // Shrink: the fewest parallel endpoints that still fail (a few tries each: races are not deterministic).
    for (let n = 2; n < failing.n; n++) {
      let found: StormResult | null = null;
      for (let t = 0; t < 5 && found === null; t++) {
        const r = await storm(ctx, net, callers, n);
        if (r.problem !== null) found = r;
      }
      if (found !== null) {
        failing = { n, result: found };
        break;
      }
    }
    const { n, result } = failing;
    ctx.fail(`${result.problem} (${n} parallel lifecycles over ${Math.min(n, callers.length)} connections)`, {
      steps: [`${n} x in parallel: CreateEndpoint, then ${n} x Join, then Leave + DeleteEndpoint (connections: ${Math.min(n, callers.length)})`],
      calls: result.calls,
      seed: ctx.seed,
    });
  },
};
