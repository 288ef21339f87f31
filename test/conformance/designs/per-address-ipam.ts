/**
 * A per-address allocator: one set of allocated addresses for every pool, so
 * overlapping (even identical) pools are granted, each with its own PoolID,
 * and still no address is ever handed out twice (Calico's model: addresses,
 * not pools, are the unit of allocation). Two networks never share an address.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { serveFixture } from './serve.js';
import { statefulIpamMethods } from './stateful-ipam.js';

export function startPerAddressIpam(socketPath: string): Promise<ListeningPlugin> {
  const methods = statefulIpamMethods({ scope: 'per-address', spaces: { local: 'PerAddrLocal', global: 'PerAddrGlobal' }, poolId: (_s, net, _sub, n) => `pa-${n}-${net.prefix}` });
  return serveFixture(socketPath, methods, { implements: ['IpamDriver'] });
}
