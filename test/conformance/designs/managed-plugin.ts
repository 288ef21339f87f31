/**
 * A managed (v2) plugin as `docker plugin install` runs it, in the shapes dockerd
 * accepts from one: no /Plugin.Activate (dockerd goes straight to the handlers,
 * protocol.md §1.7), refusals as a bare 400 with an empty body (dockerd shows the
 * raw body: an empty message, but still an error, §1.4), 501 for methods it does
 * not know (dockerd never calls those), and a local-only IPAM with an empty
 * GlobalDefaultAddressSpace. Inside: Docker's default IPAM and a link-local
 * gateway driver, both written from the protocol docs.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { dockerFaithfulIpamMethods } from './docker-faithful-ipam.js';
import { linkLocalDriverMethods } from './linklocal-driver.js';
import { serveFixture } from './serve.js';

export function startManagedPlugin(socketPath: string): Promise<ListeningPlugin> {
  return serveFixture(
    socketPath,
    {
      ...dockerFaithfulIpamMethods(),
      ...linkLocalDriverMethods(),
      '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'LocalDefault', GlobalDefaultAddressSpace: '' }),
    },
    { implements: null, refusal: { status: 400, emptyBody: true }, unknownStatus: 501 },
  );
}
