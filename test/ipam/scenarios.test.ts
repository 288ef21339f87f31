/**
 * Replays every scenario of fixtures/ipam/ against the reference IPAM, and
 * checks that the fixture validator rejects malformed files clearly.
 */
import { describe, expect, it } from 'vitest';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createIpam } from '../../src/ipam/index.js';
import { ipamFixturesDir, loadScenarioFiles, runScenario, validateScenarioFile, ScenarioFormatError } from '../../src/ipam/scenarios.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/ipam');
const files = loadScenarioFiles(dir);

describe('fixtures/ipam scenarios', () => {
  it('finds the fixtures from the module too', () => {
    expect(loadScenarioFiles().map((f) => f.file)).toEqual(files.map((f) => f.file));
    expect(ipamFixturesDir()).toBe(dir.replace(/\/test\/ipam\/\.\.\/\.\./, ''));
  });
  it('has one file per topic', () => {
    expect(files.map((f) => f.file)).toEqual([
      'addresses.json',
      'auto-pools.json',
      'errors.json',
      'ipv6.json',
      'pools.json',
      'profile-moby.json',
      'release.json',
      'serial.json',
      'sub-pools.json',
    ]);
  });
  for (const { file, data } of files) {
    describe(file, () => {
      for (const sc of data.scenarios) {
        it(`${sc.name} [${(sc.docIds ?? data.docIds).join(', ')}]`, async () => {
          const ipam = createIpam({ ...data.options, ...sc.options });
          const failure = await runScenario(ipam, sc);
          expect(failure?.message ?? null).toBeNull();
        });
      }
    });
  }
});

describe('runner catches wrong expectations', () => {
  it('reports a mismatching result', async () => {
    const failure = await runScenario(createIpam(), {
      name: 'wrong',
      steps: [{ call: 'requestPool', args: { AddressSpace: 'LocalDefault' }, expect: { result: { Pool: '172.18.0.0/16' } } }],
    });
    expect(failure?.message).toMatch(/wrong: step 0 .*172\.17\.0\.0\/16/);
  });
  it('reports an error where a result was expected, and a wrong class', async () => {
    const f1 = await runScenario(createIpam(), {
      name: 'e',
      steps: [{ call: 'releasePool', args: { PoolID: 'x' }, expect: { ok: true } }],
    });
    expect(f1?.message).toContain('invalid pool id: x');
    const f2 = await runScenario(createIpam(), {
      name: 'c',
      steps: [{ call: 'releasePool', args: { PoolID: 'x' }, expect: { error: { text: 'invalid pool id: x', class: 'NotFound' } } }],
    });
    expect(f2).not.toBeNull();
  });
});

describe('fixture validation', () => {
  const good = { description: 'd', docIds: ['T1'], scenarios: [{ name: 'n', steps: [{ call: 'requestPool', args: {}, expect: { ok: true } }] }] };
  it('accepts a minimal file', () => {
    expect(validateScenarioFile('f.json', good).scenarios).toHaveLength(1);
  });
  const bad: [string, unknown, RegExp][] = [
    ['not an object', [], /f\.json: top level: expected an object/],
    ['no description', { ...good, description: '' }, /description must be a non-empty string/],
    ['unknown key', { ...good, extra: 1 }, /unknown key "extra"/],
    ['bad call', { ...good, scenarios: [{ name: 'n', steps: [{ call: 'explode', expect: { ok: true } }] }] }, /steps\[0\]: call must be one of/],
    ['two expectations', { ...good, scenarios: [{ name: 'n', steps: [{ call: 'requestPool', expect: { ok: true, result: {} } }] }] }, /exactly one of result, error, ok/],
    ['error without text', { ...good, scenarios: [{ name: 'n', steps: [{ call: 'requestPool', expect: { error: { class: 'X' } } }] }] }, /expect\.error must be/],
    ['bad repeat', { ...good, scenarios: [{ name: 'n', steps: [{ call: 'requestPool', repeat: 0, expect: { ok: true } }] }] }, /repeat must be an integer >= 1/],
    ['bad profile', { ...good, options: { profile: 'docker-19' } }, /options\.profile must be/],
    ['duplicate names', { ...good, scenarios: [good.scenarios[0], good.scenarios[0]] }, /duplicate scenario name "n"/],
  ];
  for (const [name, data, re] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => validateScenarioFile('f.json', data)).toThrow(ScenarioFormatError);
      expect(() => validateScenarioFile('f.json', data)).toThrow(re);
    });
  }
});
