/** The default Connector: cnmkit's own client (src/client). */
import { connect, lookupPlugin, type DiscoveryDirs } from '../src/client/index.js';
import type { RawSender } from './raw.js';
import { socketRawSender, type RawSenderOptions } from './raw.js';
import { endpointOfUrl, type Connector } from './target.js';

export const clientConnector: Connector = (spec, opts) => connect(spec, { timeoutMs: opts.timeoutMs, ...(opts.profile ? { profile: opts.profile } : {}) });

/** A raw sender for a plugin found by name (discovery as dockerd does it, no retries). */
export function pluginRawSender(name: string, options: RawSenderOptions, dirs?: DiscoveryDirs): RawSender {
  let resolved: Promise<RawSender> | null = null;
  const get = (): Promise<RawSender> =>
    (resolved ??= lookupPlugin(name, dirs, { mode: 'none' }).then((ep) => socketRawSender(endpointOfUrl(ep.addr), options)));
  return {
    curlPrefix: null,
    async send(ex, opts) {
      return (await get()).send(ex, opts);
    },
  };
}
