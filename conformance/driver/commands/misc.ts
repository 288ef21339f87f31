/** Calls dockerd makes around the lifecycle: EndpointOperInfo, Program/RevokeExternalConnectivity, and calls with unknown ids. */
import type { AsyncCommand } from 'fast-check';
import { DriverIds } from '../ids.js';
import type { DriverModel, ModelEndpoint, ModelNetwork } from '../model.js';
import { type DriverSystem, endpointOptions, sandboxOptions } from '../system.js';
import { EndpointCommand } from './endpoint-command.js';

/**
 * EndpointOperInfo outside a Join (dockerd asks it for the other endpoints of
 * a container on connect/disconnect, and ignores errors there): only noted.
 * The fatal call right after Join is JoinCommand's.
 */
export class OperInfoCommand extends EndpointCommand {
  constructor(index: number) {
    super(index, 'EndpointOperInfo', 'joined');
  }
  protected async act(m: DriverModel, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint): Promise<void> {
    const out = await r.call('EndpointOperInfo', { NetworkID: net.id, EndpointID: ep.id });
    if (!out.ok && out.error.kind !== 'not-implemented') r.ctx.note(`EndpointOperInfo of joined endpoint ${ep.id.slice(0, 12)} outside a Join answered an error (${out.error.message}); dockerd ignores errors there`);
  }
}

export class ProgramRevokeCommand extends EndpointCommand {
  constructor(index: number) {
    super(index, 'ProgramRevoke', 'joined');
  }
  protected async act(m: DriverModel, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint): Promise<void> {
    // Program carries the same sandbox options as the Join (protocol.md Appendix B).
    const p = await r.call('ProgramExternalConnectivity', { NetworkID: net.id, EndpointID: ep.id, Options: sandboxOptions(ep.ports) });
    // 404 = not implemented: ignored by dockerd (protocol.md §2.2).
    if (!p.ok && p.error.kind !== 'not-implemented') {
      r.violate(DriverIds.programRevoke, `ProgramExternalConnectivity of joined endpoint ${ep.id.slice(0, 12)} failed (${p.error.message}); dockerd rolls the container start back (protocol.md §4.3). Answer {} or 404 when there is nothing to do`);
    }
    const v = await r.call('RevokeExternalConnectivity', { NetworkID: net.id, EndpointID: ep.id });
    if (!v.ok && v.error.kind !== 'not-implemented') r.ctx.note(`RevokeExternalConnectivity answered an error (${v.error.message}); dockerd only logs it`);
  }
}

export type UnknownKind = 'endpoint-on-unknown-network' | 'endpoint-on-deleted-network' | 'join-unknown-endpoint' | 'delete-unknown-endpoint' | 'delete-unknown-network';

export class UnknownIdCommand implements AsyncCommand<DriverModel, DriverSystem> {
  constructor(readonly kind: UnknownKind) {}
  check(m: Readonly<DriverModel>): boolean {
    if (this.kind === 'endpoint-on-deleted-network') return m.deletedNetworks.length > 0;
    return this.kind === 'endpoint-on-unknown-network' || this.kind === 'delete-unknown-network' || m.networks.length > 0;
  }
  async run(m: DriverModel, r: DriverSystem): Promise<void> {
    r.steps.push(this.toString());
    const ghost = r.ids.next('ghost');
    const net = m.networks[0];
    switch (this.kind) {
      case 'endpoint-on-unknown-network':
      case 'endpoint-on-deleted-network': {
        // A deleted network's id: what a stale dockerd (or a racing `docker run` / `network rm`) sends.
        const deleted = this.kind === 'endpoint-on-deleted-network' ? m.deletedNetworks[m.deletedNetworks.length - 1]!.id : null;
        const target = deleted ?? ghost;
        const pool = r.pool(0);
        const epId = r.ids.next('ep');
        // The null IPAM gives no address; otherwise any address will do for a network the plugin does not know.
        const address = r.design.mode === 'null' ? '' : `${r.hostAddress(pool, 2)}/${pool.prefix}`;
        const out = await r.call('CreateEndpoint', { NetworkID: target, EndpointID: epId, Interface: { Address: address, AddressIPv6: '', MacAddress: '' }, Options: endpointOptions(false) });
        if (out.ok) {
          r.resources.add({ kind: 'endpoint', id: epId, release: async () => ((await r.caller.tryCall('DeleteEndpoint', { NetworkID: target, EndpointID: epId })).ok, null) });
          r.violate(
            DriverIds.unknownIds,
            deleted !== null
              ? `CreateEndpoint on network ${target.slice(0, 12)}, deleted by a successful DeleteNetwork, succeeded; the driver kept (or revived) a network dockerd removed`
              : `CreateEndpoint on unknown network ${ghost.slice(0, 12)} succeeded; a driver that lost a network (restart without state) must say so instead of creating an endpoint nobody can use`,
          );
        }
        return;
      }
      case 'join-unknown-endpoint': {
        const out = await r.call('Join', { NetworkID: net!.id, EndpointID: ghost, SandboxKey: '/var/run/docker/netns/ffffffffffff', Options: sandboxOptions(false) });
        if (out.ok) {
          r.resources.add({ kind: 'join', id: ghost, release: async () => ((await r.caller.tryCall('Leave', { NetworkID: net!.id, EndpointID: ghost })).ok, null) });
          r.violate(DriverIds.unknownIds, `Join of unknown endpoint ${ghost.slice(0, 12)} succeeded; the container would start without the interface the driver never created`);
        }
        return;
      }
      case 'delete-unknown-endpoint':
      case 'delete-unknown-network': {
        // Success and an error are both fine: dockerd only logs the answer.
        const out = this.kind === 'delete-unknown-endpoint' ? await r.call('DeleteEndpoint', { NetworkID: net!.id, EndpointID: ghost }) : await r.call('DeleteNetwork', { NetworkID: ghost });
        if (!out.ok && out.error.kind !== 'plugin-error' && out.error.kind !== 'not-implemented') r.ctx.note(`deleting an unknown id answered ${out.error.kind}: ${out.error.message}`);
        return;
      }
    }
  }
  toString(): string {
    return `Unknown(${this.kind})`;
  }
}
