/**
 * Run the suites inside a plugin author's own test runner (vitest, or any
 * runner with describe/it/beforeAll): one test per check, like csi-sanity's
 * `sanity.Test(t, config)`. The runner functions are passed in, so cnmkit has
 * no runtime dependency on a test framework.
 *
 *   import { describe, it, beforeAll } from 'vitest';
 *   defineConformanceTests({ describe, it, beforeAll }, () => ({ socket }), { level: 'should' });
 */
import type { ConformanceConfig } from './config.js';
import { defaultConfig } from './config.js';
import { counterexampleText, specLinksText } from './report/text.js';
import { runSuites, type RunOptions } from './runner.js';
import { ALL_SUITES } from './suites.js';
import type { Target, TargetSpec } from './target.js';
import { levelFails, type RunReport, type Suite } from './types.js';

/** The slice of a test framework this needs (vitest and jest fit). */
export interface TestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: (context?: { skip?: (note?: string) => void }) => void | Promise<void>): void;
  beforeAll(body: () => Promise<void>, timeoutMs?: number): void;
}

export class ConformanceFailure extends Error {}

export function defineConformanceTests(
  t: TestApi,
  target: () => Target | TargetSpec | Promise<Target | TargetSpec>,
  config: Partial<ConformanceConfig> = {},
  options: RunOptions & { readonly suites?: readonly Suite[]; readonly timeoutMs?: number } = {},
): void {
  const resolved = defaultConfig(config);
  const suites = (options.suites ?? ALL_SUITES).filter((s) => resolved.suites.length === 0 || resolved.suites.includes(s.id));
  let report: RunReport | null = null;
  let failure: unknown = null;
  t.beforeAll(async () => {
    try {
      report = await runSuites(await target(), resolved, { ...options, suites });
    } catch (e) {
      failure = e;
    }
  }, options.timeoutMs ?? 120_000);
  for (const suite of suites) {
    t.describe(`cnmkit ${suite.id}: ${suite.title}`, () => {
      for (const check of suite.checks) {
        t.it(`${check.id} [${check.level}] ${check.title}`, (context) => {
          if (failure) throw failure;
          const r = (report as RunReport | null)?.checks.find((c) => c.id === check.id);
          if (!r || r.status === 'skipped' || r.status === 'not-run') {
            context?.skip?.(r?.message ?? 'not selected');
            return;
          }
          if (r.status === 'failed' && levelFails(r.level, resolved.level)) {
            const see = specLinksText(r.reason);
            throw new ConformanceFailure(`${r.message}\nrule: ${r.reason}\n${see === '' ? '' : `see: ${see}\n`}${counterexampleText(r)}`);
          }
        });
      }
    });
  }
}
