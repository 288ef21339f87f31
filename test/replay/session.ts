/**
 * Test sessions for the replay engine: the daemon simulator (src/daemon, the
 * calls dockerd makes, with its rollbacks) drives a plugin socket through a
 * list of docker commands, and every exchange is written as a
 * `cnmkit-trace/1` call line, the way `cnmkit record` writes them. Plus
 * the plugins to record and replay against: correct ones that choose other
 * ids, addresses, pools and names, and broken ones.
 */
import type { CallRecord } from '../../src/client/types.js';
import { methodByPath } from '../../src/protocol/methods.js';
import { ACCEPT_HEADER } from '../../src/protocol/constants.js';
import { TRACE_FORMAT, type TraceCall, type TraceHeader, type TraceSession } from '../../src/record/trace.js';
import { createHost } from '../../src/simulate/host.js';
import type { Scenario, ScenarioAction, ScenarioStep } from '../../src/simulate/scenario.js';
import { linkLocalDriverMethods } from '../conformance/designs/linklocal-driver.js';
import { type FixtureMethods, serveFixture, refuse } from '../conformance/designs/serve.js';
import { seededRandom, statefulIpamMethods } from '../conformance/designs/stateful-ipam.js';
import type { ListeningPlugin } from '../conformance/plugins/listen.js';

