/**
 * An IPAM that hands out random free addresses and random automatic pools
 * (free /24s of 10.180.0.0/16, never overlapping a held pool), with opaque
 * PoolIDs: the Kubernetes ClusterIP allocator's random-scan idea (ipam-semantics.md
 * §5.4). dockerd treats order and PoolIDs as opaque, so this is correct.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { serveFixture } from './serve.js';
import { seededRandom, statefulIpamMethods } from './stateful-ipam.js';

export function startRandomIpam(socketPath: string, seed = 1): Promise<ListeningPlugin> {
  const random = seededRandom(seed);
  const methods = statefulIpamMethods({
    random,
    spaces: { local: 'RandomLocal', global: 'RandomGlobal' },
    poolId: () => `pool-${Math.floor(random() * 2 ** 48).toString(16)}`,
  });
  return serveFixture(socketPath, methods, { implements: ['IpamDriver'] });
}
