/**
 * "It broke in production, now it's a test" under the real dockerd: the
 * session `cnmkit record` recorded in front of the reference plugin (Linux
 * backend; record-harness.ts: network create --subnet, two containers, stop,
 * rm, network rm) replays cleanly against correct plugins (the reference
 * again, and a plugin that picks other PoolIDs, addresses, address spaces
 * and link names), diverges on broken ones, and shows as the simulate view.
 * Skips (with the reason) without root, dockerd or the image.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTrace } from '../../src/record/trace.js';
import { runCli } from '../cli/run-cli.js';
import type { ListeningPlugin } from '../conformance/plugins/listen.js';
import { brokenPluginMethods, otherPluginMethods, servePlugin, type Breakage } from '../replay/session.js';
import { e2eGate } from './harness.js';
import { recordedReferenceTrace } from './record-harness.js';

const skip = await e2eGate();
if (skip !== null) console.log(`replay e2e skipped: ${skip}`);

describe.skipIf(skip !== null)('replaying a session recorded under the real dockerd', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cnmt-replay-'));
  const plugins: ListeningPlugin[] = [];
  let trace = '';
  let n = 0;
  const fresh = async (methods: Parameters<typeof servePlugin>[1]): Promise<string> => {
    const p = await servePlugin(join(dir, `p${n++}.sock`), methods);
    plugins.push(p);
    return p.socketPath;
  };

  beforeAll(async () => {
    trace = await recordedReferenceTrace();
  }, 240_000);
  afterAll(async () => {
    for (const p of plugins) await p.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // dockerd activates a plugin name once: a trace recorded after an earlier run of the same name has no handshake.
  it('the trace holds what dockerd asked', () => {
    const calls = readTrace(trace).sessions.flatMap((s) => s.calls);
    const methods = calls.map((c) => c.call.method);
    expect(methods).toContain('RequestPool');
    expect(methods.filter((m) => m === 'Join')).toHaveLength(2);
    expect(methods).toContain('DeleteNetwork');
    // dockerd's framing passes through the recorder unchanged: no Content-Type.
    expect(calls.every((c) => !c.request.headers.some(([k]) => k.toLowerCase() === 'content-type'))).toBe(true);
  });

  it('replays cleanly against the reference plugin', async () => {
    const r = await runCli(['replay', trace, '--reference']);
    expect(r.stdout).toContain('no divergence at or above --level should');
    expect(r.code).toBe(0);
  });

  it('replays cleanly against a correct plugin that chooses other ids, addresses and names', async () => {
    const r = await runCli(['replay', trace, '--socket', await fresh(otherPluginMethods(5))]);
    expect(r.stdout).toContain('no divergence at or above --level should');
    expect(r.code).toBe(0);
  });

  it.each<[Breakage, RegExp]>([
    ['duplicate-address', /^seq \d+ IpamDriver\.RequestAddress \[must\] ipam\.no-duplicate-address: /m],
    ['join-refused', /^seq \d+ NetworkDriver\.Join \[must\] succeeded in the recording .*fails now/m],
  ])('diverges on a broken plugin (%s)', async (breakage, line) => {
    const r = await runCli(['replay', trace, '--socket', await fresh(brokenPluginMethods(5, breakage))]);
    expect(r.stdout).toMatch(line);
    expect(r.code).toBe(1);
  });

  it('shows as the simulate view: the docker commands and the state after each', async () => {
    const page = join(dir, 'session.html');
    const r = await runCli(['simulate', '--trace', trace, '--html', page]);
    expect(r.code).toBe(0);
    const steps = r.stdout.split('\n').filter((l) => l.startsWith('== step'));
    expect(steps.some((l) => /docker network create --subnet 10\.236\.7\.0\/24 -> network/.test(l))).toBe(true);
    expect(steps.filter((l) => /docker run \/ start ctr-/.test(l))).toHaveLength(2);
    // `docker stop c1 c2` stops both in parallel: one step when the teardowns interleave, two when they do not.
    const stopped = steps.filter((l) => /docker stop /.test(l)).flatMap((l) => l.match(/ctr-[0-9a-f]{12}/g) ?? []);
    expect(new Set(stopped).size).toBe(2);
    expect(stopped).toHaveLength(2);
    expect(steps.some((l) => /docker network rm /.test(l))).toBe(true);
    expect(r.stdout).toMatch(/pool 10\.236\.7\.0\/24 \(network [0-9a-f]{12}\): 3 allocated/);
  });
});
