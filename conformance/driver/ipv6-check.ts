/**
 * driver.ipv6-endpoint: a dual-stack network (`docker network create --ipv6`).
 * A driver that refuses IPv6 networks is skipped with the reason; one that
 * takes them must not echo AddressIPv6 and must answer a usable GatewayIPv6.
 * Addresses come from the IPAM the design probe chose (default, the plugin's
 * own, or the null IPAM where the driver supplies them).
 */
import { Options } from '../../src/protocol/constants.js';
import type { Check, CheckContext } from '../types.js';
import { allocateAddress, allocatePool, ctxPort, releaseAddress, releasePool, requireDesign, trackNetwork } from './addressing.js';
import { gatewayProblem, subnetOf } from './rules.js';
import { IdSource, endpointOptions, sandboxOptions } from './system.js';

export const ipv6Endpoint: Check = {
  id: 'driver.ipv6-endpoint',
  title: 'Dual-stack endpoints: no AddressIPv6 echo, usable GatewayIPv6',
  level: 'must',
  reason:
    'protocol.md §2.2 (CreateEndpoint, Join): with --ipv6 CreateEndpoint carries Interface.AddressIPv6, which the reply must not return ("driver modified interface address"); Join GatewayIPv6 is a bare IPv6 address the container can reach (on the endpoint subnet, link-local, or behind a connected route of the reply) or container start fails.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const arena = ctx.pools.next();
    const v4 = arena.v4[0];
    const v6 = arena.v6[0];
    if (!v4 || !v6) ctx.skip('needs an IPv4 and an IPv6 pool (give both as --subnet)');
    const design = await requireDesign(ctx);
    const port = ctxPort(ctx);
    const ids = new IdSource(ctx.seed);
    const t = { timeoutMs: ctx.config.timeoutMs };
    const p4 = await allocatePool(port, design.mode, v4);
    if (typeof p4 === 'string') ctx.skip(`precondition: ${p4}`);
    const p6 = await allocatePool(port, design.mode, v6);
    if (typeof p6 === 'string') ctx.skip(`the IPAM gave no IPv6 pool (${p6}): no v6`);
    const net = ids.next('net');
    const created = await port.call('CreateNetwork', {
      NetworkID: net,
      Options: { [Options.Generic]: { ...ctx.config.driverOpts }, [Options.EnableIPv6]: true },
      IPv4Data: [p4.data],
      IPv6Data: [p6.data],
    });
    if (!created.ok) {
      await releasePool(port, p6);
      await releasePool(port, p4);
      ctx.skip(`the driver refused an IPv6 network (${created.error.message}): no v6`);
    }
    trackNetwork(port, net, p4, p6);
    const a4 = await allocateAddress(port, p4, 2);
    if ('refused' in a4) ctx.skip(`precondition: ${a4.refused}`);
    const a6 = await allocateAddress(port, p6, 2);
    if ('refused' in a6) ctx.skip(`precondition: ${a6.refused}`);
    const ep = ids.next('ep');
    const ce = await port.call('CreateEndpoint', { NetworkID: net, EndpointID: ep, Interface: { Address: a4.address, AddressIPv6: a6.address, MacAddress: '' }, Options: endpointOptions(false) });
    if (!ce.ok) {
      await releaseAddress(port, p6, a6.address);
      await releaseAddress(port, p4, a4.address);
      ctx.fail(`CreateEndpoint with Address ${a4.address || '""'} and AddressIPv6 ${a6.address || '""'} on an IPv6 network the driver accepted (${p6.label}) was refused: ${ce.error.message}`);
    }
    ctx.resources.trackEndpoint(ctx.caller, net, ep);
    const iface = ce.value.Interface ?? {};
    // Address (IPv4) echoes are driver.no-echo's concern.
    if (a6.address !== '' && iface.AddressIPv6) ctx.fail(`CreateEndpoint was given AddressIPv6 ${a6.address} and answered AddressIPv6 ${JSON.stringify(iface.AddressIPv6)}; dockerd fails with "driver modified interface address"`);
    const addr6 = a6.address !== '' ? a6.address : (iface.AddressIPv6 ?? '');
    if (a6.address === '' && addr6 !== '' && (subnetOf(addr6) === null || subnetOf(addr6)!.family !== 6)) ctx.fail(`CreateEndpoint (null IPAM) answered AddressIPv6 ${JSON.stringify(addr6)}, not an IPv6 CIDR; dockerd parses it and fails the call`);
    const j = await port.call('Join', { NetworkID: net, EndpointID: ep, SandboxKey: '/var/run/docker/netns/c6c6c6c6c6c6', Options: sandboxOptions() });
    if (!j.ok) ctx.fail(`Join of a dual-stack endpoint was refused: ${j.error.message}`);
    ctx.resources.add({ kind: 'join', id: ep, release: async () => ((await ctx.caller.tryCall('Leave', { NetworkID: net, EndpointID: ep }, t)).ok ? null : 'Leave refused') });
    const g6 = j.value.GatewayIPv6;
    if (g6) {
      const problem = gatewayProblem(g6, subnetOf(addr6), addr6.split('/')[0] ?? '', j.value.StaticRoutes, 6);
      if (problem !== null) ctx.fail(`Join of ${ep.slice(0, 12)} (${addr6 || 'no IPv6 address'}): ${problem.replace(/could not be found"\)$/, 'could not be found": the IPv6 default route cannot be added)')}`);
    }
  },
};
