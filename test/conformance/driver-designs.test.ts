/**
 * Correct drivers of other designs pass the protocol, driver and lifecycle
 * suites at the default level on several seeds (no false alarms), and the
 * same checks still catch each design's own realistic bugs (no blind spots):
 * - routed L3, both IPAM and driver (Calico-like): /32 addresses from its own
 *   IPAM, one MAC for every endpoint, gateway 169.254.1.1 behind a connected route;
 * - a DHCP driver that needs the null IPAM and a `bridge` option (docker-net-dhcp-like);
 * - a driver answering link-local gateways (default IPAM).
 * The fixtures are written from protocol.md and the real plugins' public behaviour.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceConfig } from '../../conformance/config.js';
import type { RunReport } from '../../conformance/types.js';
import type { ListeningPlugin } from './plugins/listen.js';
import { dhcpDriverMethods, startDhcpDriver } from './designs/dhcp-driver.js';
import { startLinkLocalDriver } from './designs/linklocal-driver.js';
import { DEFAULT_ROUTED_POOLS, routedDriverMethods, routedIpamMethods, startRoutedL3Plugin } from './designs/routed-l3-plugin.js';
import { type FixtureMethods, serveFixture } from './designs/serve.js';
import { quickConfig, result, tempDir, type TempDir, runPlugin } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

function runOn(start: (socket: string) => Promise<ListeningPlugin>, config: Partial<ConformanceConfig>): Promise<RunReport> {
  // The fixtures create no kernel links: --netns none.
  return runPlugin(dir, start, { runs: 20, netns: 'none', ...config });
}

/** Failed checks at or above `should`, with their messages. */
function failing(report: RunReport): string[] {
  return report.checks.filter((c) => c.status === 'failed' && c.level !== 'compat').map((c) => `${c.id}: ${c.message}`);
}

const SEEDS = [1, 2, 3, 4, 5];
const DHCP_OPTS = { bridge: 'br-dhcp' };

