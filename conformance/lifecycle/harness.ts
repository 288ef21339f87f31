/**
 * What the lifecycle checks drive: the daemon simulator (src/daemon) in front
 * of the plugin under test, with what `docker network create -d D
 * --ipam-driver I` would put around it:
 * - a driver-only plugin gets Docker's built-in IPAM: the default one (played
 *   by cnmkit's reference IPAM) or the null one (`--ipam-driver null`: no
 *   addresses, the driver supplies them), chosen by `config.ipamDriver`;
 * - an IPAM-only plugin gets cnmkit's reference driver (virtual backend, in
 *   process) in front of it, so its IPAM sees dockerd's own call sequences;
 * - a plugin that is both uses its own IPAM unless told otherwise;
 * and a stand-in host for the daemon's sandbox work.
 */
import { HOST_NAMESPACE, isBackendError, type LinkInfo, type NamespaceKey } from '../../src/backend/backend.js';
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import type { PluginCaller } from '../../src/client/types.js';
import { createDaemon, type SimulatedDaemon } from '../../src/daemon/index.js';
import { DaemonError } from '../../src/daemon/errors.js';
import { createIdGenerator } from '../../src/daemon/ids.js';
import type { NetworkView } from '../../src/daemon/types.js';
import { LOCAL_DEFAULT, type Profile } from '../../src/protocol/constants.js';
import { summarizeRecord } from '../counterexample.js';
import type { CallSummary, CheckContext } from '../types.js';
import { cidr, formatCidr, formatIp, parseCidr, parseCidrWithAddress, sizeOf } from '../cidr.js';

/** The address at `offset` of `subnet`, kept inside small pools. */
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

/** Where the network's addresses come from (`--ipam-driver`). */
export type IpamMode = 'plugin' | 'default' | 'null';

/** What `docker network create` got: the subnets given (null = the IPAM's automatic pool). */
export interface MadeNetwork {
  readonly subnet: string | null;
  readonly subnet6: string | null;
}

export interface HarnessOptions {
  /** Wrap the driver caller (e.g. a faultyCaller for the rollback check). */
  readonly wrapDriver?: (driver: PluginCaller) => PluginCaller;
}

export interface Harness {
  readonly daemon: SimulatedDaemon;
  /** Where addresses come from: the plugin's IPAM, Docker's default IPAM or the null IPAM. */
  readonly ipamMode: IpamMode;
  /** `plugin`: the plugin's driver; `reference`: cnmkit's reference driver in front of an IPAM-only plugin. */
  readonly driverMode: 'plugin' | 'reference';
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
  /** The next IPv4 pool of the arena, or null when there is none left (no skip). */
  spareSubnet(): string | null;
  /**
   * `docker network create [--ipv6] [--subnet S] name` with the configured options: a
   * subnet of the arena when the IPAM takes one (`subnet: null` forces the automatic
   * pool); when the plugin's IPAM refuses the arena subnet (it serves only its own
   * pools) the automatic pool is used, noted. Fails the check when dockerd fails.
   */
  network(name: string, opts?: { ipv6?: boolean; subnet?: string | null }): Promise<MadeNetwork>;
  /** Same, returning the DaemonError instead of failing. */
  tryNetwork(name: string, opts?: { ipv6?: boolean; subnet?: string | null }): Promise<MadeNetwork | DaemonError>;
  /**
   * An address for `--ip` / `--ip6` on `network`: inside its user subnet, not the
   * network or broadcast address, not the gateway, an aux address or any live
   * endpoint's address (the simulator's view), chosen from the check seed.
   * Null when the network has no user subnet of that family (dockerd refuses --ip
   * there) or no free address.
   */
  freeAddress(network: string, family: 4 | 6): string | null;
}

/** How the check reaches the plugin (what it implements and where addresses come from). */
interface Setup {
  readonly driverMode: 'plugin' | 'reference';
  readonly ipamMode: IpamMode;
}

