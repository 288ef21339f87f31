/**
 * `connect`: from a target (socket path, URL, plugin name, in-process
 * handler, recorded trace) to a ready PluginClient.
 */
import type { RawHandler } from '../protocol/raw.js';
import { PluginClient, type ClientOptions } from './client.js';
import { lookupPlugin, parsePluginAddr, type DiscoveryDirs, type PluginEndpoint } from './discovery.js';
import { InProcessTransport } from './inprocess-transport.js';
import type { RetryOptions } from './retry.js';
import { SocketTransport, type SocketTransportOptions, type TlsSettings } from './socket-transport.js';
import { RecordingTransport, TraceTransport, type RecordedExchange } from './trace.js';
import type { Transport } from './transport.js';

export type ConnectTarget =
  | { readonly socket: string }
  /** `unix:///path`, `tcp://host:port`, `http://host:port`, `https://host:port`. */
  | { readonly url: string; readonly tls?: TlsSettings }
  | { readonly plugin: string; readonly dirs?: DiscoveryDirs }
  | { readonly handler: RawHandler; readonly label?: string }
  | { readonly trace: readonly RecordedExchange[] }
  | { readonly transport: Transport };

export interface ConnectOptions extends ClientOptions, SocketTransportOptions {
  /**
   * Behave like dockerd where it matters for robustness testing: transport
   * retries with backoff and the empty-body resend, and name lookup retries.
   * Explicit `retry` / `lookupRetry` win.
   */
  readonly faithful?: boolean;
  /** Name lookup retries (default none; dockerd's backoff when `faithful`). */
  readonly lookupRetry?: RetryOptions;
  /** Append every raw exchange to this log (for trace files). */
  readonly record?: RecordedExchange[];
}

/** A client plus how its plugin was found (set for `{ plugin }` targets). */
export type ConnectedClient = PluginClient & { readonly endpoint?: PluginEndpoint };

export async function connect(target: ConnectTarget, opts: ConnectOptions = {}): Promise<ConnectedClient> {
  const retry: RetryOptions | undefined = opts.retry ?? (opts.faithful ? { mode: 'dockerd', faithful: true } : undefined);
  const lookupRetry: RetryOptions = opts.lookupRetry ?? (opts.faithful ? { mode: 'dockerd', ...(retry?.scale !== undefined ? { scale: retry.scale } : {}), ...(retry?.clock ? { clock: retry.clock } : {}) } : { mode: 'none' });
  const sockOpts: SocketTransportOptions = {
    ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}),
    ...(opts.maxHeadBytes !== undefined ? { maxHeadBytes: opts.maxHeadBytes } : {}),
    ...(opts.keepAlive !== undefined ? { keepAlive: opts.keepAlive } : {}),
    ...(opts.maxIdle !== undefined ? { maxIdle: opts.maxIdle } : {}),
  };
  let transport: Transport;
  let endpoint: PluginEndpoint | undefined;
  if ('socket' in target) transport = new SocketTransport({ kind: 'unix', path: target.socket }, sockOpts);
  else if ('url' in target) transport = new SocketTransport(parsePluginAddr(target.url, target.tls), sockOpts);
  else if ('plugin' in target) {
    endpoint = await lookupPlugin(target.plugin, target.dirs, lookupRetry);
    transport = new SocketTransport(parsePluginAddr(endpoint.addr, endpoint.tls), sockOpts);
  } else if ('handler' in target) {
    transport = new InProcessTransport(target.handler, { ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}), ...(target.label ? { label: target.label } : {}) });
  } else if ('trace' in target) transport = new TraceTransport(target.trace);
  else transport = target.transport;
  if (opts.record) transport = new RecordingTransport(transport, opts.record);
  const client = new PluginClient(transport, { ...opts, ...(retry ? { retry } : {}) });
  if (endpoint) Object.defineProperty(client, 'endpoint', { value: endpoint, enumerable: true });
  return client;
}
