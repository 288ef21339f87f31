/**
 * Scenario data for Docker's default IPAM behaviour (fixtures/ipam/*.json):
 * format, validation with clear errors, and a runner that replays a scenario
 * against any IPAM implementing the in-process API (the reference, or a
 * plugin wrapped by a client).
 *
 * File: { description, docIds: string[], options?: IpamOptions-like, scenarios: [
 *   { name, docIds?, options?, steps: [ { call, args?, repeat?, expect } ] } ] }
 * expect: { result: <partial object> } | { error: { text, class?, code? } } | { ok: true }
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CnmkitError } from '../errors.js';
import type { IpamOptions } from './reference.js';

export const SCENARIO_CALLS = [
  'getDefaultAddressSpaces',
  'getCapabilities',
  'requestPool',
  'releasePool',
  'requestAddress',
  'releaseAddress',
] as const;
export type ScenarioCall = (typeof SCENARIO_CALLS)[number];

export interface ScenarioStep {
  call: ScenarioCall;
  args?: Record<string, unknown>;
  /** Run the step this many times (each must meet `expect`). */
  repeat?: number;
  expect: { result: Record<string, unknown> } | { error: { text: string; class?: string; code?: string } } | { ok: true };
  note?: string;
}

export interface Scenario {
  name: string;
  docIds?: string[];
  options?: ScenarioOptions;
  steps: ScenarioStep[];
}

export type ScenarioOptions = Pick<IpamOptions, 'profile' | 'defaultAddressPools' | 'globalAddressPools' | 'customAddressSpaces'>;

export interface ScenarioFile {
  description: string;
  docIds: string[];
  options?: ScenarioOptions;
  scenarios: Scenario[];
}

export class ScenarioFormatError extends CnmkitError {
  constructor(file: string, where: string, message: string) {
    super('E_SCENARIO_FORMAT', `${file}: ${where}: ${message}`);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrArr = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function checkKeys(file: string, where: string, o: Obj, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ScenarioFormatError(file, where, `unknown key "${k}" (allowed: ${allowed.join(', ')})`);
  }
}

function checkOptions(file: string, where: string, v: unknown): void {
  if (v === undefined) return;
  if (!isObj(v)) throw new ScenarioFormatError(file, where, 'options must be an object');
  checkKeys(file, where, v, ['profile', 'defaultAddressPools', 'globalAddressPools', 'customAddressSpaces']);
  if (v.profile !== undefined && v.profile !== 'docker-20.10' && v.profile !== 'moby') {
    throw new ScenarioFormatError(file, where, `options.profile must be "docker-20.10" or "moby", got ${JSON.stringify(v.profile)}`);
  }
  for (const k of ['defaultAddressPools', 'globalAddressPools'] as const) {
    const list = v[k];
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.every((p) => isObj(p) && typeof p.base === 'string' && typeof p.size === 'number')) {
      throw new ScenarioFormatError(file, where, `options.${k} must be a list of {base: string, size: number}`);
    }
  }
}

/** Validates parsed JSON as a scenario file; throws ScenarioFormatError naming the file and the place. */
export function validateScenarioFile(file: string, data: unknown): ScenarioFile {
  if (!isObj(data)) throw new ScenarioFormatError(file, 'top level', 'expected an object');
  checkKeys(file, 'top level', data, ['description', 'docIds', 'options', 'scenarios']);
  if (typeof data.description !== 'string' || data.description === '') throw new ScenarioFormatError(file, 'top level', 'description must be a non-empty string');
  if (!isStrArr(data.docIds)) throw new ScenarioFormatError(file, 'top level', 'docIds must be a list of strings');
  checkOptions(file, 'top level', data.options);
  if (!Array.isArray(data.scenarios) || data.scenarios.length === 0) throw new ScenarioFormatError(file, 'top level', 'scenarios must be a non-empty list');
  const names = new Set<string>();
  data.scenarios.forEach((sc: unknown, i: number) => {
    const where = `scenarios[${i}]`;
    if (!isObj(sc)) throw new ScenarioFormatError(file, where, 'expected an object');
    checkKeys(file, where, sc, ['name', 'docIds', 'options', 'steps']);
    if (typeof sc.name !== 'string' || sc.name === '') throw new ScenarioFormatError(file, where, 'name must be a non-empty string');
    if (names.has(sc.name)) throw new ScenarioFormatError(file, where, `duplicate scenario name "${sc.name}"`);
    names.add(sc.name);
    if (sc.docIds !== undefined && !isStrArr(sc.docIds)) throw new ScenarioFormatError(file, where, 'docIds must be a list of strings');
    checkOptions(file, where, sc.options);
    if (!Array.isArray(sc.steps) || sc.steps.length === 0) throw new ScenarioFormatError(file, where, 'steps must be a non-empty list');
    sc.steps.forEach((st: unknown, j: number) => {
      const w = `${where} "${String(sc.name)}" steps[${j}]`;
      if (!isObj(st)) throw new ScenarioFormatError(file, w, 'expected an object');
      checkKeys(file, w, st, ['call', 'args', 'repeat', 'expect', 'note']);
      if (!SCENARIO_CALLS.includes(st.call as ScenarioCall)) {
        throw new ScenarioFormatError(file, w, `call must be one of ${SCENARIO_CALLS.join(', ')}, got ${JSON.stringify(st.call)}`);
      }
      if (st.args !== undefined && !isObj(st.args)) throw new ScenarioFormatError(file, w, 'args must be an object');
      if (st.repeat !== undefined && !(Number.isInteger(st.repeat) && (st.repeat as number) >= 1)) throw new ScenarioFormatError(file, w, 'repeat must be an integer >= 1');
      const ex = st.expect;
      if (!isObj(ex)) throw new ScenarioFormatError(file, w, 'expect must be an object');
      const kinds = ['result', 'error', 'ok'].filter((k) => k in ex);
      if (kinds.length !== 1 || Object.keys(ex).length !== 1) throw new ScenarioFormatError(file, w, 'expect must have exactly one of result, error, ok');
      if ('result' in ex && !isObj(ex.result)) throw new ScenarioFormatError(file, w, 'expect.result must be an object');
      if ('ok' in ex && ex.ok !== true) throw new ScenarioFormatError(file, w, 'expect.ok must be true');
      if ('error' in ex) {
        const er = ex.error;
        if (!isObj(er) || typeof er.text !== 'string') throw new ScenarioFormatError(file, w, 'expect.error must be {text: string, class?: string, code?: string}');
        checkKeys(file, `${w} expect.error`, er, ['text', 'class', 'code']);
      }
    });
  });
  return data as unknown as ScenarioFile;
}

