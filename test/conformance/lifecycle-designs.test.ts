/**
 * The lifecycle suite accepts every design dockerd runs (issues 11/12): a
 * random-order allocator (fixed addresses chosen free, not "offset 5"), a
 * Calico-like routed L3 plugin (automatic 0.0.0.0/0 pool, /32 addresses,
 * 169.254.1.1 and link-local IPv6 gateways), a DHCP driver behind the null
 * IPAM, a link-local gateway driver, and IPAM-only plugins run behind
 * cnmkit's reference driver. Each on several seeds, at the default level.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSuites } from '../../conformance/runner.js';
import type { ConformanceConfig } from '../../conformance/config.js';
import type { RunReport } from '../../conformance/types.js';
import type { ListeningPlugin } from './plugins/listen.js';
import { startDhcpDriver } from './designs/dhcp-driver.js';
import { startDockerFaithfulIpam } from './designs/docker-faithful-ipam.js';
import { startManagedPlugin } from './designs/managed-plugin.js';
import { startSlowPlugin } from './designs/slow-plugin.js';
import { startLinkLocalDriver } from './designs/linklocal-driver.js';
import { DEFAULT_ROUTED_POOLS, startRoutedL3Plugin } from './designs/routed-l3-plugin.js';
import { type FixtureMethods, field, refuse, serveFixture } from './designs/serve.js';
import { quickConfig, result, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

const SEEDS = [1, 2, 3, 4, 5];
const ALL_BUT_RESTART = ['lifecycle.network-create-rm', 'lifecycle.container-run-stop', 'lifecycle.fixed-ip', 'lifecycle.dual-stack', 'lifecycle.rollbacks', 'lifecycle.daemon-crash'];

// ---- a random-order allocator (stub written from protocol.md §2.3, not from src/) ----------------------

interface RNet {
  family: 4 | 6;
  base: bigint;
  prefix: number;
}

function parseAddr(text: string): { family: 4 | 6; value: bigint } | null {
  if (text.includes(':')) {
    const [head, tail] = text.includes('::') ? text.split('::') : [text, ''];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return null;
    return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
  }
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return { family: 4, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n) };
}

function fmt(family: 4 | 6, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((v >> s) & 0xffffn).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

function parseNet(text: string): RNet | null {
  const [ip, len] = text.split('/');
  const a = ip ? parseAddr(ip) : null;
  if (!a || len === undefined || !/^\d+$/.test(len)) return null;
  const bits = a.family === 4 ? 32 : 128;
  const prefix = Number(len);
  const host = (1n << BigInt(bits - prefix)) - 1n;
  return { family: a.family, base: a.value & ~host, prefix };
}

/** What the stub IPAM holds (kept, dropped or half-kept across a restart by the tests). */
interface StubIpamState {
  pools: Map<string, { net: RNet; held: Set<bigint> }>;
  auto: number;
  poolSeq: number;
}

const freshState = (): StubIpamState => ({ pools: new Map(), auto: 0, poolSeq: 0 });

