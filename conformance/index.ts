/**
 * `cnmkit/conformance`: check any Docker network / IPAM plugin against the
 * remote protocol contract. Runs from the CLI (`cnmkit check`) or inside a
 * plugin author's own tests:
 *
 *   const report = await runSuites({ socket: '/tmp/p.sock' }, { level: 'should' });
 *   expect(exitCodeFor(report)).toBe(0);
 */
export { runSuites, seedFor, type RunOptions } from './runner.js';
export { defaultConfig, validateConfig, parseKeyValues, type ConformanceConfig, type ResolvedConfig } from './config.js';
export { ALL_SUITES } from './suites.js';
export { protocolSuite } from './protocol/index.js';
export { ipamSuite, ipamModelChecks } from './ipam/index.js';
export { IpamIds } from './ipam/ids.js';
export { driverSuite, driverModelChecks } from './driver/index.js';
export { DriverIds } from './driver/ids.js';
export { lifecycleSuite } from './lifecycle/index.js';
export { replay, resendCalls, type ReplayOutcome, type ResentCall } from './replay.js';
export { readReplayFile, writeReplayFile, replayFileOf, REPLAY_FORMAT, type ReplayFile } from './replay-file.js';
export { replayTrace, replayJudge, atLevel, formatDivergence, loadReplayInput, parseReplayInput, traceOfReplayFile, replayFileOfTrace, type Divergence, type DivergenceKind, type ReplayedCall, type ReplayInput, type ReplayJudge, type ReplayTraceOptions, type ReplayTraceResult } from './replay-trace/index.js';
export { createTarget, describeSpec, endpointOfUrl, type Connector, type Target, type TargetSpec, type ConnectOptions } from './target.js';
export { clientConnector } from './connector.js';
export { socketRawSender, handlerRawSender, type RawSender, type RawExchange, type RawResult, type RawEndpoint } from './raw.js';
export { Resources } from './resources.js';
export { createPoolPlan, type Arena, type PoolPlan } from './pools.js';
export { Violation, SkipCheck, TargetUnreachableError, ReplayFileError } from './errors.js';
export { exitCodeFor } from './report/exit-code.js';
export { jsonReport } from './report/json.js';
export { junitReport } from './report/junit.js';
export { tapReport } from './report/tap.js';
export { consoleReport, consoleProgress, type ConsoleOptions } from './report/console.js';
export { htmlReport, type HtmlOptions } from './report/html.js';
export { parseCitations, citationLinks, githubSlug, loadSpecSections, specDocsDir, SPEC_DOCS, type Citation, type CitationLink, type SpecDoc } from './citations.js';
export { curlReproducer } from './counterexample.js';
export { runInstances, replayInstances, multiSuite, restartCommandsFor, MULTI_SUITE_ID, type InstancesOptions, type MultiPeer, type MultiTargets } from './multi/index.js';
export { parseSeedRange, parseShard, shardSeeds, runShard, writeShardReport, readShardReport, parseShardReport, shardReportText, SHARD_FORMAT, type SeedRange, type ShardSpec, type ShardReport } from './shard.js';
export { mergeShardReports, readShardDir, renderCampaign, campaignExitCode, campaignOfShard, CAMPAIGN_FORMAT, type Campaign, type CampaignReporter } from './report/merge.js';
export { defineConformanceTests, ConformanceFailure, type TestApi } from './vitest.js';
export * from './types.js';
export { startRecorder, type Recorder, type RecorderOptions, type RecorderUpstream } from './live/recorder.js';
