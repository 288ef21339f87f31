/** Replaying recorded sessions (traces and replay files) against a plugin, with re-mapped ids. */
export { replayTrace, atLevel, formatDivergence, rewriteBody, learn, goJson, type Divergence, type DivergenceKind, type ReplayedCall, type ReplayJudge, type ReplayVerdict, type ReplayTraceOptions, type ReplayTraceResult } from './engine.js';
export { IdMap, Permutation } from './remap.js';
export { readReply, headerRecord, type ReplyReading } from './outcome.js';
export { shapeOf, shapeDiff, type Shape } from './shape.js';
export { traceOfReplayFile, replayFileOfTrace, type ReplayFileHeader, type ReplayFileCall } from './replay-file-trace.js';
export { loadReplayInput, parseReplayInput, type ReplayInput } from './load.js';
export { replayJudge } from './judge.js';
export { traceLineOf } from './out.js';