/** Driver + IPAM whose addresses (gateways too) come in a seeded random order (`lowest`: lowest free first). */
function randomOrderMethods(seed: number, opts: { driver: boolean; order?: 'random' | 'lowest' }, st: StubIpamState = freshState()): FixtureMethods {
  let state = seed >>> 0 || 1;
  const rnd = (n: number): number => {
    if (opts.order === 'lowest') return 0;
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const pools = st.pools;
  const size = (n: RNet): bigint => 1n << BigInt((n.family === 4 ? 32 : 128) - n.prefix);
  const overlaps = (a: RNet, b: RNet): boolean => a.family === b.family && a.base < b.base + size(b) && b.base < a.base + size(a);
  const ipam: FixtureMethods = {
    '/IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'rnd-local', GlobalDefaultAddressSpace: 'rnd-global' }),
    '/IpamDriver.RequestPool': (b) => {
      const v6 = b['V6'] === true;
      let net: RNet | null;
      const want = field(b, 'Pool');
      if (want !== '') {
        net = parseNet(want);
        if (!net) refuse(`invalid pool ${want}`);
      } else net = v6 ? { family: 6, base: (0xfd00_0bad_0000_0000n << 64n) + (BigInt(st.auto++) << 64n), prefix: 64 } : { family: 4, base: (10n << 24n) | (150n << 16n) | (BigInt(st.auto++) << 8n), prefix: 24 };
      for (const p of pools.values()) if (overlaps(p.net, net)) refuse(`pool ${want || 'auto'} overlaps a pool in use`);
      const id = `rnd-${++st.poolSeq}`;
      pools.set(id, { net, held: new Set() });
      return { PoolID: id, Pool: `${fmt(net.family, net.base)}/${net.prefix}`, Data: {} };
    },
    '/IpamDriver.ReleasePool': (b) => {
      if (!pools.delete(field(b, 'PoolID'))) refuse(`unknown pool ${field(b, 'PoolID')}`);
      return {};
    },
    '/IpamDriver.RequestAddress': (b) => {
      const p = pools.get(field(b, 'PoolID'));
      if (!p) refuse(`unknown pool ${field(b, 'PoolID')}`);
      const hosts = size(p.net) - 2n;
      const want = field(b, 'Address');
      let v: bigint;
      if (want !== '') {
        const a = parseAddr(want);
        if (!a || a.value <= p.net.base || a.value - p.net.base > hosts) refuse(`address ${want} not in pool`);
        if (p.held.has(a.value)) refuse(`address ${want} already allocated`);
        v = a.value;
      } else {
        const span = hosts > 4096n ? 4096 : Number(hosts);
        const start = rnd(span);
        let found: bigint | null = null;
        for (let i = 0; i < span; i++) {
          const cand = p.net.base + 1n + BigInt((start + i) % span);
          if (!p.held.has(cand)) {
            found = cand;
            break;
          }
        }
        if (found === null) refuse('no free address');
        v = found;
      }
      p.held.add(v);
      return { Address: `${fmt(p.net.family, v)}/${p.net.prefix}`, Data: {} };
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const p = pools.get(field(b, 'PoolID'));
      const a = parseAddr(field(b, 'Address'));
      if (p && a) p.held.delete(a.value);
      return {};
    },
  };
  if (!opts.driver) return ipam;
  const nets = new Map<string, { gw: string; gw6: string }>();
  const eps = new Map<string, { net: string; joined: boolean }>();
  const bareGw = (d: unknown): string => {
    const list = Array.isArray(d) ? (d as Array<Record<string, unknown>>) : [];
    const g = list[0]?.['Gateway'];
    return typeof g === 'string' ? g.split('/')[0]! : '';
  };
  return {
    ...ipam,
    '/NetworkDriver.GetCapabilities': () => ({ Scope: 'local' }),
    '/NetworkDriver.CreateNetwork': (b) => {
      nets.set(field(b, 'NetworkID'), { gw: bareGw(b['IPv4Data']), gw6: bareGw(b['IPv6Data']) });
      return {};
    },
    '/NetworkDriver.DeleteNetwork': (b) => {
      nets.delete(field(b, 'NetworkID'));
      return {};
    },
    '/NetworkDriver.CreateEndpoint': (b) => {
      if (!nets.has(field(b, 'NetworkID'))) refuse('no such network');
      eps.set(field(b, 'EndpointID'), { net: field(b, 'NetworkID'), joined: false });
      return {};
    },
    '/NetworkDriver.DeleteEndpoint': (b) => {
      eps.delete(field(b, 'EndpointID'));
      return {};
    },
    '/NetworkDriver.EndpointOperInfo': () => ({ Value: {} }),
    '/NetworkDriver.Join': (b) => {
      const ep = eps.get(field(b, 'EndpointID'));
      if (!ep) refuse('no such endpoint');
      const n = nets.get(ep.net)!;
      ep.joined = true;
      return { InterfaceName: { SrcName: `rnd${field(b, 'EndpointID').slice(0, 8)}`, DstPrefix: 'eth' }, ...(n.gw ? { Gateway: n.gw } : {}), ...(n.gw6 ? { GatewayIPv6: n.gw6 } : {}) };
    },
    '/NetworkDriver.Leave': (b) => {
      const ep = eps.get(field(b, 'EndpointID'));
      if (ep) ep.joined = false;
      return {};
    },
    '/NetworkDriver.ProgramExternalConnectivity': () => ({}),
    '/NetworkDriver.RevokeExternalConnectivity': () => ({}),
  };
}

// ---- helpers ---------------------------------------------------------------------------------

function problems(report: RunReport): string[] {
  return report.checks.filter((c) => c.status === 'failed').map((c) => `seed ${report.seed} ${c.id}: ${c.message}`);
}

function statuses(report: RunReport): Record<string, string> {
  return Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
}

async function runLifecycle(plugin: (socket: string) => Promise<ListeningPlugin>, name: string, seed: number, over: Partial<ConformanceConfig> = {}): Promise<RunReport> {
  const socket = dir.socket(`${name}-${seed}`);
  const p = await plugin(socket);
  try {
    return await runSuites({ socket }, quickConfig(dir, { suites: ['lifecycle'], seed, ...over }));
  } finally {
    await p.close();
  }
}

/**
 * An IPAM-only stub behind a control socket whose POST /restart restarts it; `keep` says what survives:
 * everything, nothing, or the pools without their addresses. Returns the argv of a command that restarts it.
 */
async function restartableIpam(name: string, keep: 'all' | 'nothing' | 'pools'): Promise<{ socket: string; argv: string[]; restarts: () => number; close(): Promise<void> }> {
  const socket = dir.socket(name);
  let st = freshState();
  const serve = (): Promise<ListeningPlugin> => serveFixture(socket, randomOrderMethods(1, { driver: false, order: 'lowest' }, st), { implements: ['IpamDriver'] });
  let plugin = await serve();
  let count = 0;
  const ctl = dir.socket(`${name}-ctl`);
  const server: Server = createServer((_req, res) => {
    void (async () => {
      await plugin.close();
      if (keep === 'nothing') st = freshState();
      if (keep === 'pools') for (const p of st.pools.values()) p.held.clear();
      plugin = await serve();
      count++;
      res.end('restarted\n');
    })();
  });
  await new Promise<void>((resolve) => server.listen(ctl, resolve));
  const script = `require('http').request({ socketPath: ${JSON.stringify(ctl)}, path: '/restart', method: 'POST' }, (r) => { r.resume(); r.on('end', () => process.exit(r.statusCode === 200 ? 0 : 1)); }).end()`;
  return {
    socket,
    argv: [process.execPath, '-e', script],
    restarts: () => count,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await plugin.close();
    },
  };
}

