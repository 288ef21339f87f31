/**
 * An IPAM that refuses every RequestPool without an option (here `parent`, as
 * macvlan/ipvlan-style IPAMs need the host interface): dockerd passes
 * `--ipam-opt parent=eth0` as RequestPool Options, so `docker network create`
 * works when the user gives it and fails with the plugin's message otherwise.
 * Correct; checked with `ipamOpts: { parent: 'eth0' }`, and without it every
 * check that needs a pool skips, pointing to --ipam-opt.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { serveFixture } from './serve.js';
import { statefulIpamMethods } from './stateful-ipam.js';

export function startOptRequiredIpam(socketPath: string): Promise<ListeningPlugin> {
  return serveFixture(socketPath, statefulIpamMethods({ requiredOption: 'parent', spaces: { local: 'OptLocal', global: 'OptGlobal' } }), { implements: ['IpamDriver'] });
}
