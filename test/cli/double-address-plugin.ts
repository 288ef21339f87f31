/** A reference plugin with one flaw, for the CLI tests that must find it: an address handed out twice. */
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import { createIpam } from '../../src/ipam/index.js';
import type { IpamApi } from '../../src/protocol/api.js';
import { createReferencePlugin } from '../../src/reference/plugin.js';
import { servePlugin } from '../../src/sdk/index.js';

/** Serve it on `socket`: a container's address goes straight back to the free list. Resolves to its close. */
export async function serveDoubleAddressPlugin(socket: string): Promise<() => Promise<void>> {
  const plugin = await createReferencePlugin({ backend: new VirtualBackend() });
  const inner = createIpam({ requiresRequestReplay: false });
  const ipam: IpamApi = {
    getCapabilities: () => inner.getCapabilities(),
    getDefaultAddressSpaces: () => inner.getDefaultAddressSpaces(),
    requestPool: (r) => inner.requestPool(r),
    releasePool: (r) => inner.releasePool(r),
    requestAddress: (r) => {
      const res = inner.requestAddress(r);
      if (r.Options?.['RequestAddressType'] === undefined) inner.releaseAddress({ PoolID: r.PoolID, Address: res.Address.split('/')[0]! });
      return res;
    },
    releaseAddress: (r) => inner.releaseAddress(r),
  };
  const server = await servePlugin({ driver: plugin.driver, ipam, listen: { socket } });
  return async () => {
    await server.close();
    await plugin.close();
  };
}