function parsed(text: string | undefined): unknown {
  if (text === undefined || text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** One client call record as a trace call line (dockerd's 20.10 framing on a unix socket). */
export function traceCallOf(r: CallRecord, seq: number): TraceCall {
  const spec = methodByPath(r.path);
  const body = r.request;
  return {
    type: 'call',
    seq,
    conn: 1,
    t0: r.startedAt,
    t1: r.startedAt + r.durationMs,
    durMs: r.durationMs,
    request: {
      method: 'POST',
      path: r.path,
      headers: [
        ['Host', ''],
        ['User-Agent', 'Go-http-client/1.1'],
        ['Content-Length', String(Buffer.byteLength(body))],
        ['Accept', ACCEPT_HEADER],
      ],
      body,
    },
    ...(r.status !== undefined
      ? { reply: { status: r.status, headers: Object.entries(r.replyHeaders ?? {}), body: r.response ?? '' } }
      : { error: { kind: 'upstream-closed' as const, message: r.error ?? r.outcome } }),
    call: {
      method: spec?.method ?? r.path.slice(1),
      iface: spec?.iface ?? '',
      request: parsed(r.request),
      reply: parsed(r.response),
      ok: r.outcome === 'ok',
      ...(r.outcome === 'ok' ? {} : { err: r.error ?? r.outcome }),
    },
    violations: [],
  };
}

export function headerFor(name: string, socket: string): TraceHeader {
  return { type: 'header', format: TRACE_FORMAT, name, socket, upstream: { kind: 'socket', address: socket }, startedAt: new Date(0).toISOString(), cnmkit: 'test', profile: 'docker-20.10' };
}

const net = (name: string, subnet?: string, extra: Record<string, unknown> = {}): ScenarioAction => ({
  kind: 'network-create',
  name,
  subnets: subnet === undefined ? [] : [{ subnet, ...extra }],
  ipv6: false,
  internal: false,
  ipamOptions: {},
});

/** A session with automatic pools and addresses, a fixed --ip, a restart of a container, a network removed. */
export const SESSION: readonly ScenarioAction[] = [
  net('auto'),
  net('fixed', '10.7.1.0/24', { ipRange: '10.7.1.8/29' }),
  { kind: 'run', name: 'c1', networks: ['auto'] },
  { kind: 'run', name: 'c2', networks: ['fixed'] },
  { kind: 'run', name: 'c3', networks: ['fixed'], ip: '10.7.1.9' },
  { kind: 'stop', name: 'c1' },
  { kind: 'run', name: 'c4', networks: ['auto', 'fixed'] },
  { kind: 'start', name: 'c1' },
  { kind: 'stop', name: 'c2' },
  { kind: 'stop', name: 'c3' },
  { kind: 'stop', name: 'c4' },
  { kind: 'stop', name: 'c1' },
  { kind: 'network-rm', name: 'fixed' },
];

/** Steps without injected faults: a recorder sees only what the plugin really answered. */
export function plainSteps(actions: readonly ScenarioAction[]): ScenarioStep[] {
  return actions.map((action) => ({ action, line: 0 }));
}

/**
 * Run docker commands through the daemon simulator against the plugin at
 * `socket` and return the session as a trace (errors of the commands are the
 * user's: they are in the calls).
 */
export async function recordSession(socket: string, steps: readonly ScenarioStep[]): Promise<TraceSession> {
  const scenario: Scenario = { title: 'replay test', explain: '', file: 'test', steps: [...steps] };
  const host = await createHost(scenario, { socket });
  const records: CallRecord[] = [];
  const off = host.onCall((r) => records.push(r));
  try {
    for (const s of steps) {
      try {
        await host.perform(s.action);
      } catch {
        // The command failed for the user; its calls are recorded.
      }
    }
  } finally {
    off();
    await host.close();
  }
  return { header: headerFor('test', socket), calls: records.map((r, i) => traceCallOf(r, i + 1)) };
}

/** The text of a trace file holding these sessions. */
export function traceText(sessions: readonly Pick<TraceSession, 'header' | 'calls'>[]): string {
  return sessions.map((s) => [s.header, ...s.calls].map((l) => `${JSON.stringify(l)}\n`).join('')).join('');
}

/**
 * A correct plugin that differs from the reference in every choice the
 * replay must re-map: random addresses and automatic pools, opaque PoolIDs,
 * its own address space names, link-local gateway and its own link names.
 */
export function otherPluginMethods(seed: number): FixtureMethods {
  const random = seededRandom(seed);
  return {
    ...statefulIpamMethods({
      random,
      spaces: { local: 'OtherLocal', global: 'OtherGlobal' },
      poolId: () => `op-${Math.floor(random() * 2 ** 40).toString(36)}`,
    }),
    ...linkLocalDriverMethods(),
  };
}

export type Breakage =
  /** The second automatic address of a pool is the first one again (a duplicate). */
  | 'duplicate-address'
  /** Join is refused. */
  | 'join-refused'
  /** CreateEndpoint answers the supplied address back (dockerd rolls the start back). */
  | 'echo-address';

/** The other plugin with one bug. */
export function brokenPluginMethods(seed: number, breakage: Breakage): FixtureMethods {
  const m = otherPluginMethods(seed);
  switch (breakage) {
    case 'duplicate-address': {
      const inner = m['/IpamDriver.RequestAddress']!;
      const first = new Map<string, unknown>();
      return {
        ...m,
        '/IpamDriver.RequestAddress': (b) => {
          const auto = b['Address'] === '' || b['Address'] === undefined;
          const gateway = JSON.stringify(b['Options'] ?? null).includes('com.docker.network.gateway');
          const id = String(b['PoolID']);
          if (!auto || gateway) return inner(b);
          const seen = first.get(id);
          if (seen !== undefined) return seen;
          const reply = inner(b);
          first.set(id, reply);
          return reply;
        },
      };
    }
    case 'join-refused':
      return { ...m, '/NetworkDriver.Join': () => refuse('no links left') };
    case 'echo-address': {
      const inner = m['/NetworkDriver.CreateEndpoint']!;
      return {
        ...m,
        '/NetworkDriver.CreateEndpoint': (b) => {
          inner(b);
          const i = (b['Interface'] ?? {}) as Record<string, unknown>;
          return { Interface: { Address: i['Address'] ?? '' } };
        },
      };
    }
  }
}

export function servePlugin(socket: string, methods: FixtureMethods): Promise<ListeningPlugin> {
  return serveFixture(socket, methods, { implements: ['NetworkDriver', 'IpamDriver'] });
}
