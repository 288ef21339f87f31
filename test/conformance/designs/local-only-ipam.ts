/**
 * A local-only IPAM: GetDefaultAddressSpaces answers an empty
 * GlobalDefaultAddressSpace (it serves no global-scope / swarm networks), and
 * RequestPool accepts only its local space. dockerd registers it and uses the
 * local space for every local network (protocol.md §2.3).
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { serveFixture } from './serve.js';
import { statefulIpamMethods } from './stateful-ipam.js';

export function startLocalOnlyIpam(socketPath: string): Promise<ListeningPlugin> {
  return serveFixture(socketPath, statefulIpamMethods({ spaces: { local: 'LocalOnly', global: '' } }), { implements: ['IpamDriver'] });
}
