/** Reporters are pure functions of the RunReport; exit codes follow --level. */
import { describe, expect, it } from 'vitest';
import { defaultConfig, parseKeyValues } from '../../conformance/config.js';
import { consoleProgress, consoleReport } from '../../conformance/report/console.js';
import { exitCodeFor } from '../../conformance/report/exit-code.js';
import { jsonReport } from '../../conformance/report/json.js';
import { junitReport } from '../../conformance/report/junit.js';
import { tapReport } from '../../conformance/report/tap.js';
import type { CheckResult, RunReport } from '../../conformance/types.js';
import { UsageError } from '../../src/errors.js';

const base = { suite: 'ipam', reason: 'ipam-semantics.md §2', notes: [], seed: 1, calls: 3, durationMs: 5 } as const;
const checks: CheckResult[] = [
  { ...base, id: 'ipam.a', title: 'A', level: 'must', status: 'passed', message: '' },
  {
    ...base,
    id: 'ipam.b',
    title: 'B <&>',
    level: 'should',
    status: 'failed',
    message: 'handed out 10.0.0.1 twice',
    counterexample: {
      steps: ['RequestPool(slot 0)', 'RequestAddress(pool 0)'],
      calls: [{ path: '/IpamDriver.RequestAddress', request: '{"PoolID":"p"}\n', status: 200, response: '{"Address":"10.0.0.1/24"}', outcome: 'ok', durationMs: 1 }],
      seed: 99,
      path: '3:1',
      reproducer: "curl --unix-socket /p.sock http://localhost/IpamDriver.RequestAddress",
    },
    replayPath: '/tmp/r/ipam.b-99.json',
  },
  { ...base, id: 'ipam.c', title: 'C', level: 'compat', status: 'failed', message: 'order differs' },
  { ...base, id: 'ipam.d', title: 'D', level: 'must', status: 'skipped', message: 'plugin does not offer ipv6' },
  { ...base, id: 'ipam.e', title: 'E', level: 'must', status: 'not-run', message: 'not run: the plugin died (or stopped answering) during ipam.b' },
];
const report: RunReport = {
  target: 'unix:///p.sock',
  level: 'should',
  seed: 42,
  profile: 'docker-20.10',
  capabilities: ['ipam'],
  pluginKind: 'v1',
  startedAt: '2026-01-01T00:00:00.000Z',
  summary: { passed: 1, failed: 2, skipped: 1, notRun: 1, failing: 1, calls: 12, seconds: 0.5, callsPerSecond: 24 },
  checks,
  deaths: [
    {
      check: 'ipam.b',
      call: { path: '/IpamDriver.RequestAddress', request: '{"PoolID":"p"}', outcome: 'transport-error', durationMs: 3 },
      reproducer: 'curl --unix-socket /p.sock http://localhost/IpamDriver.RequestAddress',
      message: 'plugin died (or stopped answering) during ipam.b on /IpamDriver.RequestAddress: ECONNRESET',
      restarted: false,
    },
  ],
  leaks: [{ kind: 'pool', id: 'p', check: 'ipam.b', detail: 'still held' }],
};

describe('reporters', () => {
  it('exit code follows the threshold level', () => {
    expect(exitCodeFor(report)).toBe(1);
    expect(exitCodeFor(report, 'must')).toBe(0);
    expect(exitCodeFor(report, 'compat')).toBe(1);
    expect(exitCodeFor({ ...report, checks: [checks[0]!, checks[2]!] })).toBe(0);
  });

  it('json has the summary and one entry per check with counterexample, seed and replay path', () => {
    const j = JSON.parse(jsonReport(report)) as { summary: Record<string, number>; checks: Record<string, unknown>[] };
    expect(j.summary).toMatchObject({ passed: 1, failed: 2, skipped: 1, calls: 12, seconds: 0.5 });
    expect(j.checks).toHaveLength(5);
    expect(j.checks[1]).toMatchObject({ id: 'ipam.b', level: 'should', status: 'failed', seed: 1, replayPath: '/tmp/r/ipam.b-99.json' });
    expect((j.checks[1]!['counterexample'] as { steps: string[] }).steps).toHaveLength(2);
  });

  it('junit escapes XML and reports lower-level failures as skipped', () => {
    const x = junitReport(report);
    expect(x).toContain('<testsuite name="ipam" tests="5" failures="1" skipped="3"');
    expect(x).toContain('B &lt;&amp;&gt;');
    expect(x).toContain('<failure message="handed out 10.0.0.1 twice" type="should">');
    expect(x).not.toContain('<failure message="order differs"');
    expect(x).toContain('see: docs/ipam-semantics.md#2-');
  });

  it('tap marks lower-level failures TODO', () => {
    const t = tapReport(report);
    expect(t.split('\n').slice(0, 3)).toEqual(['TAP version 13', '1..5', 'ok 1 - ipam.a [must] A']);
    expect(t).toContain('not ok 2 - ipam.b [should] B <&>\n');
    expect(t).toContain('not ok 3 - ipam.c [compat] C # TODO');
    expect(t).toContain('ok 4 - ipam.d [must] D # SKIP plugin does not offer ipv6');
    expect(t).toContain('ok 5 - ipam.e [must] E # SKIP not run: the plugin died');
    expect(t).toContain('# plugin died (or stopped answering) during ipam.b on /IpamDriver.RequestAddress');
    expect(t).toContain('  see: "docs/ipam-semantics.md#2-');
  });

  it('console shows tables, the shrunk calls, seed, replay, reproducer, leaks and calls/s', () => {
    const c = consoleReport(report);
    expect(c).toContain('plugin died (or stopped answering) during ipam.b on /IpamDriver.RequestAddress: ECONNRESET (no way to restart it: later checks not run)');
    expect(c).toContain('NRUN  ipam.e');
    expect(c).toContain('1 not run;');
    expect(c).toContain('FAIL  ipam.b');
    expect(c).toContain('DIFF  ipam.c');
    expect(c).toContain('1. RequestPool(slot 0)');
    expect(c).toContain('→ POST /IpamDriver.RequestAddress {"PoolID":"p"}');
    expect(c).toContain('seed: 99  path: 3:1');
    expect(c).toContain('cnmkit replay /tmp/r/ipam.b-99.json');
    expect(c).toContain('curl --unix-socket');
    expect(c).toContain('pool p  (from ipam.b): still held');
    expect(c).toContain('12 plugin calls in 0.5 s (24 calls/s)');
    expect(c).toContain('NOT CONFORMANT');
  });

  it('progress writes one line per finished check', () => {
    const lines: string[] = [];
    const on = consoleProgress((t) => lines.push(t));
    on({ type: 'check-finished', result: checks[1]!, index: 1, total: 4 });
    expect(lines.join('')).toContain('[2/4] ✗ ipam.b');
  });
});

describe('config', () => {
  it('fills every default and rejects bad values with a usage error', () => {
    const c = defaultConfig();
    expect(c).toMatchObject({ level: 'should', profile: 'docker-20.10', replayDir: './cnmkit-replays', subnets: [] });
    expect(() => defaultConfig({ level: 'sometimes' as never })).toThrow(UsageError);
    expect(() => defaultConfig({ subnets: ['10.0.0.0/33'] })).toThrow(/not a CIDR/);
    expect(() => defaultConfig({ runs: 0 })).toThrow(UsageError);
    expect(parseKeyValues(['parent=eth0', 'mode=l2=x'], '--driver-opt')).toEqual({ parent: 'eth0', mode: 'l2=x' });
    expect(() => parseKeyValues(['novalue'], '--ipam-opt')).toThrow(/K=V/);
  });
});
