/**
 * An IPAM whose gateway is fixed: the gateway request of a pool (Options
 * RequestAddressType=com.docker.network.gateway) always gets the pool's first
 * host, and only once per pool (a second gateway request is refused), the way
 * IPAMs that compute the gateway from the subnet behave (docker-net-dhcp-like
 * and cloud IPAMs, where .1 is the router). dockerd sends exactly one gateway
 * request per pool, first, at network create (protocol.md §4.1/§4.2), so this
 * design is correct. A `--gateway` address is honoured.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { serveFixture } from './serve.js';
import { statefulIpamMethods } from './stateful-ipam.js';

export function startFixedGatewayIpam(socketPath: string): Promise<ListeningPlugin> {
  return serveFixture(socketPath, statefulIpamMethods({ fixedGateway: true, spaces: { local: 'FixedGwLocal', global: 'FixedGwGlobal' } }), { implements: ['IpamDriver'] });
}
