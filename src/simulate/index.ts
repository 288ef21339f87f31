/** `cnmkit simulate`: scenarios, the runner on the daemon simulator, traces, text and HTML views, fuzzing. */
export { loadScenario, parseScenario, actionText, ScenarioError, type Scenario, type ScenarioStep, type ScenarioAction, type ScenarioExpect, type FaultSpec, type SubnetSpec } from './scenario.js';
export { simulate, fuzz, type SimulateOptions, type FuzzOptions, type FuzzResult } from './simulate.js';
export { runOnHost, checkExpect, type SimHost, type RunOptions, type RunResult } from './runner.js';
export { createHost, type HostOptions } from './host.js';
export { generateScenario, shrinkSteps, stepArbitrary } from './generate.js';
export { renderText, renderStep, renderState, renderTree } from './text.js';
export { renderHtml, pageData, FULL_GRID_MAX, BUCKETS } from './html.js';
export { poolMapModel, poolCounts, type PoolMapModel, type PoolCounts } from './poolmap.js';
export { scenarioToYaml } from './write.js';
export { openPage, findChromium, BrowserError, type BrowserPage } from './browser.js';
export type * from './trace.js';
export { traceCall, TRACE_VERSION } from './trace.js';
