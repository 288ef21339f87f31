/**
 * driver.ipv6-endpoint: a dual-stack network (`docker network create --ipv6`).
 * A driver that refuses IPv6 networks is skipped with the reason; one that
 * takes them must not echo AddressIPv6 and must answer a usable GatewayIPv6.
 */
import { Options } from '../../src/protocol/constants.js';
import { contains, formatCidr, formatIp, parseIp } from '../cidr.js';
import type { Check, CheckContext } from '../types.js';
import { hostOf } from './helpers.js';
import { IdSource, sandboxOptions } from './system.js';

export const ipv6Endpoint: Check = {
  id: 'driver.ipv6-endpoint',
  title: 'Dual-stack endpoints: no AddressIPv6 echo, usable GatewayIPv6',
  level: 'must',
  reason:
    'protocol.md §2.2: with --ipv6 CreateEndpoint carries Interface.AddressIPv6, which the reply must not return ("driver modified interface address"); Join GatewayIPv6 is a bare IPv6 address on the endpoint subnet or container start fails.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const arena = ctx.pools.next();
    const v4 = arena.v4[0];
    const v6 = arena.v6[0];
    if (!v4 || !v6) ctx.skip('needs an IPv4 and an IPv6 pool (give both as --subnet)');
    const ids = new IdSource(ctx.seed);
    const t = { timeoutMs: ctx.config.timeoutMs };
    const net = ids.next('net');
    const gw4 = hostOf(v4, 1);
    const gw6 = formatIp(6, v6.base + 1n);
    const created = await ctx.caller.tryCall(
      'CreateNetwork',
      {
        NetworkID: net,
        Options: { [Options.Generic]: { ...ctx.config.driverOpts }, [Options.EnableIPv6]: true },
        IPv4Data: [{ AddressSpace: ctx.addressSpaces.local, Gateway: `${gw4}/${v4.prefix}`, Pool: formatCidr(v4) }],
        IPv6Data: [{ AddressSpace: ctx.addressSpaces.local, Gateway: `${gw6}/${v6.prefix}`, Pool: formatCidr(v6) }],
      },
      t,
    );
    if (!created.ok) ctx.skip(`the driver refused an IPv6 network (${created.error.message}): no v6`);
    ctx.resources.trackNetwork(ctx.caller, net);
    const ep = ids.next('ep');
    const a4 = `${hostOf(v4, 2)}/${v4.prefix}`;
    const a6 = `${formatIp(6, v6.base + 2n)}/${v6.prefix}`;
    const ce = await ctx.caller.tryCall('CreateEndpoint', { NetworkID: net, EndpointID: ep, Interface: { Address: a4, AddressIPv6: a6, MacAddress: '' }, Options: sandboxOptions() }, t);
    if (!ce.ok) ctx.fail(`CreateEndpoint with Address ${a4} and AddressIPv6 ${a6} on an IPv6 network the driver accepted was refused: ${ce.error.message}`);
    ctx.resources.trackEndpoint(ctx.caller, net, ep);
    const iface = ce.value.Interface ?? {};
    // Address (IPv4) echoes are driver.no-echo's concern.
    if (iface.AddressIPv6) ctx.fail(`CreateEndpoint was given AddressIPv6 ${a6} and answered AddressIPv6 ${JSON.stringify(iface.AddressIPv6)}; dockerd fails with "driver modified interface address"`);
    const j = await ctx.caller.tryCall('Join', { NetworkID: net, EndpointID: ep, SandboxKey: '/var/run/docker/netns/c6c6c6c6c6c6', Options: sandboxOptions() }, t);
    if (!j.ok) ctx.fail(`Join of a dual-stack endpoint was refused: ${j.error.message}`);
    ctx.resources.add({ kind: 'join', id: ep, release: async () => ((await ctx.caller.tryCall('Leave', { NetworkID: net, EndpointID: ep }, t)).ok ? null : 'Leave refused') });
    const g6 = j.value.GatewayIPv6;
    if (g6) {
      const ip = parseIp(g6);
      if (ip === null || ip.family !== 6) ctx.fail(`Join GatewayIPv6 ${JSON.stringify(g6)} is not a bare IPv6 address (a mask is not allowed)`);
      if (!contains(v6, 6, ip.value)) ctx.fail(`Join GatewayIPv6 ${g6} is outside the endpoint's IPv6 subnet ${formatCidr(v6)} (container start fails: the IPv6 default route cannot be added)`);
      if (ip.value === v6.base + 2n) ctx.fail(`Join GatewayIPv6 ${g6} is the endpoint's own address`);
    }
  },
};
