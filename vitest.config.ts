import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Test tiers (vitest projects). `npm test` runs all of them; `npm run test:unit`
 * is the inner loop. A file belongs to exactly one tier, by what it needs:
 * - unit: Node and this repository only (Chromium tests skip when it is absent);
 * - root: root networking (namespaces, veth, bridges, iptables on the real kernel);
 * - docker: a running dockerd and the busybox image (scripts/setup-docker.sh);
 * - etcd: real etcd members on loopback ports (scripts/setup-etcd.sh);
 * - suites: whole conformance suites against many plugin designs on many seeds
 *   (the no-false-alarm and no-blind-spot evidence) and against broken plugins
 *   that hang, answer slowly or race (real timeouts, seconds per case);
 * - cli: the `cnmkit` command end to end, as child processes (every spawn pays
 *   Node and TypeScript start-up, about a second of CPU).
 * suites and cli need nothing but Node, but take minutes: they are kept out of
 * the unit inner loop (under 60 s on 2 cores).
 * Tests of a tier whose component is missing (or opted out with
 * CNMKIT_SKIP=root,docker,etcd,browser) skip with the printed reason.
 */
// A file in two lists goes to the first tier: root, docker, etcd, suites, cli (each later project excludes the earlier lists).
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
const SUITES = [
  'test/**/*designs*.test.ts',
  'test/conformance/driver-blind-spots.test.ts',
  'test/conformance/driver-broken.test.ts',
  'test/conformance/broken-protocol.test.ts',
  'test/conformance/plugin-death.test.ts',
  'test/conformance/hostile.test.ts',
  'test/conformance/multi.test.ts',
];
const CLI = ['test/cli/**/*.test.ts', 'test/**/cli.test.ts', 'test/**/*-cli.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    setupFiles: ['test/helpers/fc-replay.ts'],
    // Many tests wait on sockets and timeouts rather than compute: one worker more than cores.
    maxWorkers: availableParallelism() + 1,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...ROOT, ...DOCKER, ...ETCD, ...SUITES, ...CLI] } },
      { extends: true, test: { name: 'root', include: ROOT } },
      // One dockerd and one plugin socket on the host: the files run one after the other.
      { extends: true, test: { name: 'docker', include: DOCKER, exclude: ROOT, fileParallelism: false } },
      { extends: true, test: { name: 'etcd', include: ETCD, exclude: [...ROOT, ...DOCKER] } },
      { extends: true, test: { name: 'suites', include: SUITES, exclude: [...ROOT, ...DOCKER, ...ETCD] } },
      { extends: true, test: { name: 'cli', include: CLI, exclude: [...ROOT, ...DOCKER, ...ETCD, ...SUITES] } },
    ],
  },
});
