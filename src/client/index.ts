/** Public entry of the client: talk to any plugin as dockerd does. */
export * from './types.js';
export * from './errors.js';
export { PluginClient, DEFAULT_CALL_TIMEOUT_MS, type ClientOptions, type RawExchange } from './client.js';
export { connect, type ConnectTarget, type ConnectOptions, type ConnectedClient } from './connect.js';
export { activate, type Activation, type ActivateOptions, type ActivationStepError } from './activate.js';
export {
  discoveryCandidates,
  findPlugin,
  lookupPlugin,
  managedPluginSocket,
  parseJsonText,
  parsePluginAddr,
  parseSpecText,
  type DiscoveryDirs,
  type PluginEndpoint,
} from './discovery.js';
export { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEAD_BYTES, type SendOptions, type Transport, type TransportInfo } from './transport.js';
export { SocketTransport, MAX_UNIX_PATH_BYTES, type SocketAddress, type SocketTransportOptions, type TlsSettings } from './socket-transport.js';
export { InProcessTransport, type InProcessOptions } from './inprocess-transport.js';
export { LeanTransport, type DispatchHandler, type DispatchReply } from './lean-transport.js';
export { TraceTransport, RecordingTransport, type RecordedExchange } from './trace.js';
export { backoffMs, shouldAbort, realClock, VirtualClock, RETRY_BUDGET_MS, type Clock, type RetryOptions } from './retry.js';
export { interpretReply, type Interpretation } from './interpret.js';
export { goDecodeFirst, goUnmarshalErr } from './gojson.js';
export { serializeRequest, ReplyParser, type ParsedReply, type ReplyParserOptions } from './http1.js';