/** mulberry32: a small deterministic PRNG for address choices. */
function prng(seed: number): () => number {
  let a = seed >>> 0 || 1;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * config.ipamDriver `auto` for a driver-only plugin: Docker's default IPAM, unless the
 * driver refuses such a network at CreateNetwork but takes the null IPAM's
 * (docker-net-dhcp). Both refused without --driver-opt: a skip pointing to it.
 */
async function probeAddressing(ctx: CheckContext): Promise<IpamMode> {
  const ids = createIdGenerator((ctx.seed ^ 0x5eed) >>> 0 || 1);
  const arena = ctx.pools.next();
  const pool = arena.v4[0] ?? cidr('10.199.0.0/28');
  const gateway = `${formatIp(4, pool.base + 1n)}/${pool.prefix}`;
  const attempt = async (space: string, data: { Pool: string; Gateway?: string }): Promise<string | null> => {
    const id = ids.id();
    const r = await ctx.caller.tryCall(
      'CreateNetwork',
      { NetworkID: id, Options: { 'com.docker.network.generic': { ...ctx.config.driverOpts }, 'com.docker.network.enable_ipv6': false }, IPv4Data: [{ AddressSpace: space, ...data }], IPv6Data: [] },
      { timeoutMs: ctx.config.timeoutMs },
    );
    if (!r.ok) return r.error.message;
    await ctx.caller.tryCall('DeleteNetwork', { NetworkID: id }, { timeoutMs: ctx.config.timeoutMs });
    return null;
  };
  const asDefault = await attempt(LOCAL_DEFAULT, { Pool: formatCidr(pool), Gateway: gateway });
  if (asDefault === null) return 'default';
  const asNull = await attempt('null', { Pool: '0.0.0.0/0' });
  if (asNull === null) {
    ctx.note(`the driver refused a network from Docker's default IPAM (${asDefault}) and took one from the null IPAM: the checks run with --ipam-driver null (the driver supplies the addresses)`);
    return 'null';
  }
  if (Object.keys(ctx.config.driverOpts).length === 0) {
    ctx.skip(`the driver refused CreateNetwork with Docker's default IPAM (${asDefault}) and with the null IPAM (${asNull}); if it needs driver options, give them with --driver-opt K=V`);
  }
  // With the user's options it still refuses: let the checks show it at network create.
  return 'default';
}

async function resolveSetup(ctx: CheckContext): Promise<Setup> {
  const hasDriver = ctx.capabilities.has('driver');
  const hasIpam = ctx.capabilities.has('ipam');
  const choice = ctx.config.ipamDriver;
  if (!hasDriver && !hasIpam) ctx.skip('the plugin is neither a network driver nor an IPAM');
  if (!hasDriver) {
    // An IPAM-only plugin: cnmkit's reference driver in front of it.
    if (choice === 'default' || choice === 'null') ctx.skip(`--ipam-driver ${choice}: the plugin is only an IPAM, so nothing of it would be used`);
    return { driverMode: 'reference', ipamMode: 'plugin' };
  }
  const caps = await ctx.caller.tryCall('NetworkGetCapabilities', undefined, { timeoutMs: ctx.config.timeoutMs });
  if (caps.ok && caps.value.Scope === 'global') ctx.skip('global-scope driver: dockerd creates its networks only in swarm mode; driver.global-swarm-lifecycle and the other driver.global-* checks drive it as swarm does (protocol.md §4.9)');
  if (choice === 'plugin') {
    if (!hasIpam) ctx.skip('--ipam-driver plugin: the plugin is not an IPAM');
    return { driverMode: 'plugin', ipamMode: 'plugin' };
  }
  if (choice === 'default' || choice === 'null') return { driverMode: 'plugin', ipamMode: choice };
  if (hasIpam) return { driverMode: 'plugin', ipamMode: 'plugin' };
  return { driverMode: 'plugin', ipamMode: await probeAddressing(ctx) };
}

/**
 * dockerd's built-in default IPAM, one per daemon: cnmkit's reference IPAM plays it, loaded on demand.
 * A stand-in for a part of dockerd, never a model that judges the plugin.
 */
export async function defaultIpamStandIn(profile: Profile): Promise<{ client: PluginCaller; close(): Promise<void> }> {
  const [{ inProcessPlugin }, { createIpam }] = await Promise.all([import('../../src/daemon/inprocess.js'), import('../../src/ipam/index.js')]);
  return inProcessPlugin({ ipam: createIpam(), profile, label: 'default IPAM' });
}

export async function openHarness(ctx: CheckContext, opts: HarnessOptions = {}): Promise<Harness> {
  const setup = await resolveSetup(ctx);
  const backend = new StandInHost({ seed: ctx.seed >>> 0 || 1 });
  const closers: Array<() => Promise<void>> = [];
  let driver: PluginCaller = ctx.caller;
  let ipam: PluginCaller = ctx.caller;
  if (setup.driverMode === 'reference') {
    // The reference driver (virtual backend, deterministic MACs) plays the network driver.
    const [{ inProcessPlugin }, { createReferenceDriver }] = await Promise.all([import('../../src/daemon/inprocess.js'), import('../../src/driver/index.js')]);
    let macSeed = ctx.seed >>> 0 || 1;
    const reference = createReferenceDriver({
      backend,
      profile: ctx.config.profile,
      randomBytes: (n) => Uint8Array.from({ length: n }, () => (macSeed = (Math.imul(macSeed, 1103515245) + 12345) >>> 0) >>> 24),
    });
    const p = await inProcessPlugin({ driver: reference, profile: ctx.config.profile, label: 'reference driver' });
    driver = p.client;
    closers.push(() => p.close());
  }
  if (setup.ipamMode === 'default') {
    const p = await defaultIpamStandIn(ctx.config.profile);
    ipam = p.client;
    closers.push(() => p.close());
  } else if (setup.ipamMode === 'null') {
    const [{ inProcessPlugin }, { createNullIpam }] = await Promise.all([import('../../src/daemon/inprocess.js'), import('../../src/daemon/null-ipam.js')]);
    const p = await inProcessPlugin({ ipam: createNullIpam(), profile: ctx.config.profile, label: 'null IPAM' });
    ipam = p.client;
    closers.push(() => p.close());
  }
  if (opts.wrapDriver) driver = opts.wrapDriver(driver);
  // A managed (v2) plugin gets no Plugin.Activate: dockerd goes straight to its handlers (protocol.md §1.7, §4.8).
  const managed = new Map<PluginCaller, string[]>();
  if (ctx.pluginKind === 'managed') {
    const types = [...(ctx.capabilities.has('driver') ? ['docker.networkdriver/1.0'] : []), ...(ctx.capabilities.has('ipam') ? ['docker.ipamdriver/1.0'] : [])];
    if (setup.driverMode === 'plugin') managed.set(driver, types);
    if (setup.ipamMode === 'plugin') managed.set(ipam, types);
  }
  const daemon = createDaemon({
    driver,
    ipam,
    backend,
    profile: ctx.config.profile,
    ids: ctx.seed >>> 0 || 1,
    driverName: setup.driverMode === 'plugin' ? 'plugin-under-test' : 'cnmkit-reference',
    ipamName: setup.ipamMode === 'plugin' ? 'plugin-under-test' : setup.ipamMode,
    ...(setup.ipamMode === 'null' ? { builtinIpam: 'null' as const } : {}),
    ...(managed.size > 0 ? { managed } : {}),
  });
  const steps: string[] = [];
  // One arena per harness: networks that live together get different pools (with --subnet: the given ones, in order).
  const arena = ctx.pools.next();
  let nextPool = 0;
  let nextPool6 = 0;
  const random = prng(ctx.seed);
  const calls = (n = 24): CallSummary[] => daemon.callLog().slice(-n).map((e) => summarizeRecord(e.record));
  const fail = (what: string, e: unknown): never => {
    const text = e instanceof Error ? e.message : String(e);
    return ctx.fail(`${what}: ${text}`, { steps: [...steps], calls: calls() });
  };
  const attempt = async <T>(what: string, f: (d: SimulatedDaemon) => Promise<T>): Promise<T | DaemonError> => {
    steps.push(what);
    try {
      return await f(daemon);
    } catch (e) {
      if (e instanceof DaemonError) return e;
      throw e;
    }
  };
  const create = (name: string, s4: string | null, s6: string | null | undefined): Promise<unknown> => {
    const flags = `${s6 !== undefined ? ' --ipv6' : ''}${s4 !== null ? ` --subnet ${s4}` : ''}${s6 ? ` --subnet ${s6}` : ''}`;
    const drvOpts = Object.entries(ctx.config.driverOpts).map(([k, v]) => ` -o ${k}=${v}`).join('');
    const ipamFlag = setup.ipamMode === 'null' ? ' --ipam-driver null' : '';
    return attempt(`docker network create${ipamFlag}${flags}${drvOpts} ${name}`, (d) =>
      d.networkCreate({
        name,
        driverOpts: ctx.config.driverOpts,
        ipamOpts: ctx.config.ipamOpts,
        ...(s4 !== null ? { ipv4: [{ subnet: s4 }] } : {}),
        ...(s6 !== undefined ? { ipv6: s6 === null ? true : [{ subnet: s6 }] } : {}),
      }),
    );
  };
  const h: Harness = {
    daemon,
    ipamMode: setup.ipamMode,
    driverMode: setup.driverMode,
    steps,
    async op(what, f) {
      const r = await attempt(what, f);
      if (r instanceof DaemonError) fail(what, r);
      return r as Awaited<ReturnType<typeof f>>;
    },
    attempt,
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
    spareSubnet() {
      const pool = arena.v4[nextPool];
      if (!pool) return null;
      nextPool++;
      return formatCidr(pool);
    },
    async tryNetwork(name, o = {}) {
      const ipv6 = o.ipv6 === true;
      // The null IPAM serves only its 0.0.0.0/0 pool: networks on it take no --subnet.
      const auto = setup.ipamMode === 'null' || o.subnet === null;
      const s4 = auto ? null : (o.subnet ?? h.subnet());
      const s6 = ipv6 ? (auto ? null : h.subnet6()) : undefined;
      const made = await create(name, s4, s6);
      if (!(made instanceof DaemonError)) return { subnet: s4, subnet6: s6 ?? null };
      const explicit = s4 !== null || (s6 !== undefined && s6 !== null);
      if (made.step === 'RequestPool' && explicit && setup.ipamMode === 'plugin') {
        // An IPAM that serves only the pools it was configured with (Calico): its automatic pool instead.
        const again = await create(name, null, ipv6 ? null : undefined);
        if (again instanceof DaemonError) return again;
        ctx.note(`the plugin's IPAM refused ${[s4, s6].filter((x) => x).join(' and ')} (${made.message}); networks use its automatic pool (give --subnet with pools it serves to check --ip)`);
        return { subnet: null, subnet6: null };
      }
      return made;
    },
    async network(name, o = {}) {
      const r = await h.tryNetwork(name, o);
      if (!(r instanceof DaemonError)) return r;
      // Without --driver-opt, or with an IPAM the user forced on the driver, a refusal says nothing about the plugin.
      const forced = setup.ipamMode !== 'plugin' && ctx.config.ipamDriver !== 'auto';
      if (r.step === 'CreateNetwork' && (Object.keys(ctx.config.driverOpts).length === 0 || forced)) {
        const ipamWord = setup.ipamMode === 'plugin' ? "the plugin's own IPAM" : setup.ipamMode === 'null' ? 'the null IPAM' : "Docker's default IPAM";
        ctx.skip(`the driver refused CreateNetwork with addresses from ${ipamWord} (${r.message}); if it needs driver options, give them with --driver-opt K=V${setup.ipamMode === 'plugin' ? '' : ' (or choose the IPAM with --ipam-driver)'}`);
      }
      return fail(steps[steps.length - 1] ?? `docker network create ${name}`, r);
    },
    freeAddress(network, family) {
      const view: NetworkView | undefined = daemon.inspect().networks.find((n) => n.name === network);
      if (view === undefined) return null;
      const pools = family === 4 ? view.ipv4 : view.ipv6;
      const used = new Set<bigint>();
      const mark = (text: string | null): void => {
        const a = text === null ? null : parseCidrWithAddress(text.includes('/') ? text : `${text}/${family === 4 ? 32 : 128}`);
        if (a && a.cidr.family === family) used.add(a.addr);
      };
      for (const p of pools) {
        mark(p.gateway);
        for (const a of Object.values(p.auxAddresses)) mark(a);
      }
      for (const n of daemon.inspect().networks) for (const ep of n.endpoints) mark(family === 4 ? ep.ipv4 : ep.ipv6);
      for (const p of pools) {
        const c = parseCidr(p.pool);
        if (c === null || c.family !== family) continue;
        // dockerd takes --ip only on user subnets; an automatic pool (0.0.0.0/0, ::/0) has none.
        if (c.prefix === 0) continue;
        const hosts = sizeOf(c) - 2n;
        if (hosts < 1n) continue;
        const span = hosts < 1n << 20n ? hosts : 1n << 20n;
        const start = BigInt(Math.floor(random() * Number(span)));
        // Offsets 1..span from a seeded start, wrapping: never the network or the last (broadcast) address.
        for (let i = 0n; i < span; i++) {
          const addr = c.base + 1n + ((start + i) % span);
          if (!used.has(addr)) return formatIp(family, addr);
        }
      }
      return null;
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
      for (const close of closers) await close();
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
