/**
 * Slow but correct: a plugin in front of a cloud API (network and pool calls take
 * seconds) with a DHCP-style address wait. v1 plugins have no request timeout and
 * managed ones 30 s by default (protocol.md §1.5), so dockerd runs it fine, only
 * slowly. Inside: Docker's default IPAM and a link-local gateway driver.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { dockerFaithfulIpamMethods } from './docker-faithful-ipam.js';
import { linkLocalDriverMethods } from './linklocal-driver.js';
import { serveFixture } from './serve.js';

export interface SlowPluginOptions {
  /** CreateNetwork and RequestPool (default 2500 ms). */
  readonly cloudMs?: number;
  /** RequestAddress and Join (default 1200 ms). */
  readonly leaseMs?: number;
}

export function startSlowPlugin(socketPath: string, opts: SlowPluginOptions = {}): Promise<ListeningPlugin> {
  const cloud = opts.cloudMs ?? 2500;
  const lease = opts.leaseMs ?? 1200;
  const delays: Record<string, number> = {
    '/NetworkDriver.CreateNetwork': cloud,
    '/IpamDriver.RequestPool': cloud,
    '/IpamDriver.RequestAddress': lease,
    '/NetworkDriver.Join': lease,
  };
  return serveFixture(socketPath, { ...dockerFaithfulIpamMethods(), ...linkLocalDriverMethods() }, { implements: ['IpamDriver', 'NetworkDriver'], delayMs: (path) => delays[path] ?? 0 });
}
