/**
 * `cnmkit simulate --trace TRACE.jsonl`: a session recorded by `cnmkit
 * record` as the simulate view (text and HTML page). The calls are grouped
 * into the docker commands that made them (dockerd's call sequences,
 * protocol.md §4: network create = pools, gateway, CreateNetwork; start =
 * addresses, CreateEndpoint, Join; stop = Leave, DeleteEndpoint, release;
 * network rm = releases, DeleteNetwork), and the state after each command is
 * what dockerd knows from the calls: pools with the addresses it was handed
 * and who holds them, networks, containers (one per sandbox), and which link
 * of the plugin went into which sandbox. Nothing is run.
 */
import type { TraceCall as RecordedCall, TraceSession } from '../record/trace.js';
import { methodByPath } from '../protocol/methods.js';
import { addressPart, netEnd, parseCidr } from '../net/index.js';
import { formatIp } from '../net/ip.js';
import { TRACE_VERSION, type AddressHolder, type ContainerView, type NamespaceView, type NetworkView, type PoolView, type SimState, type Trace, type TraceCall, type TraceStep } from './trace.js';

const GATEWAY_MARK = 'com.docker.network.gateway';

type StepKind = 'handshake' | 'create' | 'start' | 'stop' | 'rm' | 'other';

interface Sets {
  readonly normal: ReadonlySet<string>;
  /** Allowed once a call of the step failed (dockerd's rollback). */
  readonly rollback: ReadonlySet<string>;
  /** Start another step of the same kind once this one has ended. */
  readonly openers: ReadonlySet<string>;
  readonly end: ReadonlySet<string>;
}

const set = (...xs: string[]): ReadonlySet<string> => new Set(xs);

const KINDS: Record<StepKind, Sets> = {
  handshake: { normal: set('Activate', 'GetCapabilities', 'GetDefaultAddressSpaces'), rollback: set(), openers: set(), end: set() },
  create: {
    normal: set('GetDefaultAddressSpaces', 'RequestPool', 'RequestAddress', 'GwAllocCheck', 'CreateNetwork'),
    rollback: set('ReleaseAddress', 'ReleasePool', 'DeleteNetwork'),
    openers: set('RequestPool', 'GetDefaultAddressSpaces'),
    end: set('CreateNetwork'),
  },
  start: {
    normal: set('RequestAddress', 'CreateEndpoint', 'Join', 'ProgramExternalConnectivity', 'RevokeExternalConnectivity', 'EndpointOperInfo'),
    rollback: set('DeleteEndpoint', 'ReleaseAddress', 'Leave'),
    openers: set('RequestAddress', 'CreateEndpoint'),
    end: set('Join'),
  },
  stop: {
    normal: set('RevokeExternalConnectivity', 'Leave', 'DeleteEndpoint', 'ReleaseAddress', 'ProgramExternalConnectivity', 'EndpointOperInfo'),
    rollback: set(),
    openers: set(),
    end: set(),
  },
  rm: { normal: set('ReleaseAddress', 'ReleasePool', 'DeleteNetwork'), rollback: set(), openers: set('ReleasePool', 'ReleaseAddress'), end: set('DeleteNetwork') },
  other: { normal: set(), rollback: set(), openers: set(), end: set() },
};

interface PoolRec {
  readonly id: string;
  readonly pool: string;
  readonly family: 4 | 6;
  readonly range: string | null;
  readonly explicit: boolean;
  network: string | null;
  leak?: string;
  /** Bare address -> holder; `who` of container addresses is resolved when the state is taken. */
  readonly holders: Map<string, { role: AddressHolder['role']; who: string; endpoint?: string }>;
}

interface EndpointRec {
  readonly id: string;
  readonly network: string;
  readonly addresses: string[];
  sandbox: string | null;
  joined: boolean;
  srcName: string;
  ifName: string;
}

