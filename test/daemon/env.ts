/**
 * Test environment of the daemon simulator: a virtual backend, a driver, the
 * reference IPAM behind a swappable slot (a "plugin restart" loses its
 * state), all served in process through the real client, with a faultyCaller
 * in front and a daemon on top.
 */
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import { DaemonError, createDaemon, faultyCaller, inProcessPlugin, type Fault, type FaultRule, type FaultyCaller, type InProcessPlugin, type SimulatedDaemon } from '../../src/daemon/index.js';
import { createReferenceDriver } from '../../src/driver/index.js';
import { createIpam, type AddressPoolSpec, type SyncReferenceIpam } from '../../src/ipam/index.js';
import type { IpamApi, NetworkDriverApi } from '../../src/protocol/api.js';
import type { Profile } from '../../src/protocol/constants.js';
import { fakeDriver, type FakeDriverKnobs } from './fakes.js';

export interface EnvOptions {
  profile?: Profile;
  ipam?: { requiresRequestReplay?: boolean; requiresMACAddress?: boolean; defaultAddressPools?: AddressPoolSpec[] };
  driver?: FakeDriverKnobs;
  /** `reference`: the reference bridge driver (deterministic MACs); default: the fake driver of fakes.ts. */
  driverKind?: 'fake' | 'reference';
  daemon?: { hostRoutes?: string[] };
  seed?: number;
}

export interface Env {
  backend: VirtualBackend;
  ipamSlot: { current: SyncReferenceIpam };
  plugin: InProcessPlugin;
  faulty: FaultyCaller;
  daemon: SimulatedDaemon;
  /** Replace the IPAM by a fresh one (the plugin process restarted without state). */
  restartIpam(): void;
  close(): Promise<void>;
}

export async function makeEnv(opts: EnvOptions = {}): Promise<Env> {
  const backend = new VirtualBackend({ seed: opts.seed ?? 1 });
  const mkIpam = () =>
    createIpam({
      ...(opts.ipam?.requiresRequestReplay ? { requiresRequestReplay: true } : {}),
      ...(opts.ipam?.defaultAddressPools ? { defaultAddressPools: opts.ipam.defaultAddressPools } : {}),
    });
  const ipamSlot = { current: mkIpam() };
  const ipam: IpamApi = {
    getCapabilities: () => ({ ...ipamSlot.current.getCapabilities(), ...(opts.ipam?.requiresMACAddress ? { RequiresMACAddress: true } : {}) }),
    getDefaultAddressSpaces: () => ipamSlot.current.getDefaultAddressSpaces(),
    requestPool: (r) => ipamSlot.current.requestPool(r),
    releasePool: (r) => ipamSlot.current.releasePool(r),
    requestAddress: (r) => ipamSlot.current.requestAddress(r),
    releaseAddress: (r) => ipamSlot.current.releaseAddress(r),
  };
  let macSeed = opts.seed ?? 1;
  const driver: NetworkDriverApi =
    opts.driverKind === 'reference'
      ? createReferenceDriver({
          backend,
          ...(opts.profile ? { profile: opts.profile } : {}),
          ...(opts.driver?.scope ? { scope: opts.driver.scope } : {}),
          randomBytes: (n) => Uint8Array.from({ length: n }, () => (macSeed = (Math.imul(macSeed, 1103515245) + 12345) >>> 0) >>> 24),
        })
      : fakeDriver(backend, opts.driver ?? {});
  const plugin = await inProcessPlugin({ driver, ipam, ...(opts.profile ? { profile: opts.profile } : {}) });
  const faulty = faultyCaller(plugin.client);
  const daemon = createDaemon({
    driver: faulty,
    ipam: faulty,
    backend,
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.daemon?.hostRoutes ? { hostRoutes: opts.daemon.hostRoutes } : {}),
    ids: opts.seed ?? 1,
  });
  return {
    backend,
    ipamSlot,
    plugin,
    faulty,
    daemon,
    restartIpam() {
      ipamSlot.current = mkIpam();
    },
    async close() {
      daemon.close();
      await plugin.close();
    },
  };
}

/** A fault as written in the sequence fixtures. */
export interface FaultJson {
  method: string;
  occurrence?: number;
  kind: Fault['kind'];
  message?: string;
  /** kind `plugin-error`: HTTP status (default 500; 200 = error field in a 200 reply). */
  status?: number;
  forward?: boolean;
  body?: string;
  /** kind `reply`: fields merged into the reply; `$request.A.B` strings are taken from the request. */
  set?: Record<string, unknown>;
  /** Partial match on the request. */
  where?: unknown;
}

function resolveRefs(v: unknown, req: unknown): unknown {
  if (typeof v === 'string' && v.startsWith('$request.')) {
    let cur: unknown = req;
    for (const k of v.slice('$request.'.length).split('.')) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
    return cur;
  }
  if (Array.isArray(v)) return v.map((x) => resolveRefs(x, req));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveRefs(x, req)]));
  return v;
}

/** `pattern` matches `value` partially: objects by their listed keys, `$any` any non-empty string. */
export function partialMatch(value: unknown, pattern: unknown): boolean {
  if (pattern === '$any') return typeof value === 'string' && value !== '';
  if (pattern === null || typeof pattern !== 'object') return value === pattern;
  if (Array.isArray(pattern)) return Array.isArray(value) && value.length === pattern.length && pattern.every((p, i) => partialMatch(value[i], p));
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(pattern).every(([k, p]) => partialMatch((value as Record<string, unknown>)[k], p));
}

export function faultRule(f: FaultJson): FaultRule {
  let fault: Fault;
  switch (f.kind) {
    case 'plugin-error':
      fault = { kind: 'plugin-error', ...(f.message !== undefined ? { message: f.message } : {}), ...(f.status !== undefined ? { status: f.status } : {}), ...(f.forward !== undefined ? { forward: f.forward } : {}) };
      break;
    case 'not-found':
      fault = { kind: 'not-found', ...(f.forward !== undefined ? { forward: f.forward } : {}) };
      break;
    case 'timeout':
      fault = { kind: 'timeout', ...(f.forward !== undefined ? { forward: f.forward } : {}) };
      break;
    case 'bad-reply':
      fault = { kind: 'bad-reply', ...(f.body !== undefined ? { body: f.body } : {}), ...(f.forward !== undefined ? { forward: f.forward } : {}) };
      break;
    case 'reply': {
      const set = f.set ?? {};
      fault = { kind: 'reply', patch: (value, req) => ({ ...value, ...(resolveRefs(set, req) as Record<string, unknown>) }) };
      break;
    }
  }
  return { method: f.method, ...(f.occurrence !== undefined ? { occurrence: f.occurrence } : {}), ...(f.where !== undefined ? { match: (r: unknown) => partialMatch(r, f.where) } : {}), fault };
}

/** Stop and remove every container, remove every network (faults cleared first). */
export async function teardown(env: Env): Promise<void> {
  env.faulty.clearRules();
  const view = env.daemon.inspect();
  for (const c of view.containers) await env.daemon.containerRm(c.name, { force: true });
  for (const n of env.daemon.inspect().networks) {
    try {
      await env.daemon.networkRm(n.name);
    } catch (e) {
      // A driver that failed GetCapabilities stays unresolved until the daemon restarts (protocol.md §1.7).
      if (!(e instanceof DaemonError && e.step === 'activate')) throw e;
      await env.daemon.daemonRestart();
      await env.daemon.networkRm(n.name);
    }
  }
}
