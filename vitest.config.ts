import { defineConfig } from 'vitest/config';

/**
 * Test tiers (vitest projects). `npm test` runs all of them; `npm run test:unit`
 * is the inner loop. A file belongs to exactly one tier, by what it needs:
 * - unit: Node and this repository only (Chromium tests skip when it is absent);
 * - root: root networking (namespaces, veth, bridges, iptables on the real kernel);
 * - docker: a running dockerd and the busybox image (scripts/setup-docker.sh);
 * - etcd: real etcd members on loopback ports (scripts/setup-etcd.sh);
 * - designs: whole conformance suites against many plugin designs and broken
 *   plugins on many seeds (the no-false-alarm and no-blind-spot evidence). Needs
 *   nothing but Node, but takes minutes: kept out of the inner loop.
 * Tests of a tier whose component is missing (or opted out with
 * CNMKIT_SKIP=root,docker,etcd,browser) skip with the printed reason.
 */
const ROOT = [
  'test/backend/linux-differential.test.ts',
  'test/backend/shared-firewall-linux.test.ts',
  'test/backend/shared-linux-safety.test.ts',
  'test/backend/shared-linux.test.ts',
  'test/driver/linux-differential.test.ts',
  'test/conformance/driver-netns.test.ts',
  'test/conformance/driver-blind-spots-kernel.test.ts',
];
const DOCKER = ['test/e2e/**/*.test.ts'];
const ETCD = ['test/**/*etcd*.test.ts', 'test/ipam/store/**/*.test.ts'];
const DESIGNS = [
  'test/conformance/driver-blind-spots.test.ts',
  'test/conformance/driver-designs.test.ts',
  'test/conformance/ipam-designs.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...ROOT, ...DOCKER, ...ETCD, ...DESIGNS] } },
      { extends: true, test: { name: 'root', include: ROOT } },
      // One dockerd and one plugin socket on the host: the files run one after the other.
      { extends: true, test: { name: 'docker', include: DOCKER, fileParallelism: false } },
      { extends: true, test: { name: 'etcd', include: ETCD } },
      { extends: true, test: { name: 'designs', include: DESIGNS } },
    ],
  },
});
