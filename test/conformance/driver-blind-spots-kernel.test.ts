/**
 * Root tier: the kernel driver (test/conformance/designs/kernel-driver.ts) on the
 * real kernel passes the driver blind-spot checks (driver-blind-spots.test.ts has
 * the broken drivers and the other correct designs), in a host namespace of its
 * own, on seeds 1..3. Skips with the reason without root networking.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverBlindSpotChecks } from '../../conformance/driver/blind-spot-checks.js';
import type { Suite } from '../../conformance/types.js';
import { addNetns, deleteNetnsQuietly, netnsSkipReason } from '../helpers/netns.js';
import { startKernelDriver } from './designs/kernel-driver.js';
import { result, runPlugin, tempDir, type TempDir } from './support.js';

/** Only the blind-spot checks, as in driver-blind-spots.test.ts. */
const SUITE: Suite = { id: 'driver', title: 'Network driver (blind spots)', checks: driverBlindSpotChecks };
/** Seeds 1..10 were run once when the checks were written; CI keeps three for the kernel designs. */
const KERNEL_SEEDS = [1, 2, 3];

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir?.remove();
});

const skip = netnsSkipReason();
describe.skipIf(skip !== null)(`the kernel driver on the real kernel (${skip ?? 'root'}), seeds 1..3`, () => {
  for (const design of ['l2', 'routed', 'macvlan'] as const) {
    it.each(KERNEL_SEEDS)(`kernel driver (${design}), seed %i`, async (seed) => {
      const host = `cnmt-host-${randomBytes(4).toString('hex')}`;
      addNetns(host, { loUp: true });
      try {
        const report = await runPlugin(
          dir,
          (s) => startKernelDriver(s, { ns: host, design }),
          { suites: ['driver'], seed, netns: 'linux', netnsHost: host },
          { suites: [SUITE] },
        );
        // Failed checks at or above 'should' (compat findings are informational).
        expect(report.checks.filter((c) => c.status === 'failed' && c.level !== 'compat').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
        expect(report.leaks).toEqual([]);
        // The twin's link was really looked at on the kernel, before and after its twin's delete.
        expect(result(report, 'driver.twin-delete-isolated').notes.join(' ')).toMatch(/host link \S+ is still on the kernel/);
      } finally {
        deleteNetnsQuietly(host);
      }
    });
  }
});
