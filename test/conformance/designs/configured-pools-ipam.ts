/**
 * Calico's libnetwork IPAM (projectcalico/libnetwork-plugin driver/ipam_driver.go,
 * read through its public source; no code copied): it serves only the pools it
 * was configured with. RequestPool refuses any SubPool, any non-empty Options
 * ("Arbitrary options are not supported") and every subnet that is not a
 * configured pool; the PoolID is the requested CIDR text (an identical request
 * gets the same PoolID), Data carries the dummy gateway "0.0.0.0/0" ("::/0") so
 * dockerd requests no gateway, and ReleasePool is a no-op. An automatic
 * RequestPool answers Pool "0.0.0.0/0" with PoolID "CalicoPoolIPv4" ("::/0",
 * "CalicoPoolIPv6"), which allocates across every configured pool.
 * RequestAddress hands out /32 (/128) addresses from one global per-address
 * allocator that uses every address of a pool, network and broadcast included;
 * a preferred address is granted anywhere in any configured pool; a
 * gateway-typed request is refused. ReleaseAddress frees the address whatever
 * the PoolID, a no-op when it is not allocated.
 *
 * `configuredPoolsIpamMethods(pools)` is the handler table, so a helper can serve
 * it together with a Calico-like routed network driver in one plugin.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { type FixtureMethods, refuse, serveFixture } from './serve.js';
import { flag, type Net, fmtAddr, fmtNet, inNet, isGatewayRequest, opts, parseAddr, parseNet, str } from './shared-ipam.js';

export const CALICO_POOL_V4 = 'CalicoPoolIPv4';
export const CALICO_POOL_V6 = 'CalicoPoolIPv6';

export function configuredPoolsIpamMethods(configured: readonly string[]): FixtureMethods {
  const pools: Net[] = configured.map((c) => {
    const n = parseNet(c);
    if (!n) throw new TypeError(`not a CIDR: ${c}`);
    return n;
  });
  const assigned = new Set<string>();
  const key = (family: number, v: bigint): string => `${family}:${v}`;
  const answer = (family: 4 | 6, v: bigint) => ({ Address: `${fmtAddr(family, v)}/${family === 4 ? 32 : 128}` });

  return {
    '/IpamDriver.GetCapabilities': () => ({}),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'CalicoLocalAddressSpace', GlobalDefaultAddressSpace: 'CalicoGlobalAddressSpace' }),
    '/IpamDriver.RequestPool': (b) => {
      if (str(b, 'SubPool') !== '') {
        refuse("Calico IPAM does not support sub pool configuration on 'docker create network'. Calico IP Pools should be configured first and IP assignment is from those pre-configured pools.");
      }
      if (Object.keys(opts(b)).length !== 0) refuse('Arbitrary options are not supported');
      const v6 = flag(b, 'V6');
      let poolId = v6 ? CALICO_POOL_V6 : CALICO_POOL_V4;
      let pool = v6 ? '::/0' : '0.0.0.0/0';
      const gateway = pool;
      const requested = str(b, 'Pool');
      if (requested !== '') {
        const net = parseNet(requested);
        if (!net) refuse('Invalid CIDR');
        if (!pools.some((p) => fmtNet(p) === fmtNet(net))) refuse('The requested subnet must match the CIDR of a configured Calico IP Pool.');
        pool = requested;
        poolId = requested;
      }
      return { PoolID: poolId, Pool: pool, Data: { 'com.docker.network.gateway': gateway } };
    },
    '/IpamDriver.ReleasePool': () => ({}),
    '/IpamDriver.RequestAddress': (b) => {
      if (isGatewayRequest(b)) refuse('Calico IPAM does not support specifying a gateway.');
      const pref = str(b, 'Address');
      if (pref !== '') {
        // Any address of any configured pool, whatever the PoolID.
        const ip = parseAddr(pref);
        if (!ip || !pools.some((p) => inNet(p, ip.family, ip.value))) refuse(`IP assignment error, data: {IP:${pref}}: not in a configured pool`);
        if (assigned.has(key(ip.family, ip.value))) refuse(`IP assignment error, data: {IP:${pref}}: address already assigned in block`);
        assigned.add(key(ip.family, ip.value));
        return answer(ip.family, ip.value);
      }
      const poolId = str(b, 'PoolID');
      let from: Net[];
      if (poolId === CALICO_POOL_V4) from = pools.filter((p) => p.family === 4);
      else if (poolId === CALICO_POOL_V6) from = pools.filter((p) => p.family === 6);
      else {
        const net = parseNet(poolId);
        if (!net) refuse(`Invalid CIDR - ${poolId}`);
        const pool = pools.find((p) => fmtNet(p) === fmtNet(net));
        if (!pool) refuse('The network references a Calico pool which has been deleted. Please re-instate the Calico pool before using the network.');
        from = [pool];
      }
      for (const p of from) {
        for (let v = p.base; v <= p.last; v++) {
          if (assigned.has(key(p.family, v))) continue;
          assigned.add(key(p.family, v));
          return answer(p.family, v);
        }
      }
      refuse('IP assignment error: no more free affine blocks and strict affinity enabled');
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const ip = parseAddr(str(b, 'Address'));
      if (ip) assigned.delete(key(ip.family, ip.value)); // already unassigned: a no-op
      return {};
    },
  };
}

export function startConfiguredPoolsIpam(socketPath: string, pools: readonly string[]): Promise<ListeningPlugin> {
  return serveFixture(socketPath, configuredPoolsIpamMethods(pools), { implements: ['IpamDriver'] });
}
