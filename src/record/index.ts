/** `cnmkit record`: the recording proxy, its live checks and the trace format (docs/record.md, docs/trace.md). */
export { startRecorder, cnmkitVersion, type Recorder, type RecorderOptions, type RecorderUpstream } from './session.js';
export { startProxy, nowMs, type ExchangeEnd, type ExchangeErrorKind, type ExchangeHooks, type ProxyOptions, type RunningProxy, type UpstreamAddress } from './proxy.js';
export { MessageSplitter, type HeaderPair, type ReplyHead, type RequestHead, type SplitMessage } from './http1-split.js';
export { SessionStats, formatSummary, percentile } from './summary.js';
export { describeCall, describeViolation } from './describe.js';
export * from './trace.js';
