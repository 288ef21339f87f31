/**
 * `cnmkit check --image IMG`: testcontainers starts a plugin image with the
 * socket directory shared, the checker finds the socket and runs the suites.
 * The image is cnmkit itself (the managed-plugin rootfs, serving the reference
 * on the virtual backend); a second image never opens a socket and must give
 * exit 2 with the container's last words.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.js';
import { docker, e2eSkipReason, ROOT, run } from './harness.js';

const skip = await e2eSkipReason();
if (skip !== null) console.log(`check --image e2e skipped: ${skip}`);

describe.skipIf(skip !== null)('cnmkit check --image', { timeout: 180_000 }, () => {
  const tag = randomBytes(3).toString('hex');
  const good = `cnmt-check-image:${tag}`;
  const silent = `cnmt-check-silent:${tag}`;
  const durable = `cnmt-check-durable:${tag}`;
  let out: string;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'cnmkit-image-'));
    const built = await run('bash', [join(ROOT, 'scripts', 'build-managed-plugin.sh'), '--out', out], 300_000);
    if (!built.ok) throw new Error(`build-managed-plugin failed: ${built.err || built.out}`);
    const tar = join(out, 'rootfs.tar');
    await run('tar', ['-C', join(out, 'rootfs'), '-cf', tar, '.'], 120_000);
    await docker('import', '-c', 'CMD ["/usr/bin/node","/opt/cnmkit/bin/cnmkit.js","serve","--socket","/run/docker/plugins/cnmkit.sock"]', tar, good);
    await docker('import', '-c', 'CMD ["/usr/bin/node","-e","console.log(\'no socket today\'); setTimeout(() => {}, 60000)"]', tar, silent);
    await docker('import', '-c', 'CMD ["/usr/bin/node","/opt/cnmkit/bin/cnmkit.js","serve","--socket","/run/docker/plugins/cnmkit.sock","--state","/var/lib/cnmkit"]', tar, durable);
  }, 300_000);

  afterAll(async () => {
    await run('docker', ['image', 'rm', '-f', good, silent, durable]);
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('checks a plugin image and reports it conformant', async () => {
    // The durable one: the checker also kills and restarts the container (ipam.restart-keeps-allocations).
    const r = await runCli(['check', '--image', durable, '--suite', 'protocol', '--suite', 'ipam', '--runs', '10', '--reporter', 'json'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { summary: { failed: number; passed: number } };
    expect(report.summary.failed).toBe(0);
    expect(report.summary.passed).toBeGreaterThan(30);
  });

  it('the checker kills and restarts the container: a plugin with --state keeps everything, one without loses it', async () => {
    const restartChecks = ['--check', 'lifecycle.restart-keeps-state', '--check', 'ipam.restart-keeps-allocations', '--netns', 'none', '--reporter', 'json'];
    const kept = await runCli(['check', '--image', durable, ...restartChecks], { timeoutMs: 150_000 });
    expect(kept.code, `${kept.stdout}\n${kept.stderr}`).toBe(0);
    const keptReport = JSON.parse(kept.stdout) as { checks: { id: string; status: string }[] };
    expect(keptReport.checks.map((c) => `${c.id} ${c.status}`)).toEqual(['ipam.restart-keeps-allocations passed', 'lifecycle.restart-keeps-state passed']);
    const lost = await runCli(['check', '--image', good, ...restartChecks], { timeoutMs: 150_000 });
    expect(lost.code).toBe(1);
    const lostReport = JSON.parse(lost.stdout) as { checks: { id: string; status: string; message: string }[] };
    expect(lostReport.checks.map((c) => `${c.id} ${c.status}`)).toEqual(['ipam.restart-keeps-allocations failed', 'lifecycle.restart-keeps-state failed']);
  });

  it('an image that never opens a socket is unreachable: exit 2 with its logs', async () => {
    const r = await runCli(['check', '--image', silent, '--timeout', '2', '--image-wait', '4'], { timeoutMs: 120_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no plugin socket appeared/);
    expect(r.stderr).toMatch(/no socket today/);
  });
});