describe('designs dockerd accepts pass protocol + driver + lifecycle at the default level', () => {
  it.each(SEEDS)('routed L3 plugin (Calico-like IPAM + driver), seed %i', async (seed) => {
    const report = await runOn((s) => startRoutedL3Plugin(s), { seed, suites: ['protocol', 'driver', 'lifecycle'] });
    expect(failing(report)).toEqual([]);
    // Judged, not skipped: the same MAC on every endpoint is fine on routed links; the gateway is behind a connected route.
    for (const id of ['driver.mac-unique', 'driver.join-gateway', 'driver.lifecycle-accepted', 'driver.concurrent-lifecycles', 'driver.ipv6-endpoint']) expect(result(report, id).status, id).toBe('passed');
    expect(result(report, 'driver.mac-unique').notes.join(' ')).toMatch(/routed design/);
    expect(result(report, 'driver.lifecycle-accepted').notes.join(' ')).toMatch(/plugin's own IPAM.*0\.0\.0\.0\/0 \[PoolID CalicoPoolIPv4\]/);
    expect(report.leaks).toEqual([]);
  });

  it.each(SEEDS)('DHCP driver on the null IPAM with -o bridge=br-dhcp, seed %i', async (seed) => {
    const report = await runOn((s) => startDhcpDriver(s, { leaseMs: 20 }), { seed, suites: ['protocol', 'driver', 'lifecycle'], driverOpts: DHCP_OPTS });
    expect(failing(report)).toEqual([]);
    for (const id of ['driver.endpoint-address', 'driver.join-gateway', 'driver.lifecycle-accepted', 'driver.concurrent-lifecycles', 'driver.mac-unique']) expect(result(report, id).status, id).toBe('passed');
    expect(result(report, 'driver.lifecycle-accepted').notes.join(' ')).toMatch(/null IPAM/);
    expect(result(report, 'driver.ipv6-endpoint').status).toBe('skipped');
  });

  it.each(SEEDS)('link-local gateway driver (default IPAM), seed %i', async (seed) => {
    const report = await runOn((s) => startLinkLocalDriver(s), { seed, suites: ['protocol', 'driver', 'lifecycle'] });
    expect(failing(report)).toEqual([]);
    for (const id of ['driver.join-gateway', 'driver.static-routes', 'driver.ipv6-endpoint']) expect(result(report, id).status, id).toBe('passed');
  });
});

describe('--ipam-driver', () => {
  it('the DHCP driver without its bridge option is skipped with a pointer to --driver-opt, not failed', async () => {
    const report = await runOn((s) => startDhcpDriver(s, { leaseMs: 0 }), { suites: ['driver'] });
    expect(failing(report)).toEqual([]);
    const r = result(report, 'driver.lifecycle-accepted');
    expect(r.status).toBe('skipped');
    expect(r.message).toMatch(/--driver-opt K=V/);
    expect(r.message).toMatch(/bridge required/);
  });

  it('null: the DHCP driver is used with the null IPAM directly; default: the routed plugin refuses foreign addressing and is skipped', async () => {
    const dhcp = await runOn((s) => startDhcpDriver(s, { leaseMs: 0 }), { suites: ['driver'], ipamDriver: 'null', driverOpts: DHCP_OPTS });
    expect(failing(dhcp)).toEqual([]);
    expect(result(dhcp, 'driver.endpoint-address').status).toBe('passed');
    const routed = await runOn((s) => startRoutedL3Plugin(s), { suites: ['driver'], ipamDriver: 'default' });
    expect(failing(routed)).toEqual([]);
    expect(result(routed, 'driver.lifecycle-accepted').message).toMatch(/Non-Calico IPAM driver is used/);
  });

  it('plugin: a driver-only plugin is skipped; default keeps the stand-in /28 addressing', async () => {
    const only = await runOn((s) => startLinkLocalDriver(s), { checks: ['driver.lifecycle-accepted'], ipamDriver: 'plugin' });
    expect(result(only, 'driver.lifecycle-accepted').message).toMatch(/not an IpamDriver/);
  });

  it("plugin IPAM: calls in dockerd's order (explicit pool refused -> automatic, no gateway request, address before CreateEndpoint, release after DeleteEndpoint, ReleasePool before DeleteNetwork)", async () => {
    const seen: Array<{ path: string; body: Record<string, unknown>; reply: unknown }> = [];
    const record = (table: FixtureMethods): FixtureMethods =>
      Object.fromEntries(
        Object.entries(table).map(([path, h]) => [
          path,
          (b: Record<string, unknown>) => {
            const entry = { path, body: b, reply: undefined as unknown };
            seen.push(entry);
            entry.reply = h(b);
            return entry.reply;
          },
        ]),
      );
    const start = (s: string): Promise<ListeningPlugin> => serveFixture(s, record({ ...routedIpamMethods(DEFAULT_ROUTED_POOLS), ...routedDriverMethods() }), { implements: ['IpamDriver', 'NetworkDriver'] });
    const report = await runOn(start, { checks: ['driver.lifecycle-accepted'], runs: 10 });
    expect(failing(report)).toEqual([]);
    const paths = seen.map((s) => s.path.split('.')[1]!);
    expect(paths).toContain('RequestPool');
    // No gateway RequestAddress: the pool's Data carries the gateway.
    expect(seen.filter((s) => s.path.endsWith('RequestAddress') && JSON.stringify(s.body).includes('RequestAddressType'))).toEqual([]);
    for (const c of seen.filter((s) => s.path.endsWith('CreateNetwork'))) {
      expect(c.body['IPv4Data']).toEqual([{ AddressSpace: 'CalicoLocalAddressSpace', Gateway: '0.0.0.0/0', Pool: '0.0.0.0/0' }]);
    }
    const networks = new Set(seen.filter((s) => s.path.endsWith('CreateNetwork')).map((s) => s.body['NetworkID']));
    for (const [i, c] of seen.entries()) {
      // (CreateEndpoint on an unknown network, driver.unknown-ids' probe, carries any address.)
      if (c.path.endsWith('CreateEndpoint') && networks.has(c.body['NetworkID'])) {
        const address = (c.body['Interface'] as Record<string, string>)['Address'];
        expect(address).toMatch(/^10\.233\.\d+\.\d+\/32$/);
        // The address came from a RequestAddress answered before this call.
        expect(seen.slice(0, i).some((p) => p.path.endsWith('RequestAddress') && (p.reply as { Address?: string }).Address === address)).toBe(true);
      }
      if (c.path.endsWith('DeleteNetwork') && networks.has(c.body['NetworkID'])) expect(seen[i - 1]!.path).toMatch(/ReleasePool$/);
      if (c.path.endsWith('DeleteEndpoint')) {
        const next = seen[i + 1];
        if (next !== undefined && next.path.endsWith('ReleaseAddress')) expect(typeof next.body['Address']).toBe('string');
      }
    }
    expect(seen.filter((s) => s.path.endsWith('ReleaseAddress')).length).toBeGreaterThan(0);
  });
});

describe('slow but correct drivers', () => {
  it('a DHCP lease of 600 ms per CreateEndpoint: fewer runs and a note within the budget, no failure', async () => {
    const started = performance.now();
    const report = await runOn((s) => startDhcpDriver(s, { leaseMs: 600 }), { checks: ['driver.lifecycle-accepted', 'driver.timely-replies'], driverOpts: DHCP_OPTS, runs: 200, checkBudgetMs: 6000, timeoutMs: 30_000 });
    expect(failing(report)).toEqual([]);
    const r = result(report, 'driver.lifecycle-accepted');
    expect(r.status).toBe('passed');
    expect(r.notes.join(' ')).toMatch(/time budget: stopped after \d+ of 100 runs/);
    expect(r.durationMs).toBeLessThan(6000 * 1.1);
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});

describe('a DHCP lease of seconds', () => {
  it('driver.timely-replies: a lease within --timeout is a note, beyond it a failure', async () => {
    const report = await runOn((s) => startDhcpDriver(s, { leaseMs: 1300 }), { checks: ['driver.timely-replies'], driverOpts: DHCP_OPTS, timeoutMs: 5000 });
    const r = result(report, 'driver.timely-replies');
    expect(r.status, r.message).toBe('passed');
    expect(r.notes.join(' ')).toMatch(/CreateEndpoint took 1\d{3} ms \(within --timeout 5000 ms\)/);
    // Beyond the per-call timeout it still fails (and dockerd's managed-plugin timeout would too).
    const over = await runOn((s) => startDhcpDriver(s, { leaseMs: 1300 }), { checks: ['driver.timely-replies'], driverOpts: DHCP_OPTS, timeoutMs: 1000 });
    expect(result(over, 'driver.timely-replies').status).not.toBe('passed');
  }, 30_000);
});

/** A design fixture with one handler replaced: that design's realistic bug. */
function variant(base: FixtureMethods, path: string, wrap: (reply: Record<string, unknown>, body: Record<string, unknown>) => unknown): FixtureMethods {
  const inner = base[path]!;
  return { ...base, [path]: (b) => wrap(inner(b) as Record<string, unknown>, b) };
}

describe("each design's own bugs are still caught", () => {
  const routed = (): FixtureMethods => ({ ...routedIpamMethods(DEFAULT_ROUTED_POOLS), ...routedDriverMethods() });
  const serveRouted = (m: FixtureMethods) => (s: string) => serveFixture(s, m, { implements: ['IpamDriver', 'NetworkDriver'] });

  it('routed: a next-hop gateway off the /32 with no connected route to it -> driver.join-gateway', async () => {
    const broken = variant(routed(), '/NetworkDriver.Join', (r) => ({ ...r, Gateway: '10.233.255.254', StaticRoutes: [] }));
    const report = await runOn(serveRouted(broken), { suites: ['driver'] });
    expect(failing(report).map((f) => f.split(':')[0])).toEqual(['driver.join-gateway']);
    expect(result(report, 'driver.join-gateway').message).toMatch(/Gateway 10\.233\.255\.254 is outside the endpoint's subnet 10\.233\.\d+\.\d+\/32.*no connected static route/);
  });

  it('routed: a connected route the next hop is not in -> driver.join-gateway', async () => {
    const broken = variant(routed(), '/NetworkDriver.Join', (r) => ({ ...r, Gateway: '10.233.255.254', StaticRoutes: [{ Destination: '10.244.0.0/24', RouteType: 1 }] }));
    const report = await runOn(serveRouted(broken), { suites: ['driver'] });
    expect(failing(report).map((f) => f.split(':')[0])).toEqual(['driver.join-gateway']);
  });

  it('DHCP: the same lease for every endpoint -> driver.endpoint-address; an address without a prefix -> driver.endpoint-address', async () => {
    const same = variant(dhcpDriverMethods(), '/NetworkDriver.CreateEndpoint', (r) => ({ Interface: { ...(r['Interface'] as object), Address: '192.168.77.100/24' } }));
    const report = await runOn((s) => serveFixture(s, same, { implements: ['NetworkDriver'] }), { suites: ['driver'], driverOpts: DHCP_OPTS });
    expect(failing(report).map((f) => f.split(':')[0])).toEqual(['driver.endpoint-address']);
    expect(result(report, 'driver.endpoint-address').message).toMatch(/already the address of live endpoint/);
    const bare = variant(dhcpDriverMethods(), '/NetworkDriver.CreateEndpoint', (r) => ({ Interface: { ...(r['Interface'] as object), Address: String((r['Interface'] as Record<string, string>)['Address']).split('/')[0] } }));
    const report2 = await runOn((s) => serveFixture(s, bare, { implements: ['NetworkDriver'] }), { suites: ['driver'], driverOpts: DHCP_OPTS });
    expect(failing(report2).map((f) => f.split(':')[0])).toContain('driver.endpoint-address');
    expect(result(report2, 'driver.endpoint-address').message).toMatch(/not an IPv4 CIDR/);
  });

  it('link-local: a 169.254 gateway without its connected route -> driver.join-gateway (IPv4 has no link-local route: the kernel cannot reach it)', async () => {
    const { linkLocalDriverMethods } = await import('./designs/linklocal-driver.js');
    const bare = variant(linkLocalDriverMethods(), '/NetworkDriver.Join', (r) => ({ ...r, StaticRoutes: [] }));
    const report = await runOn((s) => serveFixture(s, bare, { implements: ['NetworkDriver'] }), { checks: ['driver.join-gateway'] });
    const r = result(report, 'driver.join-gateway');
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/Gateway 169\.254\.0\.1 is outside the endpoint's subnet .*covered by no connected static route/);
  });

  it('link-local: an IPv6 gateway that is neither link-local nor routed -> driver.join-gateway (IPv4-only) and driver.ipv6-endpoint (dual-stack)', async () => {
    const { linkLocalDriverMethods } = await import('./designs/linklocal-driver.js');
    const broken = variant(linkLocalDriverMethods(), '/NetworkDriver.Join', (r) => ({ ...r, GatewayIPv6: '2001:db8::1' }));
    const report = await runOn((s) => serveFixture(s, broken, { implements: ['NetworkDriver'] }), { suites: ['driver'] });
    expect(failing(report).map((f) => f.split(':')[0]).sort()).toEqual(['driver.ipv6-endpoint', 'driver.join-gateway']);
    expect(result(report, 'driver.join-gateway').message).toMatch(/GatewayIPv6 2001:db8::1 is outside the endpoint, which has no address of that family/);
    expect(result(report, 'driver.ipv6-endpoint').message).toMatch(/GatewayIPv6 2001:db8::1 is outside the endpoint's subnet fd00:/);
  });
});
