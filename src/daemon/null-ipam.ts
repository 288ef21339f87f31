/**
 * Docker's built-in null IPAM (`--ipam-driver null`, libnetwork ipams/null) as
 * an IpamApi, to be served in process with `inProcessPlugin` and given to
 * `createDaemon` with `builtinIpam: 'null'`. It reserves nothing: RequestPool
 * answers 0.0.0.0/0 in address space "null" (a given pool is echoed under its
 * own id), RequestAddress answers no address for the default pool, so the
 * network has no gateway and CreateEndpoint carries an empty Interface.Address:
 * the driver supplies the addresses (docker-net-dhcp's design).
 */
import type { IpamApi } from '../protocol/api.js';

export const NULL_ADDRESS_SPACE = 'null';
export const NULL_POOL = '0.0.0.0/0';
export const NULL_POOL_ID = `${NULL_ADDRESS_SPACE}/${NULL_POOL}`;

export function createNullIpam(): IpamApi {
  return {
    getDefaultAddressSpaces: () => ({ LocalDefaultAddressSpace: NULL_ADDRESS_SPACE, GlobalDefaultAddressSpace: NULL_ADDRESS_SPACE }),
    requestPool(req) {
      const space = req.AddressSpace === '' ? NULL_ADDRESS_SPACE : req.AddressSpace;
      const want = req.Pool ?? '';
      if (want === '' && (req.SubPool ?? '') !== '') throw new Error('subpool requires a pool to be configured');
      const pool = want === '' ? NULL_POOL : want;
      return { PoolID: `${space}/${pool}`, Pool: pool, Data: {} };
    },
    releasePool: () => ({}),
    requestAddress(req) {
      if (req.PoolID !== NULL_POOL_ID) throw new Error(`unknown pool id: ${req.PoolID}`);
      return { Address: '', Data: {} };
    },
    releaseAddress(req) {
      if (req.PoolID !== NULL_POOL_ID) throw new Error(`unknown pool id: ${req.PoolID}`);
      return {};
    },
  };
}
