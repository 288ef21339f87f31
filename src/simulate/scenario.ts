/**
 * Scenario files for `cnmkit simulate` (fixtures/scenarios/*.yaml): a short
 * story of docker commands with a title and an explanation, optional faults,
 * expected errors per step and an expected final state.
 *
 * YAML or JSON (JSON is read as YAML 1.2). Every error names the file, the
 * line and the field: `fixtures/scenarios/x.yaml:12: steps[3].run.ip: ...`.
 * The format is documented in fixtures/scenarios/README.md.
 */
import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { CnmkitError } from '../errors.js';
import { parseCidr, parseIp } from '../net/index.js';
import { PROFILES, type Profile } from '../protocol/constants.js';

export interface SubnetSpec {
  /** CIDR; absent = let the IPAM pick (automatic pool). */
  readonly subnet?: string;
  readonly ipRange?: string;
  readonly gateway?: string;
  /** name -> address (`--aux-address name=ip`). */
  readonly aux?: Readonly<Record<string, string>>;
}

export type ScenarioAction =
  | {
      readonly kind: 'network-create';
      readonly name: string;
      /** IPv4 and IPv6 configs in order (family from the CIDR). */
      readonly subnets: readonly SubnetSpec[];
      readonly ipv6: boolean;
      readonly internal: boolean;
      readonly ipamOptions: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'network-rm'; readonly name: string }
  | { readonly kind: 'run'; readonly name: string; readonly networks: readonly string[]; readonly ip?: string; readonly ip6?: string }
  | { readonly kind: 'stop'; readonly name: string }
  | { readonly kind: 'start'; readonly name: string }
  | { readonly kind: 'network-connect'; readonly container: string; readonly network: string; readonly ip?: string; readonly ip6?: string }
  | { readonly kind: 'network-disconnect'; readonly container: string; readonly network: string }
  | {
      readonly kind: 'daemon-restart';
      /** Order in which containers with a restart policy come back (default: none come back). */
      readonly startOrder: readonly string[];
    };

/** The next call(s) to `call` during this step fail. */
export interface FaultSpec {
  /** Method path without the leading slash, e.g. `NetworkDriver.Join`. */
  readonly call: string;
  /** Error text the plugin answers with. */
  readonly error: string;
  /** Which matching call fails (1 = the first). */
  readonly nth: number;
}

export interface ScenarioStep {
  readonly action: ScenarioAction;
  readonly note?: string;
  /** The step must fail with an error containing this text. */
  readonly expectError?: string;
  readonly fault?: FaultSpec;
  /** 1-based line of the step in its file (0 for generated steps). */
  readonly line: number;
}

export interface ExpectedNetwork {
  readonly subnets?: readonly string[];
  readonly gateway?: string;
}

export interface ScenarioExpect {
  /** null = the network must not exist. */
  readonly networks?: Readonly<Record<string, ExpectedNetwork | null>>;
  /** container -> network -> address (null: no endpoint there). */
  readonly containers?: Readonly<Record<string, Readonly<Record<string, string | null>>>>;
  /** network -> addresses allocated in its pools (gateway, aux, endpoints, leaks). */
  readonly allocated?: Readonly<Record<string, number>>;
  /** Number of pools the IPAM holds (only checked when the IPAM can be inspected). */
  readonly pools?: number;
}

export interface Scenario {
  readonly title: string;
  readonly explain: string;
  readonly file: string;
  readonly profile?: Profile;
  readonly defaultAddressPools?: readonly { readonly base: string; readonly size: number }[];
  readonly steps: readonly ScenarioStep[];
  readonly expect?: ScenarioExpect;
}

/** A scenario file is malformed: the message starts with `file:line: field:`. */
export class ScenarioError extends CnmkitError {
  readonly file: string;
  readonly line: number;
  readonly field: string;
  constructor(file: string, line: number, field: string, message: string) {
    super('E_SCENARIO', `${file}:${line}: ${field === '' ? '' : `${field}: `}${message}`);
    this.file = file;
    this.line = line;
    this.field = field;
  }
}

