/**
 * What the checks talk to: a factory of PluginCaller connections (the client)
 * plus a raw byte-level sender for hostile requests.
 */
import type { PluginCaller } from '../src/client/types.js';
import type { RawHandler } from '../src/protocol/raw.js';
import { handlerRawSender, type RawSender, type RawSenderOptions, socketRawSender } from './raw.js';
import { UsageError } from '../src/errors.js';
import type { Profile } from '../src/protocol/constants.js';
import type { DiscoveryDirs } from '../src/client/discovery.js';

/** Where the plugin is, as the CLI flags name it. */
export type TargetSpec =
  | { readonly socket: string }
  | { readonly url: string }
  /** `dirs` overrides where discovery looks (tests; default /run/docker/plugins and the spec dirs). */
  | { readonly plugin: string; readonly dirs?: DiscoveryDirs }
  | { readonly handler: RawHandler; readonly label?: string };

export interface ConnectOptions {
  readonly timeoutMs: number;
  readonly profile?: Profile;
}

/** Opens one client connection to a target (normally `src/client`'s connect). */
export type Connector = (spec: TargetSpec, opts: ConnectOptions) => Promise<PluginCaller>;

export interface Target {
  readonly description: string;
  /** A new PluginCaller (its own connection pool). */
  connect(opts: ConnectOptions): Promise<PluginCaller>;
  /** A raw sender; `options.onExchange` observes every exchange. */
  rawSender(options: RawSenderOptions): RawSender;
  close?(): Promise<void>;
}

export function describeSpec(spec: TargetSpec): string {
  if ('socket' in spec) return `unix://${spec.socket}`;
  if ('url' in spec) return spec.url;
  if ('plugin' in spec) return `plugin ${spec.plugin}`;
  return spec.label ?? 'in-process handler';
}

/** Parse `tcp://host:port`, `http://host:port` or `unix:///path`. */
export function endpointOfUrl(url: string): { socketPath: string } | { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--url: not a URL: ${url}`);
  }
  if (u.protocol === 'unix:') return { socketPath: decodeURIComponent(u.pathname) };
  if (u.protocol !== 'tcp:' && u.protocol !== 'http:') throw new UsageError(`--url: only tcp://, http:// and unix:// are supported, got ${u.protocol}`);
  const port = Number(u.port);
  if (!u.hostname || !Number.isInteger(port) || port <= 0) throw new UsageError(`--url: host and port required: ${url}`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

/** Build a Target from a spec and a connector (`pluginRaw` finds a named plugin for raw exchanges). */
export function createTarget(spec: TargetSpec, connector: Connector, pluginRaw?: (name: string, options: RawSenderOptions, dirs?: DiscoveryDirs) => RawSender): Target {
  return {
    description: describeSpec(spec),
    connect: (opts) => connector(spec, opts),
    rawSender(options) {
      if ('handler' in spec) return handlerRawSender(spec.handler, options);
      if ('socket' in spec) return socketRawSender({ socketPath: spec.socket }, options);
      if ('url' in spec) return socketRawSender(endpointOfUrl(spec.url), options);
      if (pluginRaw) return pluginRaw(spec.plugin, options, spec.dirs);
      return socketRawSender({ socketPath: `/run/docker/plugins/${spec.plugin}.sock` }, options);
    },
  };
}
