/**
 * `cnmkit record`'s parts that know no rules: the byte-exact proxy, HTTP/1 message splitting, the
 * session summary and the trace format (docs/trace.md). The recorder that checks live is
 * conformance/live/recorder.ts (docs/record.md).
 */
export { startProxy, nowMs, type ExchangeEnd, type ExchangeErrorKind, type ExchangeHooks, type ProxyOptions, type RunningProxy, type UpstreamAddress } from './proxy.js';
export { MessageSplitter, type HeaderPair, type ReplyHead, type RequestHead, type SplitMessage } from './http1-split.js';
export { SessionStats, formatSummary, percentile } from './summary.js';
export { describeCall, describeViolation } from './describe.js';
export * from './trace.js';
