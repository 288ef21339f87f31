/**
 * Global-scope drivers as swarm runs them (protocol.md §2.2.4, §4.9), two
 * designs:
 * - `segment`: like Docker's overlay driver, the swarm manager's
 *   AllocateNetwork hands out a segment id per network (kept when the request
 *   already carries one: a new leader allocating again), FreeNetwork gives it
 *   back (unknown ids succeed), and every node's CreateNetwork needs it in its
 *   generic options ("insufficient vnis" otherwise, as overlay answers). A
 *   plain `docker network create` outside swarm is therefore refused.
 * - `stateless`: a driver with its own control plane (weave-like): AllocateNetwork
 *   answers no options at all (`{"Options":null}`), FreeNetwork `{}`, and
 *   CreateNetwork takes any options.
 * Endpoints: a link per Join, no gateway (containers get docker_gwbridge), no MAC.
 * Written from protocol.md and the public behaviour of those plugins, not from src/.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { linkEndpointMethods } from './link-endpoints.js';
import { type FixtureMethods, field, refuse, serveFixture } from './serve.js';

export type GlobalDesign = 'segment' | 'stateless';

const SEGMENT_KEY = 'com.example.overlay.vni';
const FIRST_SEGMENT = 256;

function stringMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) refuse(`${what}: expected an object`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') refuse(`${what}: value of ${k} is not a string`);
    out[k] = x;
  }
  return out;
}

export function globalDriverMethods(design: GlobalDesign): FixtureMethods {
  /** Manager side: network id -> segment. */
  const allocated = new Map<string, number>();
  /** Node side: network id -> segment (or null for the stateless design). */
  const networks = new Map<string, number | null>();
  return {
    '/NetworkDriver.GetCapabilities': () => ({ Scope: 'global', ConnectivityScope: 'global' }),
    '/NetworkDriver.AllocateNetwork': (b) => {
      const id = field(b, 'NetworkID');
      if (id === '') refuse('NetworkID is required');
      const opts = stringMap(b['Options'], 'Options');
      if (design === 'stateless') return { Options: null };
      const have = allocated.get(id);
      if (have !== undefined) return { Options: { ...opts, [SEGMENT_KEY]: String(have) } };
      let seg: number;
      const asked = opts[SEGMENT_KEY];
      if (asked !== undefined) {
        seg = Number(asked);
        if (!Number.isInteger(seg) || seg < 1) refuse(`${SEGMENT_KEY}: ${asked} is not a segment`);
        if ([...allocated.values()].includes(seg)) refuse(`segment ${seg} is in use`);
      } else {
        const used = new Set(allocated.values());
        seg = FIRST_SEGMENT;
        while (used.has(seg)) seg++;
      }
      allocated.set(id, seg);
      return { Options: { ...opts, [SEGMENT_KEY]: String(seg) } };
    },
    '/NetworkDriver.FreeNetwork': (b) => {
      allocated.delete(field(b, 'NetworkID'));
      return {};
    },
    '/NetworkDriver.CreateNetwork': (b) => {
      const id = field(b, 'NetworkID');
      if (networks.has(id)) refuse(`network ${id} already exists`);
      const options = (b['Options'] ?? {}) as Record<string, unknown>;
      const generic = stringMap(options['com.docker.network.generic'], 'generic options');
      if (design === 'stateless') {
        networks.set(id, null);
        return {};
      }
      const seg = generic[SEGMENT_KEY];
      if (seg === undefined) refuse('insufficient vnis(0) passed to overlay');
      const n = Number(seg);
      if (!Number.isInteger(n) || n < 1) refuse(`${SEGMENT_KEY}: ${seg} is not a segment`);
      if ([...networks.values()].includes(n)) refuse(`segment ${n} is already used on this node`);
      networks.set(id, n);
      return {};
    },
    '/NetworkDriver.DeleteNetwork': (b) => {
      networks.delete(field(b, 'NetworkID'));
      return {};
    },
    ...linkEndpointMethods({ hasNetwork: (id) => networks.has(id), linkPrefix: 'ov', leaveUnknown: 'refuse' }),
  };
}

export function startGlobalDriver(socketPath: string, design: GlobalDesign, patch: FixtureMethods = {}): Promise<ListeningPlugin> {
  return serveFixture(socketPath, { ...globalDriverMethods(design), ...patch }, { implements: ['NetworkDriver'] });
}
