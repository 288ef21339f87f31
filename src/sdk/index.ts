/**
 * The plugin server SDK (`cnmkit/sdk`): serve any NetworkDriverApi and/or
 * IpamApi object as a Docker network plugin.
 *
 * ```ts
 * const server = await servePlugin({ ipam: myIpam, listen: { name: 'myipam' } });
 * // ... /run/docker/plugins/myipam.sock (0660) answers the daemon
 * await server.close(); // answers in-flight calls, removes the socket
 * ```
 *
 * - `createPluginHandler` is the transport-free protocol side (a RawHandler):
 *   routing from the method table, Activate manifest, strict request
 *   validation (400 `{"Err":"field X: expected ..."}`), 404 `{"Err":"404 page not found"}`
 *   for methods the objects do not implement, 405 for non-POST, 413 over the
 *   body limit, 500 `{"Err": message}` when a handler throws (PluginError
 *   picks another status). Use it with `inject` in tests or with the client's
 *   in-process transport.
 * - `servePlugin` adds the listener (unix socket, TCP, TLS, discovery files)
 *   and a lean HTTP/1.1 layer (src/sdk/http1.ts) with keep-alive (10 min idle
 *   by default), pipelining, limits and per-connection deadlines. It also
 *   turns off V8's parallel scavenging for the process (`latencyGc: false`
 *   keeps it): on a busy small host it stretches GC pauses into the slowest
 *   calls (src/sdk/gc.ts, bench/server).
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
