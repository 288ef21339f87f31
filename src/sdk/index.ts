/**
 * The plugin server SDK: serve any NetworkDriverApi and/or IpamApi object as a
 * Docker network plugin (`cnmkit/sdk`).
 */
export { servePlugin } from './serve.js';
export type { ListenOptions, NamedSocketListen, PluginServer, ServePluginOptions, SocketListen, TcpListen, TlsFiles } from './serve.js';
export { createPluginHandler } from './handler.js';
export type { PluginHandler, PluginHandlerOptions, SignalSource, WireReply } from './handler.js';
export { inject } from './inject.js';
export type { InjectOptions, InjectReply } from './inject.js';
export type { Http1Limits } from './http1.js';
export { PluginError, SdkOptionsError, SocketInUseError, SocketPathError } from './errors.js';
export type { CallContext, IpamApi, NetworkDriverApi } from '../protocol/api.js';
