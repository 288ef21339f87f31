/**
 * inProcessPlugin: a driver and/or IPAM object served through the SDK's
 * RawHandler and reached through the real client, in process. The simulator
 * then always speaks the wire protocol (encoding, Go decoding, error texts)
 * without a socket.
 */
import { connect, type ConnectOptions } from '../client/connect.js';
import type { PluginClient } from '../client/client.js';
import { LeanTransport } from '../client/lean-transport.js';
import type { IpamApi, NetworkDriverApi } from '../protocol/api.js';
import type { Profile } from '../protocol/constants.js';
import { createPluginHandler } from '../sdk/handler.js';
import { DaemonUsageError } from './errors.js';

export interface InProcessPluginOptions {
  readonly driver?: NetworkDriverApi;
  readonly ipam?: IpamApi;
  /** Daemon profile the client speaks like and the handler serves (default docker-20.10). */
  readonly profile?: Profile;
  /** Label in error texts (default `in-process`). */
  readonly label?: string;
  /** Extra client options (timeouts, retries). */
  readonly client?: Omit<ConnectOptions, 'profile'>;
  /**
   * Skip the in-process transport's per-call isolation (body copies, abort
   * controller, timeout timer) and dispatch straight into the SDK handler.
   * Requests and replies still go through the client's encoding, status and
   * Go-decoding logic; only timeouts and aborts are not available. For runs
   * at scale (bench/simulate, `cnmkit simulate`).
   */
  readonly lean?: boolean;
}

export interface InProcessPlugin {
  /** One client for the one plugin: pass it as both `driver` and `ipam` of `createDaemon`. */
  readonly client: PluginClient;
  readonly driver: PluginClient;
  readonly ipam: PluginClient;
  close(): Promise<void>;
}

export async function inProcessPlugin(opts: InProcessPluginOptions): Promise<InProcessPlugin> {
  if (opts.driver === undefined && opts.ipam === undefined) throw new DaemonUsageError('inProcessPlugin: give a driver, an ipam or both');
  const handler = createPluginHandler({
    ...(opts.driver !== undefined ? { driver: opts.driver } : {}),
    ...(opts.ipam !== undefined ? { ipam: opts.ipam } : {}),
    ...(opts.profile !== undefined ? { profile: opts.profile } : {}),
  });
  const label = opts.label ?? 'in-process';
  const target = opts.lean === true ? { transport: new LeanTransport(handler, label) } : { handler, label };
  const client = await connect(target, { ...(opts.client ?? {}), profile: opts.profile ?? 'docker-20.10', timeoutMs: opts.client?.timeoutMs ?? 0 });
  return { client, driver: client, ipam: client, close: () => client.close() };
}
