/**
 * Container start latency: `docker run --rm IMG true` on a cnmkit network
 * (reference driver + IPAM, Linux backend, served in this process on
 * /run/docker/plugins/cnmkit.sock) versus a network of Docker's own bridge
 * driver (a user-defined one, so both get the same embedded-DNS setup),
 * interleaved run by run so drift hits both alike. Prints medians and the
 * ratio (target <= 1.15). Needs root and a running dockerd with the image
 * from scripts/setup-docker.sh; prints why and returns otherwise.
 * CNMKIT_BENCH_RUNS=N (default 21), CNMKIT_BENCH_QUICK=1 for 7 runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createReferencePlugin } from '../../src/reference/plugin.js';
import { servePlugin } from '../../src/sdk/index.js';
// The e2e harness's plumbing (plain node: code, no test framework): same image, socket probe and command runner.
import { IMAGE, run, socketLive } from '../../test/e2e/harness.js';

const SOCKET = '/run/docker/plugins/cnmkit.sock';
const TARGET_RATIO = 1.15;

async function docker(args: readonly string[]): Promise<{ ok: boolean; out: string }> {
  const r = await run('docker', args);
  return { ok: r.ok, out: (r.out + r.err).trim() };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timedRun(network: string): Promise<number> {
  const t = performance.now();
  const r = await docker(['run', '--rm', '--network', network, IMAGE, 'true']);
  if (!r.ok) throw new Error(`docker run on ${network} failed: ${r.out}`);
  return performance.now() - t;
}

async function skipReason(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root';
  if (!(await docker(['info', '--format', '{{.ServerVersion}}'])).ok) return 'no docker daemon (run scripts/setup-docker.sh)';
  if (!(await docker(['image', 'inspect', IMAGE])).ok) return `image ${IMAGE} missing (run scripts/setup-docker.sh)`;
  if (await socketLive(SOCKET)) return `${SOCKET} is in use`;
  return null;
}

export async function main(): Promise<void> {
  const why = await skipReason();
  if (why !== null) {
    console.log(`container-start: skipped (${why})`);
    return;
  }
  const runs = Number(process.env.CNMKIT_BENCH_RUNS ?? (process.env.CNMKIT_BENCH_QUICK === '1' ? 7 : 21));
  const tag = randomBytes(3).toString('hex');
  const cnmNet = `cnmt-bench-c-${tag}`;
  const brNet = `cnmt-bench-b-${tag}`;
  const state = mkdtempSync(join(tmpdir(), 'cnmt-bench-'));
  const plugin = await createReferencePlugin({ backend: 'linux', stateDir: state });
  const server = await servePlugin({ driver: plugin.driver, ipam: plugin.ipam, listen: { socket: SOCKET } });
  try {
    for (const [name, args] of [
      [cnmNet, ['-d', 'cnmkit', '--ipam-driver', 'cnmkit']],
      [brNet, ['-d', 'bridge']],
    ] as const) {
      const r = await docker(['network', 'create', ...args, name]);
      if (!r.ok) throw new Error(`network create ${name}: ${r.out}`);
    }
    // Warm-up: image layers, plugin connections, first-use paths.
    for (let i = 0; i < 2; i++) {
      await timedRun(cnmNet);
      await timedRun(brNet);
    }
    const times: Record<string, number[]> = { cnmkit: [], bridge: [] };
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first so neither always follows the other.
      const order = i % 2 === 0 ? (['cnmkit', 'bridge'] as const) : (['bridge', 'cnmkit'] as const);
      for (const which of order) times[which].push(await timedRun(which === 'cnmkit' ? cnmNet : brNet));
    }
    const mc = median(times.cnmkit);
    const mb = median(times.bridge);
    const ratio = mc / mb;
    console.table([
      { network: 'cnmkit (reference driver, linux backend)', runs, 'median ms': mc.toFixed(1), 'min ms': Math.min(...times.cnmkit).toFixed(1), 'max ms': Math.max(...times.cnmkit).toFixed(1) },
      { network: 'docker bridge (user-defined)', runs, 'median ms': mb.toFixed(1), 'min ms': Math.min(...times.bridge).toFixed(1), 'max ms': Math.max(...times.bridge).toFixed(1) },
    ]);
    console.log(`container-start: ratio cnmkit/bridge = ${ratio.toFixed(3)} (target <= ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? 'met' : 'NOT met'})`);
  } finally {
    await docker(['network', 'rm', cnmNet]);
    await docker(['network', 'rm', brNet]);
    await server.close();
    await plugin.close();
    rmSync(state, { recursive: true, force: true });
  }
}
