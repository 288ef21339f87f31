/** Small driver / IPAM doubles for SDK tests; they record the requests they get. */
import type { IpamApi, NetworkDriverApi } from '../../src/protocol/api.js';

export interface Recorded {
  calls: { handler: string; req: unknown }[];
}

export function testDriver(rec: Recorded = { calls: [] }): NetworkDriverApi & Recorded {
  const log = (handler: string, req: unknown): void => {
    rec.calls.push({ handler, req });
  };
  return {
    calls: rec.calls,
    getCapabilities: () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    createNetwork: (req) => log('createNetwork', req),
    deleteNetwork: (req) => log('deleteNetwork', req),
    createEndpoint: (req) => {
      log('createEndpoint', req);
      return {};
    },
    deleteEndpoint: (req) => log('deleteEndpoint', req),
    endpointOperInfo: () => ({ Value: {} }),
    join: async (req) => {
      log('join', req);
      return { InterfaceName: { SrcName: 'veth0', DstPrefix: 'eth' }, Gateway: '10.0.0.1' };
    },
    leave: (req) => log('leave', req),
  };
}

export function testIpam(rec: Recorded = { calls: [] }): IpamApi & Recorded {
  let next = 2;
  return {
    calls: rec.calls,
    getDefaultAddressSpaces: () => ({ LocalDefaultAddressSpace: 'LocalDefault', GlobalDefaultAddressSpace: 'GlobalDefault' }),
    requestPool: (req) => {
      rec.calls.push({ handler: 'requestPool', req });
      return { PoolID: `${req.AddressSpace}/10.0.0.0/16`, Pool: '10.0.0.0/16', Data: {} };
    },
    releasePool: (req) => {
      rec.calls.push({ handler: 'releasePool', req });
    },
    requestAddress: (req) => {
      rec.calls.push({ handler: 'requestAddress', req });
      return { Address: `10.0.0.${next++}/16`, Data: {} };
    },
    releaseAddress: (req) => {
      rec.calls.push({ handler: 'releaseAddress', req });
    },
  };
}
