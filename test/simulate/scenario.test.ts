import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionText, loadScenario, parseScenario, ScenarioError } from '../../src/simulate/scenario.js';

const DIR = join(import.meta.dirname, '../../fixtures/scenarios');

function errorOf(text: string): ScenarioError {
  try {
    parseScenario(text, 'bad.yaml');
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('scenario files', () => {
  const files = readdirSync(DIR).filter((f) => /\.(ya?ml|json)$/.test(f));
  it('there are at least ten', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });
  for (const f of files) {
    it(`${f} is valid and tells a story`, () => {
      const s = loadScenario(join(DIR, f));
      expect(s.title.length).toBeGreaterThan(5);
      expect(s.explain.length).toBeGreaterThan(100);
      expect(s.steps.length).toBeGreaterThan(0);
      expect(s.expect).toBeDefined();
      for (const step of s.steps) expect(step.line).toBeGreaterThan(0);
    });
  }
});

describe('parseScenario', () => {
  const base = 'title: t\nexplain: e\nsteps:\n';

  it('reads every action with its fields', () => {
    const s = parseScenario(
      `${base}  - network create: {name: n, subnet: 10.0.0.0/24, ip-range: 10.0.0.128/25, gateway: 10.0.0.1, aux-address: {r: 10.0.0.2}, ipam-opt: {k: v}}
  - run: {name: c, networks: [n, m], ip: 10.0.0.9}
  - stop: c
  - start: {name: c}
  - network connect: {container: c, network: m, ip6: "fd00::5"}
  - network disconnect: {container: c, network: m}
  - daemon restart:
  - daemon restart: {start: [c]}
  - network rm: n
    fail: {call: /IpamDriver.ReleasePool, error: boom, nth: 2}
    expect-error: boom
    note: hi
`,
      'x.yaml',
    );
    expect(s.steps.map((x) => x.action.kind)).toEqual(['network-create', 'run', 'stop', 'start', 'network-connect', 'network-disconnect', 'daemon-restart', 'daemon-restart', 'network-rm']);
    expect(s.steps[0].action).toEqual({ kind: 'network-create', name: 'n', subnets: [{ subnet: '10.0.0.0/24', ipRange: '10.0.0.128/25', gateway: '10.0.0.1', aux: { r: '10.0.0.2' } }], ipv6: false, internal: false, ipamOptions: { k: 'v' } });
    expect(s.steps[7].action).toEqual({ kind: 'daemon-restart', startOrder: ['c'] });
    expect(s.steps[8]).toMatchObject({ fault: { call: 'IpamDriver.ReleasePool', error: 'boom', nth: 2 }, expectError: 'boom', note: 'hi', line: 12 });
    expect(actionText(s.steps[0].action)).toBe('docker network create --subnet 10.0.0.0/24 --ip-range 10.0.0.128/25 --gateway 10.0.0.1 --aux-address r=10.0.0.2 --ipam-opt k=v n');
  });

  it('reads JSON too', () => {
    const s = parseScenario('{"title":"t","explain":"e","steps":[{"stop":"c"}]}', 'x.json');
    expect(s.steps[0].action).toEqual({ kind: 'stop', name: 'c' });
  });

  const cases: [string, string, number, string][] = [
    ['bad IP names line and field', `${base}  - stop: a\n  - run: {name: c, network: n, ip: 10.0.0.300}\n`, 5, 'steps[1].run.ip'],
    ['unknown action', `${base}  - stop: a\n  - runn: {name: c}\n`, 5, 'steps[1].runn'],
    ['two actions', `${base}  - stop: a\n    start: b\n`, 5, 'steps[0].start'],
    ['missing field', `${base}  - run:\n      network: n\n`, 4, 'steps[0].run'],
    ['unknown field', `${base}  - network create:\n      name: n\n      sbnet: 10.0.0.0/8\n`, 6, 'steps[0]["network create"].sbnet'],
    ['bad CIDR', `${base}  - network create:\n      name: n\n      subnet: 10.0.0.0/33\n`, 6, 'steps[0]["network create"].subnet'],
    ['family mix', `${base}  - network create:\n      name: n\n      subnet: 10.0.0.0/24\n      gateway: "fd00::1"\n`, 7, 'steps[0]["network create"].gateway'],
    ['missing title', 'explain: e\nsteps: [{stop: a}]\n', 1, ''],
    ['empty steps', 'title: t\nexplain: e\nsteps: []\n', 3, 'steps'],
    ['bad fault call', `${base}  - stop: a\n    fail: {call: Join}\n`, 5, 'steps[0].fail.call'],
    ['bad expect', `${base}  - stop: a\nexpect:\n  allocated: {n: -1}\n`, 6, 'expect.allocated.n'],
    ['bad pool size', 'title: t\nexplain: e\ndefault-address-pools:\n  - {base: 10.0.0.0/16, size: 8}\nsteps: [{stop: a}]\n', 4, 'default-address-pools[0].size'],
    ['ip6 in ip', `${base}  - run: {name: c, network: n, ip: "fd00::1"}\n`, 4, 'steps[0].run.ip'],
  ];
  for (const [what, text, line, field] of cases) {
    it(`error: ${what}`, () => {
      const e = errorOf(text);
      expect(e.code).toBe('E_SCENARIO');
      expect(e.field).toBe(field);
      expect(e.line).toBe(line);
      expect(e.message.startsWith(`bad.yaml:${line}: ${field === '' ? '' : `${field}: `}`)).toBe(true);
    });
  }

  it('YAML syntax errors name the line', () => {
    const e = errorOf('title: t\nexplain: e\nsteps:\n  - stop: [a\n');
    expect(e.message).toMatch(/^bad\.yaml:\d+: not valid YAML/);
    const dup = errorOf('title: t\ntitle: u\nexplain: e\nsteps: [{stop: a}]\n');
    expect(dup.line).toBe(2);
  });

  it('a missing file is one clear error', () => {
    expect(() => loadScenario('/nonexistent/x.yaml')).toThrow(/^\/nonexistent\/x\.yaml:0: cannot read: ENOENT/);
  });
});
