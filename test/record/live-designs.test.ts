/**
 * No false alarms: the recorder in front of the correct-but-different design
 * fixtures (test/conformance/designs/, written from protocol.md and real
 * plugins' public behaviour) stays silent at must/should while the daemon
 * simulator plays dockerd's sequences through it (the lifecycle suite:
 * networks, containers, --ip, dual stack, rollbacks, a daemon crash with its
 * replay), on several seeds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSuites } from '../../conformance/runner.js';
import type { ConformanceConfig } from '../../conformance/config.js';
import type { ListeningPlugin } from '../conformance/plugins/listen.js';
import { startDhcpDriver } from '../conformance/designs/dhcp-driver.js';
import { startDockerFaithfulIpam } from '../conformance/designs/docker-faithful-ipam.js';
import { startFixedGatewayIpam } from '../conformance/designs/fixed-gateway-ipam.js';
import { startLinkLocalDriver } from '../conformance/designs/linklocal-driver.js';
import { startManagedPlugin } from '../conformance/designs/managed-plugin.js';
import { startPerAddressIpam } from '../conformance/designs/per-address-ipam.js';
import { startRandomIpam } from '../conformance/designs/random-ipam.js';
import { DEFAULT_ROUTED_POOLS, startRoutedL3Plugin } from '../conformance/designs/routed-l3-plugin.js';
import { startStatelessIpam } from '../conformance/designs/stateless-ipam.js';
import { startSlowPlugin } from '../conformance/designs/slow-plugin.js';
import { startFlawedDriver } from '../conformance/driver-plugins/flawed-driver.js';
import { recordInFront, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

interface Design {
  readonly name: string;
  readonly start: (socket: string) => Promise<ListeningPlugin | { socketPath: string; close(): Promise<void> }>;
  readonly config?: Partial<ConformanceConfig>;
  readonly seeds?: readonly number[];
}

const DESIGNS: readonly Design[] = [
  { name: 'Docker-faithful IPAM (behind the reference driver)', start: startDockerFaithfulIpam },
  { name: 'stateless IPAM (pool rebuilt from its PoolID)', start: startStatelessIpam },
  { name: 'per-address IPAM (overlapping pools share one address set)', start: startPerAddressIpam },
  { name: 'random IPAM (random addresses and pools)', start: (s) => startRandomIpam(s, 3) },
  { name: 'fixed-gateway IPAM', start: startFixedGatewayIpam },
  { name: 'routed L3 (Calico-like: /32, 169.254.1.1, one MAC)', start: (s) => startRoutedL3Plugin(s), config: { subnets: [...DEFAULT_ROUTED_POOLS] } },
  { name: 'routed L3 driver behind Docker\'s default IPAM', start: (s) => startRoutedL3Plugin(s), config: { ipamDriver: 'default' }, seeds: [1] },
  { name: 'DHCP driver behind the null IPAM', start: (s) => startDhcpDriver(s, { leaseMs: 5 }), config: { driverOpts: { bridge: 'br0' }, ipamDriver: 'null' } },
  { name: 'link-local gateway driver', start: startLinkLocalDriver },
  { name: 'independent driver, different choices (DstPrefix, MACs, routes, 409s)', start: (s) => startFlawedDriver(s, { different: true }) },
  { name: 'managed (v2) plugin: no Plugin.Activate', start: startManagedPlugin },
  { name: 'slow plugin (cloud API, DHCP lease)', start: (s) => startSlowPlugin(s, { cloudMs: 60, leaseMs: 30 }), seeds: [1] },
];

const SEEDS = [1, 2, 3];

describe('cnmkit record: silent on correct designs (no false alarms at must/should)', () => {
  for (const d of DESIGNS) {
    it(d.name, async () => {
      for (const seed of d.seeds ?? SEEDS) {
        const plugin = await d.start(`${dir.path}/${d.name.replace(/\W+/g, '-').slice(0, 20)}-${seed}.sock`);
        const rec = await recordInFront(dir.path, plugin.socketPath);
        try {
          const report = await runSuites({ socket: rec.socket }, { suites: ['lifecycle'], seed, timeoutMs: 5000, replayDir: null, ...d.config });
          const failed = report.checks.filter((c) => c.status === 'failed').map((c) => `${c.id}: ${c.message ?? ''}`);
          expect(failed, 'the design itself passes the lifecycle suite through the recorder').toEqual([]);
          expect(rec.calls.length, 'calls went through the recorder').toBeGreaterThan(10);
          expect(rec.lines.filter((l) => /^\[(must|should)\]/.test(l)), `seed ${seed}`).toEqual([]);
        } finally {
          await rec.stop();
          await plugin.close();
        }
      }
    }, 120_000);
  }
});

/**
 * Harder: the full `cnmkit check` traffic (protocol, ipam, driver, lifecycle)
 * through the recorder. It sends what dockerd never sends (foreign-pool
 * releases, ids sharing 11 characters, parallel storms, hostile bodies); a
 * correct design still gets no must/should finding from the live checker.
 */
describe('cnmkit record: silent on correct designs under the full check traffic', () => {
  const FULL: readonly Design[] = [
    { name: 'Docker-faithful IPAM', start: startDockerFaithfulIpam },
    { name: 'routed L3 (Calico-like)', start: (s) => startRoutedL3Plugin(s), config: { subnets: [...DEFAULT_ROUTED_POOLS] } },
    { name: 'independent driver, different choices', start: (s) => startFlawedDriver(s, { different: true }) },
    { name: 'per-address IPAM', start: startPerAddressIpam },
  ];
  for (const d of FULL) {
    it(d.name, async () => {
      const plugin = await d.start(`${dir.path}/full-${d.name.replace(/\W+/g, '-').slice(0, 20)}.sock`);
      const rec = await recordInFront(dir.path, plugin.socketPath);
      try {
        await runSuites({ socket: rec.socket }, { seed: 3, runs: 8, timeoutMs: 3000, replayDir: null, netns: 'none', ...d.config });
        expect(rec.calls.length).toBeGreaterThan(500);
        expect(rec.lines.filter((l) => /^\[(must|should)\]/.test(l))).toEqual([]);
      } finally {
        await rec.stop();
        await plugin.close();
      }
    }, 180_000);
  }
});
