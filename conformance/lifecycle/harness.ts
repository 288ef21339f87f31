/**
 * What the lifecycle checks drive: the daemon simulator (src/daemon) in front
 * of the plugin under test, dockerd's built-in IPAM stand-in when the plugin
 * is not an IPAM, and a stand-in host for the daemon's sandbox work.
 */
import { HOST_NAMESPACE, isBackendError, type LinkInfo, type NamespaceKey } from '../../src/backend/backend.js';
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import type { PluginCaller } from '../../src/client/types.js';
import { createDaemon, type SimulatedDaemon } from '../../src/daemon/index.js';
import { DaemonError } from '../../src/daemon/errors.js';
import { summarizeRecord } from '../counterexample.js';
import type { CallSummary, CheckContext } from '../types.js';
import { cidr, formatCidr, formatIp, sizeOf } from '../cidr.js';

/** The address at `offset` of `subnet` (for --ip), kept inside small pools. */
export function hostIn(subnet: string, offset: number): string {
  const c = cidr(subnet);
  const size = sizeOf(c);
  const o = BigInt(offset) < size - 1n ? BigInt(offset) : size - 2n;
  return formatIp(c.family, c.base + o);
}

/**
 * The plugin creates its links where the checker cannot see them (its own
 * process or namespace). This host lets every SrcName the plugin names exist
 * as a dummy link, so the daemon's sandbox work can follow; whether the link
 * really exists is driver.netns-linux's concern (--netns linux).
 */
export class StandInHost extends VirtualBackend {
  override async getLink(ns: NamespaceKey, name: string): Promise<LinkInfo> {
    if (ns === HOST_NAMESPACE) {
      try {
        return await super.getLink(ns, name);
      } catch (e) {
        if (!isBackendError(e, 'ENODEV')) throw e;
        await this.createDummy(HOST_NAMESPACE, name);
      }
    }
    return super.getLink(ns, name);
  }
}

export interface Harness {
  readonly daemon: SimulatedDaemon;
  /** Daemon operations so far, in words (the counterexample steps). */
  readonly steps: string[];
  /** Run one daemon operation; a DaemonError fails the check with dockerd's text, the steps and the calls. */
  op<T>(what: string, f: (d: SimulatedDaemon) => Promise<T>): Promise<T>;
  /** Same, but returns the DaemonError instead of failing. */
  attempt<T>(what: string, f: (d: SimulatedDaemon) => Promise<T>): Promise<T | DaemonError>;
  /** The daemon's calls as report summaries (the last `n`). */
  calls(n?: number): CallSummary[];
  /** Fail unless every sandbox matches what the daemon configured. */
  verify(): Promise<void>;
  /** The next IPv4 pool of this harness's arena for `--subnet` (skips when there is none left). */
  subnet(): string;
  /** The next IPv6 pool of this harness's arena, or null when there is none. */
  subnet6(): string | null;
}

export async function openHarness(ctx: CheckContext, driver: PluginCaller = ctx.caller): Promise<Harness> {
  const caps = await ctx.caller.tryCall('NetworkGetCapabilities', undefined, { timeoutMs: ctx.config.timeoutMs });
  if (caps.ok && caps.value.Scope === 'global') ctx.skip('global-scope driver: dockerd creates its networks only in swarm mode, which is not simulated (protocol.md §4.9)');
  let ipam: PluginCaller = driver;
  let closeIpam: (() => Promise<void>) | null = null;
  if (!ctx.capabilities.has('ipam')) {
    // A driver-only plugin runs with dockerd's built-in IPAM; cnmkit's reference IPAM plays it.
    const [{ inProcessPlugin }, { createIpam }] = await Promise.all([import('../../src/daemon/inprocess.js'), import('../../src/ipam/index.js')]);
    const p = await inProcessPlugin({ ipam: createIpam(), profile: ctx.config.profile, label: 'default IPAM' });
    ipam = p.client;
    closeIpam = () => p.close();
  }
  const backend = new StandInHost({ seed: ctx.seed >>> 0 || 1 });
  const daemon = createDaemon({ driver, ipam, backend, profile: ctx.config.profile, ids: ctx.seed >>> 0 || 1, driverName: 'plugin-under-test' });
  const steps: string[] = [];
  // One arena per harness: networks that live together get different pools (with --subnet: the given ones, in order).
  const arena = ctx.pools.next();
  let nextPool = 0;
  let nextPool6 = 0;
  const calls = (n = 24): CallSummary[] => daemon.callLog().slice(-n).map((e) => summarizeRecord(e.record));
  const fail = (what: string, e: unknown): never => {
    const text = e instanceof Error ? e.message : String(e);
    return ctx.fail(`${what}: ${text}`, { steps: [...steps], calls: calls() });
  };
  const h: Harness = {
    daemon,
    steps,
    async op(what, f) {
      steps.push(what);
      try {
        return await f(daemon);
      } catch (e) {
        if (e instanceof DaemonError) fail(what, e);
        throw e;
      }
    },
    async attempt(what, f) {
      steps.push(what);
      try {
        return await f(daemon);
      } catch (e) {
        if (e instanceof DaemonError) return e;
        throw e;
      }
    },
    calls,
    async verify() {
      const problems = await daemon.verifySandboxes();
      if (problems.length > 0) ctx.fail(`sandboxes differ from what the daemon configured: ${problems.join('; ')}`, { steps: [...steps], calls: calls() });
    },
    subnet() {
      const pool = arena.v4[nextPool++];
      if (!pool) ctx.skip(`needs ${nextPool} IPv4 pools (give ${nextPool} IPv4 --subnet values)`);
      return formatCidr(pool);
    },
    subnet6() {
      const pool = arena.v6[nextPool6++];
      return pool ? formatCidr(pool) : null;
    },
  };
  // Whatever the check leaves (a failure half-way), torn down as docker would: rm -f every container, rm every network.
  ctx.resources.add({
    kind: 'daemon',
    id: 'lifecycle',
    release: async () => {
      const view = daemon.inspect();
      for (const c of view.containers) await daemon.containerRm(c.name, { force: true }).catch(() => {});
      for (const n of daemon.inspect().networks) await daemon.networkRm(n.name).catch(() => {});
      daemon.close();
      await closeIpam?.();
      await backend.close();
      return null;
    },
  });
  return h;
}

/** Plugin calls of the daemon's log that failed (dockerd only logs them during teardown). */
export function failedCalls(h: Harness, from = 0): string[] {
  return h.daemon
    .callLog()
    .slice(from)
    .filter((e) => e.outcome !== 'ok')
    .map((e) => `${e.call} (${e.operation}): ${e.error ?? e.outcome}`);
}