/** The package's `fixtures/ipam` (works from `src/` under tsx and from `dist/src/`). */
export function ipamFixturesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const d = join(here, up, 'fixtures/ipam');
    if (existsSync(d)) return d;
  }
  throw new ScenarioFormatError('fixtures/ipam', 'lookup', `not found above ${here}`);
}

/** Reads and validates every `*.json` in a directory, sorted by name. */
export function loadScenarioFiles(dir: string = ipamFixturesDir()): { file: string; data: ScenarioFile }[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => {
      const path = join(dir, n);
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(path, 'utf8'));
      } catch (e) {
        throw new ScenarioFormatError(n, 'file', `not valid JSON: ${(e as Error).message}`);
      }
      return { file: n, data: validateScenarioFile(n, raw) };
    });
}

/** The in-process surface a scenario needs (IpamApi without the context argument). */
export interface ScenarioTarget {
  getDefaultAddressSpaces(): unknown;
  getCapabilities?(): unknown;
  requestPool(req: never): unknown;
  releasePool(req: never): unknown;
  requestAddress(req: never): unknown;
  releaseAddress(req: never): unknown;
}

export interface StepFailure {
  step: number;
  iteration: number;
  call: string;
  args: unknown;
  expected: unknown;
  actual: unknown;
  message: string;
}

/** Whether every key of `want` matches `got` (recursively; arrays exactly). */
export function matchesPartial(want: unknown, got: unknown): boolean {
  if (isObj(want)) {
    if (!isObj(got)) return false;
    return Object.keys(want).every((k) => matchesPartial(want[k], got[k]));
  }
  if (Array.isArray(want)) {
    return Array.isArray(got) && want.length === got.length && want.every((w, i) => matchesPartial(w, got[i]));
  }
  return Object.is(want, got);
}

/** Replays one scenario; returns the first mismatch or null. */
export async function runScenario(target: ScenarioTarget, sc: Scenario): Promise<StepFailure | null> {
  for (let i = 0; i < sc.steps.length; i++) {
    const st = sc.steps[i];
    for (let it = 0; it < (st.repeat ?? 1); it++) {
      const fn = (target as unknown as Record<string, (a?: unknown) => unknown>)[st.call];
      let actual: { result: unknown } | { error: { text: string; class?: string; code?: string } };
      try {
        actual = { result: await fn.call(target, st.args ?? {}) };
      } catch (e) {
        const err = e as Error & { code?: string; dockerClass?: string };
        actual = { error: { text: err.message, class: err.dockerClass, code: err.code } };
      }
      const ex = st.expect;
      const ok = 'ok' in ex ? 'result' in actual : 'result' in ex ? 'result' in actual && matchesPartial(ex.result, actual.result) : 'error' in actual && matchesPartial(ex.error, actual.error);
      if (!ok) {
        return {
          step: i,
          iteration: it,
          call: st.call,
          args: st.args,
          expected: ex,
          actual,
          message: `${sc.name}: step ${i} (${st.call} ${JSON.stringify(st.args ?? {})})${st.repeat ? ` iteration ${it}` : ''}: expected ${JSON.stringify(ex)}, got ${JSON.stringify(actual)}`,
        };
      }
    }
  }
  return null;
}
