/**
 * The call sequences of protocol.md §4 and every rollback row, pinned as data
 * in fixtures/sequences/*.json: each step's exact call list (`!` = failed),
 * selected request bodies, the error (step and text), and after each step the
 * backend's invariants and every sandbox's contents. Each scenario ends with a
 * full teardown that must restore the initial backend and an empty IPAM
 * (unless the scenario declares the leaks dockerd is known for).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DaemonError, summarizeCalls, type SimulatedDaemon } from '../../src/daemon/index.js';
import type { Profile } from '../../src/protocol/constants.js';
import { faultRule, makeEnv, partialMatch, teardown, type Env, type EnvOptions, type FaultJson } from './env.js';

interface Step {
  op: string;
  args?: unknown;
  name?: string;
  force?: boolean;
  container?: string;
  network?: string;
  faults?: FaultJson[];
  calls?: string[];
  requests?: Array<{ at: number; request: unknown }>;
  error?: { step?: string; message?: string };
  mac?: string;
  note?: string;
}

interface Scenario {
  name: string;
  ref: string;
  profile?: Profile;
  ipam?: EnvOptions['ipam'];
  driver?: EnvOptions['driver'];
  daemon?: EnvOptions['daemon'];
  leaks?: string[];
  /** The driver keeps state the daemon cannot know about (a reply lost after the driver acted). */
  backendLeftovers?: boolean;
  /** Leak kinds some drivers cause and others not. */
  mayLeak?: string[];
  steps: Step[];
}

function load(file: string): Scenario[] {
  return (JSON.parse(readFileSync(new URL(`../../fixtures/sequences/${file}`, import.meta.url), 'utf8')) as { scenarios: Scenario[] }).scenarios;
}

async function runStep(env: Env, s: Step): Promise<void> {
  const d: SimulatedDaemon = env.daemon;
  switch (s.op) {
    case 'networkCreate':
      await d.networkCreate(s.args as never);
      return;
    case 'networkRm':
      await d.networkRm(s.name!);
      return;
    case 'containerRun':
      await d.containerRun(s.args as never);
      return;
    case 'containerStart':
      await d.containerStart(s.name!);
      return;
    case 'containerStop':
      await d.containerStop(s.name!);
      return;
    case 'containerRm':
      await d.containerRm(s.name!, { force: s.force === true });
      return;
    case 'networkConnect':
      await d.networkConnect(s.container!, s.network!, (s.args ?? {}) as never);
      return;
    case 'networkDisconnect':
      await d.networkDisconnect(s.container!, s.network!);
      return;
    case 'daemonRestart':
      await d.daemonRestart((s.args ?? {}) as never);
      return;
    case 'pluginRestart':
      env.restartIpam();
      return;
    default:
      throw new Error(`unknown op ${s.op}`);
  }
}

for (const file of ['lifecycle.json', 'rollbacks.json']) {
  describe(`sequences: ${file}`, () => {
    const runs = load(file).flatMap((sc) => {
      // The reference driver runs every 20.10 scenario that does not need a scripted driver.
      const withRef = sc.profile !== 'moby' && (sc.driver === undefined || Object.keys(sc.driver).every((k) => k === 'scope'));
      return [{ sc, kind: 'fake' as const }, ...(withRef ? [{ sc, kind: 'reference' as const }] : [])];
    });
    for (const { sc, kind } of runs) {
      it(`[${kind} driver] ${sc.name} (${sc.ref})`, async () => {
        const env = await makeEnv({ driverKind: kind, ...(sc.profile ? { profile: sc.profile } : {}), ...(sc.ipam ? { ipam: sc.ipam } : {}), ...(sc.driver ? { driver: sc.driver } : {}), ...(sc.daemon ? { daemon: sc.daemon } : {}) });
        const initial = env.backend.snapshot();
        try {
          for (const [i, s] of sc.steps.entries()) {
            const where = `step ${i} (${s.op})`;
            env.daemon.clearCallLog();
            env.faulty.clearRules();
            for (const f of s.faults ?? []) env.faulty.addRule(faultRule(f));
            let err: unknown;
            try {
              await runStep(env, s);
            } catch (e) {
              err = e;
            }
            const log = env.daemon.callLog();
            if (s.calls !== undefined) expect(summarizeCalls(log), where).toEqual(s.calls);
            for (const r of s.requests ?? []) {
              const got = log[r.at]?.request;
              expect(partialMatch(got, r.request), `${where}: request ${r.at} ${JSON.stringify(got)} does not match ${JSON.stringify(r.request)}`).toBe(true);
            }
            if (s.error !== undefined) {
              expect(err, `${where}: expected an error`).toBeInstanceOf(DaemonError);
              const de = err as DaemonError;
              if (s.error.step !== undefined) expect(de.step, where).toBe(s.error.step);
              if (s.error.message !== undefined) expect(de.message, where).toContain(s.error.message);
            } else if (err !== undefined) {
              throw err;
            }
            if (s.faults !== undefined) expect(env.faulty.injected.length, `${where}: every fault fired`).toBeGreaterThan(0);
            if (s.mac !== undefined) {
              const eps = env.daemon.inspect().networks.flatMap((n) => n.endpoints);
              expect(eps.map((e) => e.mac), where).toContain(s.mac);
            }
            expect(env.backend.checkInvariants(), where).toEqual([]);
            expect(await env.daemon.verifySandboxes(), where).toEqual([]);
          }
          await teardown(env);
          const leaks = env.daemon.leaks();
          const expected = sc.leaks ?? [];
          for (const k of expected) expect(leaks.map((l) => l.kind), 'declared leaks happened').toContain(k);
          for (const l of leaks) expect([...expected, ...(sc.mayLeak ?? [])], `undeclared leak: ${l.detail}`).toContain(l.kind);
          expect(env.backend.checkInvariants()).toEqual([]);
          if (sc.backendLeftovers === true) expect(env.backend.snapshot()).not.toEqual(initial);
          else if (!expected.includes('endpoint') && !leaks.some((l) => l.kind === 'network')) expect(env.backend.snapshot()).toEqual(initial);
          if (!expected.includes('pool')) expect(env.ipamSlot.current.pools()).toEqual([]);
        } finally {
          await env.close();
        }
      });
    }
  });
}
