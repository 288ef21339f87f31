/**
 * Plain-data run configuration (csi-sanity's TestConfig). `defaultConfig()`
 * fills every default; the CLI binds its flags onto this object.
 */
import { UsageError } from '../src/errors.js';
import type { Profile } from '../src/protocol/constants.js';
import { parseCidr } from './cidr.js';
import type { Capability, Level } from './types.js';
import { LEVELS } from './types.js';

export interface ConformanceConfig {
  /** `--driver-opt K=V`: added to every CreateNetwork as `com.docker.network.generic`. */
  driverOpts: Record<string, string>;
  /** `--ipam-opt K=V`: the Options of every RequestPool. */
  ipamOpts: Record<string, string>;
  /** `--subnet CIDR`: pools to use instead of the private test ranges. */
  subnets: string[];
  /** `--suite`: suite ids to run (empty = all given). */
  suites: string[];
  /** Check ids (or id prefixes ending in `*`) to run; empty = all. */
  checks: string[];
  /** `--level`: lowest level that fails the run. */
  level: Level;
  profile: Profile;
  /** `--seed`: base seed of every property check. */
  seed: number;
  /** `--runs`: fast-check runs per model-based check. */
  runs: number;
  /** Longest generated command sequence. */
  maxCommands: number;
  /**
   * `--timeout` in ms: the longest a call may take. Default 30 s, the request timeout dockerd
   * gives managed plugins (`docker plugin enable --timeout`); v1 plugins have none (protocol.md
   * §1.5), so a call beyond it fails a managed plugin's docker command and blocks a v1 one.
   */
  timeoutMs: number;
  /**
   * `--run-budget` in ms: the whole run's time. Each check's budget shrinks so that a slow but
   * correct plugin still gets a verdict in about this time (fewer model runs, noted).
   */
  runBudgetMs: number;
  /** Time budget per check in ms (a check over budget fails and the run moves on). */
  checkBudgetMs: number;
  /** A reply slower than this is noted (not failed) by the timely-replies checks. */
  slowCallMs: number;
  /** `--plugin-kind`: v1 gets Plugin.Activate, managed never does; auto works it out from the handshake. */
  pluginKind: 'auto' | 'v1' | 'managed';
  /** Connections used by concurrency checks. */
  concurrency: number;
  /** Requests per concurrency storm. */
  stormSize: number;
  /** `--bail`: stop after the first failing check. */
  bail: boolean;
  /** Where replay files of failures go; null = do not write them. */
  replayDir: string | null;
  /** Force capabilities instead of probing (e.g. ['ipam'] for a plugin without Activate). */
  capabilities: Capability[] | null;
  /** Private ranges carved into test pools when `subnets` is empty. */
  defaultV4Base: string;
  defaultV6Base: string;
  /** Replay of one failure: the check seed and fast-check path recorded in a replay file. */
  replay: { readonly seed: number; readonly path?: string; readonly commandsReplayPath?: string } | null;
  /**
   * `--netns`: whether driver checks verify the plugin's links on the real kernel.
   * `auto` (default) does so when it can (root on Linux, a driver), `linux` insists (skips with
   * the reason otherwise), `none` turns it off.
   */
  netns: 'auto' | 'none' | 'linux';
  /** Named netns (`ip netns`) where the plugin creates its links; null = this process's namespace. */
  netnsHost: string | null;
  /** `--restart-cmd CMD`: argv (no shell) that restarts the plugin; enables lifecycle.restart-keeps-state. */
  restartCmd: string[] | null;
  /**
   * `--ipam-driver`: where driver checks get a network's addresses, as `docker network create
   * --ipam-driver` chooses. `auto` (default): the plugin's own IPAM when it is one, else Docker's
   * default IPAM, falling back to `null` when the driver refuses foreign addressing but takes the
   * null IPAM's; `default`: Docker's built-in IPAM (played by the checker); `plugin`: the plugin's
   * own IpamDriver; `null`: Docker's null IPAM (AddressSpace "null", pool 0.0.0.0/0, no addresses:
   * the driver supplies them, as docker-net-dhcp does).
   */
  ipamDriver: 'auto' | 'default' | 'plugin' | 'null';
}

export type ResolvedConfig = Readonly<ConformanceConfig>;

export function defaultConfig(overrides: Partial<ConformanceConfig> = {}): ConformanceConfig {
  const config: ConformanceConfig = {
    driverOpts: {},
    ipamOpts: {},
    subnets: [],
    suites: [],
    checks: [],
    level: 'should',
    profile: 'docker-20.10',
    seed: 42,
    runs: 100,
    maxCommands: 30,
    timeoutMs: 30_000,
    runBudgetMs: 600_000,
    checkBudgetMs: 60_000,
    slowCallMs: 1_000,
    pluginKind: 'auto',
    concurrency: 8,
    stormSize: 200,
    bail: false,
    replayDir: './cnmkit-replays',
    capabilities: null,
    defaultV4Base: '10.199.0.0/16',
    defaultV6Base: 'fd00:c0::/48',
    replay: null,
    netns: 'auto',
    netnsHost: null,
    restartCmd: null,
    ipamDriver: 'auto',
    ...overrides,
  };
  validateConfig(config);
  return config;
}

/** Throws UsageError (exit code 2) for values no run can use. */
export function validateConfig(c: ConformanceConfig): void {
  if (!LEVELS.includes(c.level)) throw new UsageError(`--level must be one of ${LEVELS.join(', ')}, got ${String(c.level)}`);
  if (c.profile !== 'docker-20.10' && c.profile !== 'moby') throw new UsageError(`--profile must be docker-20.10 or moby, got ${String(c.profile)}`);
  for (const [name, v, min] of [
    ['runs', c.runs, 1],
    ['timeout', c.timeoutMs, 1],
    ['maxCommands', c.maxCommands, 1],
    ['concurrency', c.concurrency, 1],
    ['stormSize', c.stormSize, 1],
    ['checkBudgetMs', c.checkBudgetMs, 1],
    ['runBudgetMs', c.runBudgetMs, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new UsageError(`${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  if (!['auto', 'v1', 'managed'].includes(c.pluginKind)) throw new UsageError(`--plugin-kind must be auto, v1 or managed, got ${String(c.pluginKind)}`);
  if (!['auto', 'none', 'linux'].includes(c.netns)) throw new UsageError(`--netns must be auto, none or linux, got ${String(c.netns)}`);
  if (!['auto', 'default', 'plugin', 'null'].includes(c.ipamDriver)) throw new UsageError(`--ipam-driver must be auto, default, plugin or null, got ${String(c.ipamDriver)}`);
  if (c.restartCmd !== null && (c.restartCmd.length === 0 || c.restartCmd[0] === '')) throw new UsageError('--restart-cmd: empty command');
  if (!Number.isInteger(c.seed)) throw new UsageError(`--seed must be an integer, got ${String(c.seed)}`);
  for (const s of [...c.subnets, c.defaultV4Base, c.defaultV6Base]) {
    if (!parseCidr(s)) throw new UsageError(`--subnet: not a CIDR: ${s}`);
  }
}

/** Parse repeatable `K=V` flags. */
export function parseKeyValues(items: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} expects K=V, got ${JSON.stringify(item)}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
