/**
 * A stateless IPAM: it keeps no pools. The PoolID encodes the subnet
 * ("stateless:10.199.0.0/28", with "~<sub-pool>" for --ip-range), so any PoolID
 * that parses is served by rebuilding the pool from it, and ReleasePool is a
 * no-op. Uniqueness lives in one set of allocated addresses (what such plugins
 * keep in their datastore), so overlapping pools can never share an address.
 * dockerd only ever sends PoolIDs it got, so serving a parsable one is correct.
 */
import type { ListeningPlugin } from '../plugins/listen.js';
import { type FixtureMethods, refuse, serveFixture } from './serve.js';
import { type Net, fmtAddr, fmtNet, inNet, parseAddr, parseNet, str } from './shared-ipam.js';

const PREFIX = 'stateless:';

/** The pool a PoolID names: its network and the automatic range. */
function rebuild(poolId: string): { net: Net; range: [bigint, bigint] } {
  if (!poolId.startsWith(PREFIX)) refuse(`not a stateless PoolID: ${JSON.stringify(poolId)}`);
  const [netText = '', subText] = poolId.slice(PREFIX.length).split('~');
  const net = parseNet(netText);
  if (!net) refuse(`PoolID ${JSON.stringify(poolId)} names no subnet`);
  const sub = subText === undefined ? null : parseNet(subText);
  if (subText !== undefined && (!sub || sub.family !== net.family || sub.base < net.base || sub.last > net.last)) refuse(`PoolID ${JSON.stringify(poolId)} names a bad sub-pool`);
  return { net, range: sub ? [sub.base, sub.last] : [net.base, net.last] };
}

export function statelessIpamMethods(): FixtureMethods {
  const allocated = new Set<string>();
  const key = (family: number, v: bigint): string => `${family}:${v}`;
  const reserved = (n: Net, v: bigint): boolean => v === n.base || (n.family === 4 && n.prefix < 31 && v === n.last);
  return {
    '/IpamDriver.GetCapabilities': () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),
    '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'StatelessLocal', GlobalDefaultAddressSpace: 'StatelessGlobal' }),
    '/IpamDriver.RequestPool': (b) => {
      const poolText = str(b, 'Pool');
      const subText = str(b, 'SubPool');
      if (poolText === '') refuse('automatic pools need state: give --subnet');
      const net = parseNet(poolText);
      if (!net) refuse(`invalid pool ${JSON.stringify(poolText)}`);
      const poolId = `${PREFIX}${fmtNet(net)}${subText ? `~${subText}` : ''}`;
      rebuild(poolId); // validates the sub-pool
      return { PoolID: poolId, Pool: fmtNet(net), Data: {} };
    },
    '/IpamDriver.ReleasePool': () => ({}),
    '/IpamDriver.RequestAddress': (b) => {
      const { net, range } = rebuild(str(b, 'PoolID'));
      const pref = str(b, 'Address');
      let v: bigint | null = null;
      if (pref !== '') {
        const ip = parseAddr(pref);
        if (!ip || !inNet(net, ip.family, ip.value)) refuse(`${pref} is not in ${fmtNet(net)}`);
        if (reserved(net, ip.value) || allocated.has(key(net.family, ip.value))) refuse(`${pref} is in use`);
        v = ip.value;
      } else {
        for (let a = range[0]; a <= range[1] && v === null; a++) if (!reserved(net, a) && !allocated.has(key(net.family, a))) v = a;
        if (v === null) refuse(`no free address in ${fmtNet(net)}`);
      }
      allocated.add(key(net.family, v));
      return { Address: `${fmtAddr(net.family, v)}/${net.prefix}`, Data: {} };
    },
    '/IpamDriver.ReleaseAddress': (b) => {
      const { net } = rebuild(str(b, 'PoolID'));
      const ip = parseAddr(str(b, 'Address'));
      if (!ip || !inNet(net, ip.family, ip.value)) refuse(`${str(b, 'Address')} is not in ${fmtNet(net)}`);
      allocated.delete(key(ip.family, ip.value));
      return {};
    },
  };
}

export function startStatelessIpam(socketPath: string): Promise<ListeningPlugin> {
  return serveFixture(socketPath, statelessIpamMethods(), { implements: ['IpamDriver'] });
}
