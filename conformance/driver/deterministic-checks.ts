/** Deterministic driver checks: reply times of one container lifecycle, and differences from Docker's own drivers (compat). */
import type { Check, CheckContext } from '../types.js';
import { join, openNetwork, requireEndpoint, requireJoined, teardown } from './helpers.js';
import { sandboxOptions } from './system.js';

export const timelyLifecycle: Check = {
  id: 'driver.timely-replies',
  title: 'Lifecycle calls answer within the plugin kind\'s limit',
  level: 'should',
  reason:
    'protocol.md §1.5: a managed plugin\'s call fails after the request timeout (`docker plugin enable --timeout`, default 30 s = --timeout here) and is retried with an empty body; a v1 plugin has no timeout, so a call that long blocks `docker run`. Slow calls within the limit (a DHCP lease in CreateEndpoint, a cloud API) are only noted.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const net = await openNetwork(ctx);
    for (let i = 0; i < 2; i++) {
      const ep = await requireEndpoint(ctx, net, 2 + i);
      const j = await join(ctx, net, ep);
      if (typeof j !== 'string') await ctx.caller.tryCall('EndpointOperInfo', { NetworkID: net.id, EndpointID: ep.id }, { timeoutMs: ctx.config.timeoutMs });
      await teardown(ctx, net, ep);
    }
    for (const r of ctx.records) if (r.outcome !== 'timeout' && r.durationMs > ctx.config.slowCallMs) ctx.note(`${r.path} took ${Math.round(r.durationMs)} ms (within --timeout ${ctx.config.timeoutMs} ms)`);
    const late = ctx.records.filter((r) => r.outcome === 'timeout');
    if (late.length > 0) {
      const consequence = ctx.pluginKind === 'managed' ? 'dockerd fails the call and retries it with an empty body' : 'the docker command waits that long';
      ctx.fail(`${late.map((r) => `${r.path} got no reply within ${ctx.config.timeoutMs} ms`).join(', ')} (--timeout): ${consequence}`);
    }
  },
};

export const dstPrefixCompat: Check = {
  id: 'driver.dst-prefix-compat',
  title: 'Join names the container interface eth<N>',
  level: 'compat',
  reason: "protocol.md §2.2 (Join): Docker's own drivers answer DstPrefix \"eth\" (eth0 in the container); other prefixes work but tools expecting eth0 do not find it.",
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const net = await openNetwork(ctx);
    const { ep, reply: j } = await requireJoined(ctx, net, 2);
    const prefix = j.InterfaceName?.DstPrefix ?? '';
    if (j.InterfaceName?.SrcName && prefix !== 'eth') ctx.fail(`DstPrefix is ${JSON.stringify(prefix)}: the container interface is ${prefix}0, not eth0`);
    if (j.Gateway && net.gateway !== null && j.Gateway !== net.gateway) ctx.fail(`Join Gateway ${j.Gateway} differs from the IPAM gateway ${net.gateway} Docker's bridge driver would answer`);
    if (!j.Gateway && !j.DisableGatewayService) ctx.note('Join answers no Gateway: dockerd attaches the container to docker_gwbridge for outside access');
  },
};

export const externalConnectivityCompat: Check = {
  id: 'driver.external-connectivity-compat',
  title: 'Program/RevokeExternalConnectivity and Discover answer {}',
  level: 'compat',
  reason: "protocol.md §2.2 (ProgramExternalConnectivity): Docker's own drivers answer {} to ProgramExternalConnectivity, RevokeExternalConnectivity, DiscoverNew and DiscoverDelete; dockerd also accepts 404 (ignored) and logs other errors.",
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const net = await openNetwork(ctx);
    const { ep, reply: j } = await requireJoined(ctx, net, 2);
    const t = { timeoutMs: ctx.config.timeoutMs };
    const problems: string[] = [];
    const p = await ctx.caller.tryCall('ProgramExternalConnectivity', { NetworkID: net.id, EndpointID: ep.id, Options: sandboxOptions() }, t);
    if (!p.ok) problems.push(`ProgramExternalConnectivity: ${p.error.message}`);
    const v = await ctx.caller.tryCall('RevokeExternalConnectivity', { NetworkID: net.id, EndpointID: ep.id }, t);
    if (!v.ok) problems.push(`RevokeExternalConnectivity: ${v.error.message}`);
    const data = { Address: '127.0.0.1', BindAddress: '127.0.0.1', Self: true };
    const dn = await ctx.caller.tryCall('DiscoverNew', { DiscoveryType: 1, DiscoveryData: data }, t);
    if (!dn.ok) problems.push(`DiscoverNew: ${dn.error.message}`);
    const dd = await ctx.caller.tryCall('DiscoverDelete', { DiscoveryType: 1, DiscoveryData: data }, t);
    if (!dd.ok) problems.push(`DiscoverDelete: ${dd.error.message}`);
    if (problems.length > 0) ctx.fail(`answered errors where Docker's drivers answer {}: ${problems.join('; ')}`);
  },
};

export const deleteUnknownCompat: Check = {
  id: 'driver.delete-unknown-compat',
  title: 'Deleting unknown ids answers success',
  level: 'compat',
  reason: "protocol.md §2.2 (DeleteEndpoint) / §4.4: dockerd only logs DeleteEndpoint/DeleteNetwork errors; Docker's bridge driver answers an error for unknown ids too, go-plugins-helpers drivers usually {} — both are accepted, this only reports which.",
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const net = await openNetwork(ctx);
    const t = { timeoutMs: ctx.config.timeoutMs };
    const e = await ctx.caller.tryCall('DeleteEndpoint', { NetworkID: net.id, EndpointID: net.ids.next('ghost') }, t);
    const n = await ctx.caller.tryCall('DeleteNetwork', { NetworkID: net.ids.next('ghost') }, t);
    ctx.note(`DeleteEndpoint of an unknown id: ${e.ok ? 'success' : `error (${e.error.message})`}; DeleteNetwork of an unknown id: ${n.ok ? 'success' : `error (${n.error.message})`}`);
    if ((!e.ok && e.error.kind !== 'plugin-error') || (!n.ok && n.error.kind !== 'plugin-error')) ctx.fail('deleting an unknown id answered something other than success or a plugin error');
  },
};
