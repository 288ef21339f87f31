/**
 * One process hosting several shared-IPAM instances, each with its own etcd
 * client and its own unix socket (`bench/store` "one host process" rows):
 * `host.ts ETCD_URL PREFIX SOCKET...`. Prints one line once all listen.
 */
import { createIpam } from '../../src/ipam/index.js';
import { openSharedIpam } from '../../src/ipam/store/index.js';
import { servePlugin } from '../../src/sdk/index.js';

const [url, prefix, ...sockets] = process.argv.slice(2);
if (url === undefined || prefix === undefined || sockets.length === 0) {
  console.error('usage: host.ts ETCD_URL PREFIX SOCKET...');
  process.exit(2);
}
const servers = await Promise.all(
  sockets.map((socket) => servePlugin({ ipam: openSharedIpam({ store: url, prefix, local: createIpam() }), listen: { socket } })),
);
console.log(`hosting ${servers.length} instances`);
process.once('SIGTERM', () => {
  void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0));
});