// ---- tests -----------------------------------------------------------------------------------

describe('lifecycle suite: designs dockerd runs', () => {
  it('a random-order allocator (driver + IPAM): --ip and --ip6 are chosen free, every check passes on 12 seeds', async () => {
    for (const seed of Array.from({ length: 12 }, (_, i) => i + 1)) {
      const report = await runLifecycle((s) => serveFixture(s, randomOrderMethods(seed, { driver: true }), { implements: ['IpamDriver', 'NetworkDriver'] }), 'random', seed);
      expect(problems(report)).toEqual([]);
      const st = statuses(report);
      for (const id of ALL_BUT_RESTART) expect(st[id], `seed ${seed} ${id}`).toBe('passed');
    }
  });

  it('IPAM-only plugins run behind the reference driver (rollbacks included)', async () => {
    for (const seed of SEEDS) {
      const report = await runLifecycle((s) => serveFixture(s, randomOrderMethods(seed, { driver: false }), { implements: ['IpamDriver'] }), 'ipam-only', seed);
      expect(problems(report)).toEqual([]);
      const st = statuses(report);
      for (const id of ALL_BUT_RESTART) expect(st[id], `seed ${seed} ${id}`).toBe('passed');
      // The plugin saw dockerd's IPAM sequences, never a NetworkDriver call.
      const rb = result(report, 'lifecycle.rollbacks');
      expect(rb.calls).toBeGreaterThan(0);
    }
  });

  it('a routed L3 plugin (Calico-like): with its configured pools as --subnet every check passes', async () => {
    for (const seed of SEEDS) {
      const report = await runLifecycle((s) => startRoutedL3Plugin(s), 'routed', seed, { subnets: [...DEFAULT_ROUTED_POOLS] });
      expect(problems(report)).toEqual([]);
      const st = statuses(report);
      for (const id of ALL_BUT_RESTART) expect(st[id], `seed ${seed} ${id}`).toBe('passed');
    }
  });

  it('--ipam-driver default with a plugin that only takes its own IPAM, or with an IPAM-only plugin: skipped with the reason, not failed', async () => {
    const forced = await runLifecycle((s) => startRoutedL3Plugin(s), 'routed-default', 1, { ipamDriver: 'default' });
    expect(problems(forced)).toEqual([]);
    expect(result(forced, 'lifecycle.container-run-stop').status).toBe('skipped');
    expect(result(forced, 'lifecycle.container-run-stop').message).toMatch(/Docker's default IPAM.*--ipam-driver/);
    const ipamOnly = await runLifecycle((s) => serveFixture(s, randomOrderMethods(1, { driver: false }), { implements: ['IpamDriver'] }), 'ipam-only-default', 1, { ipamDriver: 'default' });
    expect(problems(ipamOnly)).toEqual([]);
    expect(result(ipamOnly, 'lifecycle.container-run-stop').message).toMatch(/only an IPAM/);
  });

  it('a routed L3 plugin that refuses the test subnets: its automatic pool is used, --ip checks skip pointing to --subnet', async () => {
    for (const seed of SEEDS) {
      const report = await runLifecycle((s) => startRoutedL3Plugin(s), 'routed-auto', seed);
      expect(problems(report)).toEqual([]);
      const fixed = result(report, 'lifecycle.fixed-ip');
      expect(fixed.status).toBe('skipped');
      expect(fixed.message).toMatch(/--subnet/);
      for (const id of ['lifecycle.network-create-rm', 'lifecycle.container-run-stop', 'lifecycle.dual-stack', 'lifecycle.rollbacks', 'lifecycle.daemon-crash']) expect(result(report, id).status, id).toBe('passed');
      expect(result(report, 'lifecycle.container-run-stop').notes.join('\n')).toMatch(/automatic pool/);
    }
  });

  it('a DHCP driver behind the null IPAM (-o bridge=...): passes; without the option the checks skip pointing to --driver-opt', async () => {
    for (const seed of SEEDS.slice(0, 3)) {
      const report = await runLifecycle((s) => startDhcpDriver(s, { leaseMs: 5 }), 'dhcp', seed, { driverOpts: { bridge: 'br0' } });
      expect(problems(report)).toEqual([]);
      for (const id of ['lifecycle.network-create-rm', 'lifecycle.container-run-stop', 'lifecycle.rollbacks', 'lifecycle.daemon-crash']) expect(result(report, id).status, id).toBe('passed');
      expect(result(report, 'lifecycle.fixed-ip').message).toMatch(/null IPAM/);
      expect(result(report, 'lifecycle.container-run-stop').notes.join('\n')).toMatch(/null IPAM/);
    }
    const bare = await runLifecycle((s) => startDhcpDriver(s, { leaseMs: 5 }), 'dhcp-bare', 1);
    expect(problems(bare)).toEqual([]);
    expect(result(bare, 'lifecycle.container-run-stop').status).toBe('skipped');
    expect(result(bare, 'lifecycle.container-run-stop').message).toMatch(/--driver-opt/);
    // Told so explicitly: --ipam-driver null.
    const explicit = await runLifecycle((s) => startDhcpDriver(s, { leaseMs: 5 }), 'dhcp-null', 2, { driverOpts: { bridge: 'br0' }, ipamDriver: 'null' });
    expect(problems(explicit)).toEqual([]);
    expect(result(explicit, 'lifecycle.container-run-stop').status).toBe('passed');
  });

  it('a link-local gateway driver (169.254.0.1 via a /32 route, fe80::1 on IPv6): every check passes', async () => {
    for (const seed of SEEDS) {
      const report = await runLifecycle((s) => startLinkLocalDriver(s), 'linklocal', seed);
      expect(problems(report)).toEqual([]);
      expect(result(report, 'lifecycle.dual-stack').status).toBe('passed');
      expect(result(report, 'lifecycle.container-run-stop').status).toBe('passed');
    }
  });

  it('lifecycle.restart-keeps-state runs for IPAM-only plugins: kept state passes, lost pools and forgotten addresses are caught', async () => {
    const cases = [
      { keep: 'all', status: 'passed', message: /^$/ },
      { keep: 'nothing', status: 'failed', message: /unknown pool/ },
      { keep: 'pools', status: 'failed', message: /handed out 10\.199\.\d+\.\d+, which is still the (gateway of network n|address of container c1)/ },
    ] as const;
    for (const c of cases) {
      const p = await restartableIpam(`restart-${c.keep}`, c.keep);
      try {
        const report = await runSuites({ socket: p.socket }, quickConfig(dir, { checks: ['lifecycle.restart-keeps-state'], restartCmd: p.argv }));
        const r = result(report, 'lifecycle.restart-keeps-state');
        expect(`${c.keep}: ${r.status} ${r.message}`).toMatch(new RegExp(`^${c.keep}: ${c.status} `));
        expect(r.message).toMatch(c.message);
        expect(p.restarts()).toBe(1);
        if (c.status === 'failed') expect(r.counterexample!.steps.some((x) => x.startsWith('restart the plugin'))).toBe(true);
      } finally {
        await p.close();
      }
    }
  });

  it('a managed (v2) plugin, which gets no Plugin.Activate, passes (the simulated dockerd goes straight to its handlers)', async () => {
    const { linkLocalDriverMethods } = await import('./designs/linklocal-driver.js');
    const report = await runLifecycle((s) => serveFixture(s, linkLocalDriverMethods(), { implements: null }), 'managed', 3);
    expect(report.pluginKind).toBe('managed');
    expect(problems(report)).toEqual([]);
    expect(result(report, 'lifecycle.container-run-stop').status).toBe('passed');
  });

  it("Docker's own default IPAM as an IPAM-only plugin, behind the reference driver: every check passes", async () => {
    for (const seed of SEEDS) {
      const report = await runLifecycle((s) => startDockerFaithfulIpam(s), 'faithful', seed);
      expect(problems(report)).toEqual([]);
      const st = statuses(report);
      for (const id of ALL_BUT_RESTART) expect(st[id], `seed ${seed} ${id}`).toBe('passed');
    }
  });

  it('a managed plugin (no Activate, bare 400 refusals, 501 for unknown methods) and a slow one: every check passes', async () => {
    for (const seed of SEEDS.slice(0, 3)) {
      const managed = await runLifecycle((s) => startManagedPlugin(s), 'managed-design', seed);
      expect(problems(managed)).toEqual([]);
      for (const id of ALL_BUT_RESTART) expect(statuses(managed)[id], `managed seed ${seed} ${id}`).toBe('passed');
    }
    const slow = await runLifecycle((s) => startSlowPlugin(s, { cloudMs: 150, leaseMs: 60 }), 'slow', 1);
    expect(problems(slow)).toEqual([]);
    for (const id of ALL_BUT_RESTART) expect(statuses(slow)[id], `slow ${id}`).toBe('passed');
  }, 120_000);
});