export const ACTION_KEYS = ['network create', 'network rm', 'run', 'stop', 'start', 'network connect', 'network disconnect', 'daemon restart'] as const;
const STEP_KEYS = ['note', 'expect-error', 'fail'];
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const CALL_RE = /^(NetworkDriver|IpamDriver)\.[A-Za-z]+$/;

type Path = readonly (string | number)[];

/** Reads and validates a scenario file. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScenarioError(file, 0, '', `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseScenario(text, file);
}

/** Parses scenario text (YAML or JSON); `file` is only used in messages. */
export function parseScenario(text: string, file: string): Scenario {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const line = lc.linePos(err.pos[0]).line;
    throw new ScenarioError(file, line, '', `not valid YAML/JSON: ${err.message.split('\n')[0]}`);
  }
  return new Reader(file, doc, lc).scenario(doc.toJS() as unknown);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Field names as users write them: `steps[3].run.ip`. */
export function fieldName(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : /^[A-Za-z0-9_-]+$/.test(p) ? `.${p}` : `["${p}"]`;
  return out;
}

class Reader {
  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lc: LineCounter,
  ) {}

  /** Line of the key of the deepest entry that exists along `path` (or of its value / item). */
  line(path: Path): number {
    let node: unknown = this.doc.contents;
    let best: [number, number, number] | null | undefined = (node as YamlNode | null)?.range;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((it) => {
          const k = it.key as { value?: unknown } | null;
          return (k !== null && typeof k === 'object' && 'value' in k ? k.value : k) === seg;
        });
        if (!pair) break;
        best = (pair.key as YamlNode | null)?.range ?? best;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as YamlNode | undefined;
        if (!item) break;
        best = item.range ?? best;
        node = item;
      } else break;
    }
    return best ? this.lc.linePos(best[0]).line : 1;
  }

  fail(path: Path, message: string): never {
    throw new ScenarioError(this.file, this.line(path), fieldName(path), message);
  }

  keys(v: Obj, path: Path, allowed: readonly string[]): void {
    for (const k of Object.keys(v)) if (!allowed.includes(k)) this.fail([...path, k], `unknown field (allowed: ${allowed.join(', ')})`);
  }

  obj(v: unknown, path: Path, what = 'a mapping'): Obj {
    if (!isObj(v)) this.fail(path, `expected ${what}, got ${describe(v)}`);
    return v;
  }

  str(v: unknown, path: Path): string {
    if (typeof v !== 'string' || v === '') this.fail(path, `expected a non-empty string, got ${describe(v)}`);
    return v;
  }

  optStr(v: unknown, path: Path): string | undefined {
    return v === undefined ? undefined : this.str(v, path);
  }

  name(v: unknown, path: Path): string {
    const s = this.str(v, path);
    if (!NAME_RE.test(s)) this.fail(path, `"${s}" is not a valid name (letters, digits, _ . -)`);
    return s;
  }

  bool(v: unknown, path: Path): boolean {
    if (v === undefined) return false;
    if (typeof v !== 'boolean') this.fail(path, `expected true or false, got ${describe(v)}`);
    return v;
  }

  cidr(v: unknown, path: Path): string {
    const s = this.str(v, path);
    if (parseCidr(s) === null) this.fail(path, `"${s}" is not a CIDR (like 10.1.0.0/24 or fd00::/64)`);
    return s;
  }

  ip(v: unknown, path: Path, family?: 4 | 6): string {
    const s = this.str(v, path);
    const ip = parseIp(s);
    if (ip === null) this.fail(path, `"${s}" is not an IP address`);
    if (family !== undefined && ip.family !== family) this.fail(path, `"${s}" is not an IPv${family} address`);
    return s;
  }

  scenario(root: unknown): Scenario {
    const r = this.obj(root, [], 'a mapping with title, explain and steps');
    this.keys(r, [], ['title', 'explain', 'profile', 'default-address-pools', 'steps', 'expect']);
    if (r.title === undefined) this.fail([], 'missing field "title"');
    if (r.explain === undefined) this.fail([], 'missing field "explain"');
    if (r.steps === undefined) this.fail([], 'missing field "steps"');
    const title = this.str(r.title, ['title']);
    const explain = this.str(r.explain, ['explain']).trim();
    let profile: Profile | undefined;
    if (r.profile !== undefined) {
      if (!PROFILES.includes(r.profile as Profile)) this.fail(['profile'], `expected one of ${PROFILES.join(', ')}, got ${describe(r.profile)}`);
      profile = r.profile as Profile;
    }
    let pools: { base: string; size: number }[] | undefined;
    if (r['default-address-pools'] !== undefined) {
      const list = r['default-address-pools'];
      if (!Array.isArray(list) || list.length === 0) this.fail(['default-address-pools'], 'expected a non-empty list of {base, size}');
      pools = list.map((p: unknown, i) => {
        const at = ['default-address-pools', i];
        const o = this.obj(p, at, 'a mapping {base, size}');
        this.keys(o, at, ['base', 'size']);
        const base = this.cidr(o.base, [...at, 'base']);
        const size = o.size;
        const prefix = parseCidr(base)!.prefix;
        const max = parseCidr(base)!.family === 4 ? 32 : 128;
        if (typeof size !== 'number' || !Number.isInteger(size) || size < prefix || size > max) {
          this.fail([...at, 'size'], `expected a prefix length between ${prefix} and ${max}, got ${describe(size)}`);
        }
        return { base, size };
      });
    }
    if (!Array.isArray(r.steps) || r.steps.length === 0) this.fail(['steps'], `expected a non-empty list of steps, got ${describe(r.steps)}`);
    const steps = r.steps.map((s: unknown, i) => this.step(s, ['steps', i]));
    const expect = r.expect === undefined ? undefined : this.expect(r.expect, ['expect']);
    return {
      title,
      explain,
      file: this.file,
      ...(profile ? { profile } : {}),
      ...(pools ? { defaultAddressPools: pools } : {}),
      steps,
      ...(expect ? { expect } : {}),
    };
  }

  step(v: unknown, path: Path): ScenarioStep {
    const s = this.obj(v, path, `a step (one of: ${ACTION_KEYS.join(', ')})`);
    const actions = Object.keys(s).filter((k) => !STEP_KEYS.includes(k));
    if (actions.length === 0) this.fail(path, `a step needs one action (${ACTION_KEYS.join(', ')})`);
    for (const k of actions) if (!(ACTION_KEYS as readonly string[]).includes(k)) this.fail([...path, k], `unknown action or field (actions: ${ACTION_KEYS.join(', ')}; fields: ${STEP_KEYS.join(', ')})`);
    if (actions.length > 1) this.fail([...path, actions[1]], `a step has exactly one action, this one also has "${actions[0]}"`);
    const key = actions[0] as (typeof ACTION_KEYS)[number];
    const action = this.action(key, s[key], [...path, key]);
    const note = this.optStr(s.note, [...path, 'note']);
    const expectError = this.optStr(s['expect-error'], [...path, 'expect-error']);
    const fault = s.fail === undefined ? undefined : this.fault(s.fail, [...path, 'fail']);
    return { action, line: this.line(path), ...(note !== undefined ? { note: note.trim() } : {}), ...(expectError !== undefined ? { expectError } : {}), ...(fault ? { fault } : {}) };
  }

  fault(v: unknown, path: Path): FaultSpec {
    const o = this.obj(v, path, 'a mapping {call, error, nth}');
    this.keys(o, path, ['call', 'error', 'nth']);
    if (o.call === undefined) this.fail(path, 'missing field "call"');
    const call = this.str(o.call, [...path, 'call']).replace(/^\//, '');
    if (!CALL_RE.test(call)) this.fail([...path, 'call'], `expected a method like NetworkDriver.Join or IpamDriver.RequestAddress, got "${call}"`);
    const error = o.error === undefined ? `injected failure of ${call}` : this.str(o.error, [...path, 'error']);
    let nth = 1;
    if (o.nth !== undefined) {
      if (typeof o.nth !== 'number' || !Number.isInteger(o.nth) || o.nth < 1) this.fail([...path, 'nth'], `expected a positive integer, got ${describe(o.nth)}`);
      nth = o.nth;
    }
    return { call, error, nth };
  }

  /** `name` or `{name: name}`. */
  nameArg(v: unknown, path: Path): string {
    if (typeof v === 'string') return this.name(v, path);
    const o = this.obj(v, path, 'a name or {name}');
    this.keys(o, path, ['name']);
    return this.name(o.name, [...path, 'name']);
  }

  action(key: (typeof ACTION_KEYS)[number], v: unknown, path: Path): ScenarioAction {
    switch (key) {
      case 'network create':
        return this.networkCreate(v, path);
      case 'network rm':
        return { kind: 'network-rm', name: this.nameArg(v, path) };
      case 'stop':
        return { kind: 'stop', name: this.nameArg(v, path) };
      case 'start':
        return { kind: 'start', name: this.nameArg(v, path) };
      case 'run': {
        const o = this.obj(v, path, 'a mapping {name, network, ip, ip6}');
        this.keys(o, path, ['name', 'network', 'networks', 'ip', 'ip6']);
        if (o.name === undefined) this.fail(path, 'missing field "name"');
        if ((o.network === undefined) === (o.networks === undefined)) this.fail(path, 'give exactly one of "network" or "networks"');
        const networks =
          o.network !== undefined
            ? [this.name(o.network, [...path, 'network'])]
            : Array.isArray(o.networks) && o.networks.length > 0
              ? o.networks.map((n: unknown, i) => this.name(n, [...path, 'networks', i]))
              : this.fail([...path, 'networks'], `expected a non-empty list of network names, got ${describe(o.networks)}`);
        return {
          kind: 'run',
          name: this.name(o.name, [...path, 'name']),
          networks,
          ...(o.ip !== undefined ? { ip: this.ip(o.ip, [...path, 'ip'], 4) } : {}),
          ...(o.ip6 !== undefined ? { ip6: this.ip(o.ip6, [...path, 'ip6'], 6) } : {}),
        };
      }
      case 'network connect': {
        const o = this.obj(v, path, 'a mapping {container, network, ip, ip6}');
        this.keys(o, path, ['container', 'network', 'ip', 'ip6']);
        if (o.container === undefined) this.fail(path, 'missing field "container"');
        if (o.network === undefined) this.fail(path, 'missing field "network"');
        return {
          kind: 'network-connect',
          container: this.name(o.container, [...path, 'container']),
          network: this.name(o.network, [...path, 'network']),
          ...(o.ip !== undefined ? { ip: this.ip(o.ip, [...path, 'ip'], 4) } : {}),
          ...(o.ip6 !== undefined ? { ip6: this.ip(o.ip6, [...path, 'ip6'], 6) } : {}),
        };
      }
      case 'network disconnect': {
        const o = this.obj(v, path, 'a mapping {container, network}');
        this.keys(o, path, ['container', 'network']);
        if (o.container === undefined) this.fail(path, 'missing field "container"');
        if (o.network === undefined) this.fail(path, 'missing field "network"');
        return { kind: 'network-disconnect', container: this.name(o.container, [...path, 'container']), network: this.name(o.network, [...path, 'network']) };
      }
      case 'daemon restart': {
        if (v === null || v === undefined) return { kind: 'daemon-restart', startOrder: [] };
        const o = this.obj(v, path, 'a mapping {start} or nothing');
        this.keys(o, path, ['start']);
        const order = o.start === undefined ? [] : Array.isArray(o.start) ? o.start.map((n: unknown, i) => this.name(n, [...path, 'start', i])) : this.fail([...path, 'start'], `expected a list of container names, got ${describe(o.start)}`);
        return { kind: 'daemon-restart', startOrder: order };
      }
    }
  }

  subnet(o: Obj, path: Path, fields: readonly string[]): SubnetSpec {
    this.keys(o, path, fields);
    const subnet = o.subnet === undefined ? undefined : this.cidr(o.subnet, [...path, 'subnet']);
    const ipRange = o['ip-range'] === undefined ? undefined : this.cidr(o['ip-range'], [...path, 'ip-range']);
    const gateway = o.gateway === undefined ? undefined : this.ip(o.gateway, [...path, 'gateway']);
    let aux: Record<string, string> | undefined;
    if (o['aux-address'] !== undefined) {
      const a = this.obj(o['aux-address'], [...path, 'aux-address'], 'a mapping name: address');
      aux = {};
      for (const [k, ip] of Object.entries(a)) aux[k] = this.ip(ip, [...path, 'aux-address', k]);
    }
    if (subnet === undefined && (ipRange !== undefined || gateway !== undefined || aux !== undefined)) {
      this.fail(path, 'ip-range, gateway and aux-address need a subnet');
    }
    return { ...(subnet ? { subnet } : {}), ...(ipRange ? { ipRange } : {}), ...(gateway ? { gateway } : {}), ...(aux ? { aux } : {}) };
  }

  networkCreate(v: unknown, path: Path): ScenarioAction {
    const o = this.obj(v, path, 'a mapping {name, subnet, ...}');
    const single = ['subnet', 'ip-range', 'gateway', 'aux-address'];
    this.keys(o, path, ['name', 'subnets', 'ipv6', 'internal', 'ipam-opt', ...single]);
    if (o.name === undefined) this.fail(path, 'missing field "name"');
    const name = this.name(o.name, [...path, 'name']);
    let subnets: SubnetSpec[] = [];
    if (o.subnets !== undefined) {
      if (single.some((k) => o[k] !== undefined)) this.fail([...path, 'subnets'], `use either "subnets" or ${single.join('/')}, not both`);
      if (!Array.isArray(o.subnets) || o.subnets.length === 0) this.fail([...path, 'subnets'], `expected a non-empty list, got ${describe(o.subnets)}`);
      subnets = o.subnets.map((s: unknown, i) => this.subnet(this.obj(s, [...path, 'subnets', i]), [...path, 'subnets', i], single));
    } else if (single.some((k) => o[k] !== undefined)) {
      const only: Obj = {};
      for (const k of single) if (o[k] !== undefined) only[k] = o[k];
      subnets = [this.subnet(only, path, single)];
    }
    for (const [i, s] of subnets.entries()) {
      if (s.subnet === undefined) continue;
      const net = parseCidr(s.subnet)!;
      const at = o.subnets !== undefined ? [...path, 'subnets', i] : path;
      for (const [k, ip] of [['gateway', s.gateway], ...Object.entries(s.aux ?? {}).map(([n, a]) => [`aux-address.${n}`, a])] as [string, string | undefined][]) {
        if (ip !== undefined && parseIp(ip)!.family !== net.family) this.fail([...at, k], `"${ip}" is not in the family of ${s.subnet}`);
      }
      if (s.ipRange !== undefined && parseCidr(s.ipRange)!.family !== net.family) this.fail([...at, 'ip-range'], `"${s.ipRange}" is not in the family of ${s.subnet}`);
    }
    const ipamOptions: Record<string, string> = {};
    if (o['ipam-opt'] !== undefined) {
      const m = this.obj(o['ipam-opt'], [...path, 'ipam-opt'], 'a mapping key: value');
      for (const [k, val] of Object.entries(m)) ipamOptions[k] = typeof val === 'string' ? val : this.fail([...path, 'ipam-opt', k], `expected a string (quote it), got ${describe(val)}`);
    }
    return { kind: 'network-create', name, subnets, ipv6: this.bool(o.ipv6, [...path, 'ipv6']), internal: this.bool(o.internal, [...path, 'internal']), ipamOptions };
  }

  expect(v: unknown, path: Path): ScenarioExpect {
    const o = this.obj(v, path);
    this.keys(o, path, ['networks', 'containers', 'allocated', 'pools']);
    const out: { networks?: Record<string, ExpectedNetwork | null>; containers?: Record<string, Record<string, string | null>>; allocated?: Record<string, number>; pools?: number } = {};
    if (o.networks !== undefined) {
      out.networks = {};
      for (const [n, spec] of Object.entries(this.obj(o.networks, [...path, 'networks']))) {
        const at = [...path, 'networks', n];
        this.name(n, at);
        if (spec === null) {
          out.networks[n] = null;
          continue;
        }
        const s = this.obj(spec, at, 'a mapping {subnet, subnets, gateway} or null (absent)');
        this.keys(s, at, ['subnet', 'subnets', 'gateway']);
        const subnets = s.subnet !== undefined ? [this.cidr(s.subnet, [...at, 'subnet'])] : s.subnets !== undefined ? (Array.isArray(s.subnets) ? s.subnets.map((c: unknown, i) => this.cidr(c, [...at, 'subnets', i])) : this.fail([...at, 'subnets'], 'expected a list of CIDRs')) : undefined;
        const gateway = s.gateway === undefined ? undefined : this.ip(s.gateway, [...at, 'gateway']);
        out.networks[n] = { ...(subnets ? { subnets } : {}), ...(gateway ? { gateway } : {}) };
      }
    }
    if (o.containers !== undefined) {
      out.containers = {};
      for (const [c, nets] of Object.entries(this.obj(o.containers, [...path, 'containers']))) {
        const at = [...path, 'containers', c];
        this.name(c, at);
        const m = this.obj(nets, at, 'a mapping network: address (or null)');
        out.containers[c] = {};
        for (const [n, ip] of Object.entries(m)) out.containers[c][n] = ip === null ? null : this.ip(ip, [...at, n]);
      }
    }
    if (o.allocated !== undefined) {
      out.allocated = {};
      for (const [n, count] of Object.entries(this.obj(o.allocated, [...path, 'allocated']))) {
        if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) this.fail([...path, 'allocated', n], `expected a count, got ${describe(count)}`);
        out.allocated[n] = count;
      }
    }
    if (o.pools !== undefined) {
      if (typeof o.pools !== 'number' || !Number.isInteger(o.pools) || o.pools < 0) this.fail([...path, 'pools'], `expected a count, got ${describe(o.pools)}`);
      out.pools = o.pools;
    }
    return out;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** A step as the docker command a user would type (for traces and replay files). */
export function actionText(a: ScenarioAction): string {
  switch (a.kind) {
    case 'network-create': {
      const parts = ['docker network create'];
      for (const s of a.subnets) {
        if (s.subnet) parts.push(`--subnet ${s.subnet}`);
        if (s.ipRange) parts.push(`--ip-range ${s.ipRange}`);
        if (s.gateway) parts.push(`--gateway ${s.gateway}`);
        for (const [k, ip] of Object.entries(s.aux ?? {})) parts.push(`--aux-address ${k}=${ip}`);
      }
      if (a.ipv6) parts.push('--ipv6');
      if (a.internal) parts.push('--internal');
      for (const [k, val] of Object.entries(a.ipamOptions)) parts.push(`--ipam-opt ${k}=${val}`);
      parts.push(a.name);
      return parts.join(' ');
    }
    case 'network-rm':
      return `docker network rm ${a.name}`;
    case 'run':
      return `docker run -d --name ${a.name} --network ${a.networks.join(',')}${a.ip ? ` --ip ${a.ip}` : ''}${a.ip6 ? ` --ip6 ${a.ip6}` : ''} busybox`;
    case 'stop':
      return `docker stop ${a.name}`;
    case 'start':
      return `docker start ${a.name}`;
    case 'network-connect':
      return `docker network connect${a.ip ? ` --ip ${a.ip}` : ''}${a.ip6 ? ` --ip6 ${a.ip6}` : ''} ${a.network} ${a.container}`;
    case 'network-disconnect':
      return `docker network disconnect ${a.network} ${a.container}`;
    case 'daemon-restart':
      return `systemctl restart docker${a.startOrder.length > 0 ? `  # restart policy brings back: ${a.startOrder.join(', ')}` : ''}`;
  }
}