interface NetRec {
  readonly id: string;
  readonly subnets: NetworkView['subnets'];
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const short = (id: string): string => (/^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id);

function parsedBody(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** What dockerd knows after the calls so far, and the grouping of calls into commands. */
class RecordingState {
  readonly pools = new Map<string, PoolRec>();
  readonly networks = new Map<string, NetRec>();
  readonly endpoints = new Map<string, EndpointRec>();
  /** Sandbox key -> container name, in order of first Join. */
  readonly sandboxes = new Map<string, string>();

  containerOf(endpointId: string): string {
    const ep = this.endpoints.get(endpointId);
    if (ep?.sandbox) return this.sandboxes.get(ep.sandbox) ?? ep.sandbox;
    return `endpoint ${short(endpointId)}`;
  }

  isNetworkAddress(poolId: string, address: string): boolean {
    const role = this.pools.get(poolId)?.holders.get(addressPart(address))?.role;
    return role === 'gateway' || role === 'aux';
  }

  apply(c: RecordedCall): void {
    const method = c.call.method;
    const req = obj(c.call.request);
    const rep = obj(c.call.reply);
    const ok = c.call.ok;
    switch (method) {
      case 'RequestPool': {
        if (!ok) return;
        const net = parseCidr(str(rep['Pool']));
        if (net === null) return;
        this.pools.set(str(rep['PoolID']), { id: str(rep['PoolID']), pool: net.text, family: net.family, range: str(req['SubPool']) || null, explicit: str(req['Pool']) !== '', network: null, holders: new Map() });
        return;
      }
      case 'RequestAddress': {
        const p = this.pools.get(str(req['PoolID']));
        if (!ok || p === undefined) return;
        const a = addressPart(str(rep['Address']));
        const gateway = str(obj(req['Options'])['RequestAddressType']) === GATEWAY_MARK;
        // Before CreateNetwork an explicit address of the pool is an --aux-address; otherwise a container's.
        const role = gateway ? 'gateway' : p.network === null && str(req['Address']) !== '' ? 'aux' : 'container';
        p.holders.set(a, { role, who: role === 'gateway' ? 'gateway' : role === 'aux' ? 'aux' : 'not attached yet' });
        return;
      }
      case 'ReleaseAddress': {
        const p = this.pools.get(str(req['PoolID']));
        if (p === undefined) return;
        const a = addressPart(str(req['Address']));
        if (ok) p.holders.delete(a);
        else p.holders.set(a, { role: 'leaked', who: `release refused (seq ${c.seq}): ${c.call.err ?? ''}` });
        return;
      }
      case 'ReleasePool': {
        const id = str(req['PoolID']);
        const p = this.pools.get(id);
        if (p === undefined) return;
        if (ok) this.pools.delete(id);
        else {
          p.network = null;
          p.leak = `ReleasePool refused (seq ${c.seq}): ${c.call.err ?? ''}`;
        }
        return;
      }
      case 'CreateNetwork': {
        if (!ok) return;
        const id = str(req['NetworkID']);
        const subnets: { subnet: string; gateway: string | null; range: string | null }[] = [];
        for (const d of [...(Array.isArray(req['IPv4Data']) ? req['IPv4Data'] : []), ...(Array.isArray(req['IPv6Data']) ? req['IPv6Data'] : [])]) {
          const data = obj(d);
          const pool = parseCidr(str(data['Pool']))?.text ?? str(data['Pool']);
          const rec = [...this.pools.values()].reverse().find((p) => p.network === null && p.leak === undefined && p.pool === pool);
          if (rec !== undefined) {
            rec.network = id;
            for (const [name, addr] of Object.entries(obj(data['AuxAddresses']))) {
              const h = rec.holders.get(addressPart(str(addr)));
              if (h !== undefined) h.who = `aux ${name}`;
            }
          }
          subnets.push({ subnet: pool, gateway: str(data['Gateway']) ? addressPart(str(data['Gateway'])) : null, range: rec?.range ?? null });
        }
        this.networks.set(id, { id, subnets });
        return;
      }
      case 'DeleteNetwork': {
        const id = str(req['NetworkID']);
        this.networks.delete(id);
        for (const p of this.pools.values()) if (p.network === id) p.network = null;
        return;
      }
      case 'CreateEndpoint': {
        if (!ok) return;
        const id = str(req['EndpointID']);
        const asked = obj(req['Interface']);
        const got = obj(rep['Interface']);
        const addresses = ['Address', 'AddressIPv6'].map((k) => str(asked[k]) || str(got[k])).filter((a) => a !== '').map(addressPart);
        this.endpoints.set(id, { id, network: str(req['NetworkID']), addresses, sandbox: null, joined: false, srcName: '', ifName: '' });
        for (const p of this.pools.values()) for (const a of addresses) {
          const h = p.holders.get(a);
          if (h !== undefined && h.role === 'container' && p.network === str(req['NetworkID'])) h.endpoint = id;
        }
        return;
      }
      case 'Join': {
        const ep = this.endpoints.get(str(req['EndpointID']));
        if (!ok || ep === undefined) return;
        const key = str(req['SandboxKey']);
        if (!this.sandboxes.has(key)) this.sandboxes.set(key, `ctr-${key.split('/').pop()?.slice(0, 12) ?? this.sandboxes.size}`);
        ep.sandbox = key;
        ep.joined = true;
        const names = obj(rep['InterfaceName']);
        ep.srcName = str(names['SrcName']);
        const prefix = str(names['DstPrefix']);
        if (ep.srcName !== '' && prefix !== '') {
          const used = [...this.endpoints.values()].filter((e) => e !== ep && e.sandbox === key && e.joined && e.ifName.startsWith(prefix)).length;
          ep.ifName = `${prefix}${used}`;
        } else ep.ifName = '';
        return;
      }
      case 'Leave': {
        const ep = this.endpoints.get(str(req['EndpointID']));
        if (ep !== undefined) ep.joined = false;
        return;
      }
      case 'DeleteEndpoint':
        this.endpoints.delete(str(req['EndpointID']));
        return;
      default:
        return;
    }
  }

  snapshot(): SimState {
    const networks: NetworkView[] = [...this.networks.values()].map((n) => ({ name: short(n.id), id: n.id, subnets: n.subnets }));
    const containers = new Map<string, { running: boolean; addresses: Record<string, string[]> }>();
    for (const name of this.sandboxes.values()) containers.set(name, { running: false, addresses: {} });
    for (const ep of this.endpoints.values()) {
      const name = this.containerOf(ep.id);
      const c = containers.get(name) ?? { running: false, addresses: {} };
      c.running ||= ep.joined;
      c.addresses[short(ep.network)] = [...(c.addresses[short(ep.network)] ?? []), ...ep.addresses];
      containers.set(name, c);
    }
    const pools: PoolView[] = [...this.pools.values()].map((p) => {
      const net = parseCidr(p.pool)!;
      const size = 1n << BigInt(net.hostBits);
      const first = formatIp({ family: net.family, value: net.base });
      const last = formatIp({ family: net.family, value: netEnd(net) });
      const reserved = net.family === 4 && net.hostBits >= 2 ? [first, last] : [first];
      const holders: AddressHolder[] = [...p.holders.entries()].map(([address, h]) => ({
        address,
        role: h.role,
        who: h.role === 'container' && h.endpoint !== undefined ? this.containerOf(h.endpoint) : h.who,
      }));
      return {
        id: p.id,
        network: p.network === null ? null : short(p.network),
        family: p.family,
        pool: p.pool,
        range: p.range,
        size: size.toString(),
        reserved,
        holders,
        runs: null,
        allocated: String(holders.length),
        ...(p.network === null ? { leak: p.leak ?? 'not released yet (or its network was never created)' } : {}),
      };
    });
    const tree: NamespaceView[] = [];
    const hostLinks: NamespaceView['links'][number][] = [];
    for (const [key, label] of this.sandboxes) {
      const eps = [...this.endpoints.values()].filter((e) => e.sandbox === key && e.joined && e.ifName !== '');
      if (eps.length === 0) continue;
      tree.push({ key, label, links: eps.map((e) => ({ name: e.ifName, kind: 'link', up: true, master: null, peer: { namespace: 'host', name: e.srcName }, addresses: e.addresses })) });
      for (const e of eps) hostLinks.push({ name: e.srcName, kind: 'link', up: true, master: null, peer: { namespace: key, name: e.ifName }, addresses: [] });
    }
    tree.unshift({ key: 'host', label: 'host', links: hostLinks });
    return { networks, containers: [...containers.entries()].map(([name, c]) => ({ name, running: c.running, addresses: c.addresses })) as ContainerView[], pools, tree };
  }
}

interface OpenStep {
  kind: StepKind;
  calls: RecordedCall[];
  failed: boolean;
  ended: boolean;
  /** The sandbox a start joined. */
  sandbox: string | null;
  /** The sandboxes a stop tears down. */
  readonly sandboxes: Set<string>;
  readonly endpoints: Set<string>;
  readonly deleted: Set<string>;
  /** `PoolID address` of the addresses handed out in this step. */
  readonly addresses: Set<string>;
  readonly pools: Set<string>;
}

function kindOf(c: RecordedCall, st: RecordingState): StepKind {
  const m = c.call.method;
  const req = obj(c.call.request);
  if (KINDS.handshake.normal.has(m)) return 'handshake';
  switch (m) {
    case 'RequestPool':
    case 'CreateNetwork':
    case 'GwAllocCheck':
      return 'create';
    case 'RequestAddress':
      return str(obj(req['Options'])['RequestAddressType']) === GATEWAY_MARK ? 'create' : 'start';
    case 'CreateEndpoint':
    case 'Join':
    case 'ProgramExternalConnectivity':
    case 'EndpointOperInfo':
      return 'start';
    case 'Leave':
    case 'RevokeExternalConnectivity':
    case 'DeleteEndpoint':
      return 'stop';
    case 'ReleaseAddress':
      return st.isNetworkAddress(str(req['PoolID']), str(req['Address'])) ? 'rm' : 'stop';
    case 'ReleasePool':
    case 'DeleteNetwork':
      return 'rm';
    default:
      return 'other';
  }
}

function belongs(step: OpenStep, c: RecordedCall, kind: StepKind, st: RecordingState): boolean {
  const m = c.call.method;
  const req = obj(c.call.request);
  const sets = KINDS[step.kind];
  if (step.kind === 'other') return kind === 'other';
  if (step.ended && sets.openers.has(m)) return false;
  const endpoint = str(req['EndpointID']);
  const sandbox = st.endpoints.get(endpoint)?.sandbox ?? null;
  if (step.kind === 'stop') {
    // `docker stop a b` interleaves the teardowns: another sandbox joins the step until every endpoint in it is deleted.
    if ((m === 'Leave' || m === 'RevokeExternalConnectivity') && sandbox !== null && !step.sandboxes.has(sandbox) && step.sandboxes.size > 0) {
      if ([...step.endpoints].every((e) => step.deleted.has(e))) return false;
    }
    // The gateway and aux addresses go at network rm.
    if (m === 'ReleaseAddress' && st.isNetworkAddress(str(req['PoolID']), str(req['Address']))) return false;
  }
  if (step.kind === 'start') {
    // Teardown calls are this start's only when they undo it (rollback) or move its sandbox's gateway.
    if (m === 'RevokeExternalConnectivity' && !step.endpoints.has(endpoint)) return step.sandbox !== null && sandbox === step.sandbox;
    if (m === 'Leave' || m === 'RevokeExternalConnectivity' || m === 'DeleteEndpoint') return step.failed && step.endpoints.has(endpoint);
    if (m === 'ReleaseAddress') return step.failed && step.addresses.has(`${str(req['PoolID'])} ${addressPart(str(req['Address']))}`);
  }
  if (step.kind === 'create') {
    if (m === 'ReleaseAddress' || m === 'ReleasePool') return step.failed && step.pools.has(str(req['PoolID']));
    if (kind === 'start' && step.ended) return false;
  }
  return sets.normal.has(m) || (step.failed && sets.rollback.has(m));
}

/** What a call adds to its step's scope (endpoints, addresses, pools it made). */
function track(step: OpenStep, c: RecordedCall, st: RecordingState): void {
  const req = obj(c.call.request);
  const rep = obj(c.call.reply);
  switch (c.call.method) {
    case 'RequestPool':
      if (c.call.ok) step.pools.add(str(rep['PoolID']));
      return;
    case 'RequestAddress':
      if (c.call.ok) step.addresses.add(`${str(req['PoolID'])} ${addressPart(str(rep['Address']))}`);
      return;
    case 'CreateEndpoint':
      step.endpoints.add(str(req['EndpointID']));
      return;
    case 'Leave':
    case 'RevokeExternalConnectivity':
      if (step.kind === 'stop') {
        step.endpoints.add(str(req['EndpointID']));
        const sb = st.endpoints.get(str(req['EndpointID']))?.sandbox;
        if (sb) step.sandboxes.add(sb);
      }
      return;
    case 'DeleteEndpoint':
      step.deleted.add(str(req['EndpointID']));
      return;
    case 'Join':
      step.endpoints.add(str(req['EndpointID']));
      if (step.kind === 'start') step.sandbox = st.endpoints.get(str(req['EndpointID']))?.sandbox ?? step.sandbox;
      return;
    default:
      return;
  }
}

function describeStep(s: OpenStep, st: RecordingState): string {
  const req = (c: RecordedCall): Record<string, unknown> => obj(c.call.request);
  const find = (m: string): RecordedCall | undefined => s.calls.find((c) => c.call.method === m);
  switch (s.kind) {
    case 'handshake':
      return 'plugin activation (dockerd looks the plugin up)';
    case 'create': {
      const cn = find('CreateNetwork');
      const subnets = s.calls.filter((c) => c.call.method === 'RequestPool' && c.call.ok).map((c) => (str(req(c)['Pool']) ? `--subnet ${str(req(c)['Pool'])}` : `(automatic pool ${str(obj(c.call.reply)['Pool'])})`));
      return `docker network create ${[...new Set(subnets)].join(' ')}${cn ? ` -> network ${short(str(req(cn)['NetworkID']))}` : ''}`.replace(/\s+->/, ' ->');
    }
    case 'start': {
      const eps = [...new Set(s.calls.filter((c) => c.call.method === 'CreateEndpoint' || c.call.method === 'Join').map((c) => str(req(c)['EndpointID'])))];
      const nets = [...new Set(s.calls.filter((c) => c.call.method === 'CreateEndpoint').map((c) => short(str(req(c)['NetworkID']))))];
      const who = eps.length > 0 ? st.containerOf(eps[0]!) : 'a container';
      return `docker run / start ${who}${nets.length > 0 ? ` on ${nets.join(', ')}` : ''}`;
    }
    case 'stop': {
      const ep = s.calls.map((c) => str(req(c)['EndpointID'])).find((e) => e !== '');
      const names = [...s.sandboxes].map((k) => st.sandboxes.get(k) ?? k);
      return `docker stop ${names.length > 0 ? names.join(' ') : ep !== undefined ? `endpoint ${short(ep)}` : '(addresses released)'}`;
    }
    case 'rm': {
      const dn = find('DeleteNetwork');
      return `docker network rm ${dn ? short(str(req(dn)['NetworkID'])) : '(pools released)'}`;
    }
    case 'other':
      return `other calls: ${[...new Set(s.calls.map((c) => c.request.path))].join(', ')}`;
  }
}

/** The error as dockerd words it: `Interface.Method: message`. */
function errorText(c: RecordedCall): string {
  const name = `${c.call.iface}.${c.call.method}`;
  const err = c.call.err ?? c.error?.message ?? 'failed';
  return err.startsWith(`${name}:`) ? err : `${name}: ${err}`;
}

function viewCall(c: RecordedCall): TraceCall {
  const notImplemented = c.reply?.status === 404;
  const outcome: TraceCall['outcome'] = c.call.ok ? 'ok' : c.reply === undefined ? 'transport-error' : notImplemented ? 'not-implemented' : 'plugin-error';
  return {
    seq: c.seq,
    path: c.request.path,
    request: c.request.encoding === 'base64' ? c.request.body : parsedBody(c.request.body),
    reply: c.reply === undefined ? null : c.reply.encoding === 'base64' ? c.reply.body : parsedBody(c.reply.body),
    outcome,
    ...(c.call.ok ? {} : { error: c.call.err ?? c.error?.message ?? 'failed' }),
  };
}

export interface RecordingViewOptions {
  /** Where the trace came from (its path). */
  readonly source: string;
}

/** The simulate view of a recorded session (every session of the trace, in order). */
export function viewOfRecording(sessions: readonly Pick<TraceSession, 'header' | 'calls'>[], opts: RecordingViewOptions): Trace {
  const st = new RecordingState();
  const steps: TraceStep[] = [{ index: 0, action: '', error: null, calls: [], state: st.snapshot() }];
  const problems: string[] = [];
  let open: OpenStep | null = null;
  const many = sessions.length > 1;
  const close = (): void => {
    if (open === null) return;
    const failedCall = open.calls.find((c) => !c.call.ok && !(c.reply?.status === 404 && methodByPath(c.request.path)?.on404 === 'ignored'));
    const first = open.calls[0]!.seq;
    const last = open.calls[open.calls.length - 1]!.seq;
    steps.push({
      index: steps.length,
      action: describeStep(open, st),
      note: `inferred from recorded call${first === last ? ` ${first}` : `s ${first}-${last}`}`,
      error: failedCall === undefined ? null : errorText(failedCall),
      calls: open.calls.map(viewCall),
      state: st.snapshot(),
    });
    open = null;
  };
  for (const [si, session] of sessions.entries()) {
    if (si > 0) {
      close();
      steps.push({ index: steps.length, action: `recorder restarted (${session.header.startedAt})`, error: null, calls: [], state: st.snapshot() });
    }
    for (const c of session.calls) {
      const kind = kindOf(c, st);
      if (open === null || !belongs(open, c, kind, st)) {
        close();
        open = { kind, calls: [], failed: false, ended: false, sandbox: null, sandboxes: new Set(), endpoints: new Set(), deleted: new Set(), addresses: new Set(), pools: new Set() };
      }
      const step: OpenStep = open;
      step.calls.push(c);
      st.apply(c);
      track(step, c, st);
      if (!c.call.ok) step.failed = true;
      if (KINDS[step.kind].end.has(c.call.method)) step.ended = true;
      // compat findings say how the plugin differs from Docker's drivers, not that something broke.
      for (const v of c.violations.filter((x) => x.level !== 'compat')) problems.push(`seq ${many ? `${si + 1}:` : ''}${c.seq} ${c.call.iface}.${c.call.method} [${v.level}] ${v.rule}: ${v.message}`);
    }
  }
  close();
  const h = sessions[0]?.header;
  const calls = sessions.reduce((n, s) => n + s.calls.length, 0);
  return {
    version: TRACE_VERSION,
    title: `Recorded session: ${h?.name ?? 'trace'}`,
    explain:
      `${calls} calls recorded by cnmkit record${h ? ` at ${h.startedAt} in front of ${h.upstream.address || h.name}` : ''}${many ? ` in ${sessions.length} recorder sessions` : ''}. ` +
      'The docker commands are inferred from the calls (dockerd makes them in fixed sequences); the state is what dockerd learnt from the plugin: pools, the addresses it was handed and who holds them, and which link of the plugin went into which container.',
    source: opts.source,
    target: h?.upstream.address ?? '',
    profile: h?.profile ?? 'docker-20.10',
    steps,
    problems,
  };
}
