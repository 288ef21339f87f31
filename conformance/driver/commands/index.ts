/** The command list of the driver model (fast-check `fc.commands`). */
import fc from 'fast-check';
import type { AsyncCommand } from 'fast-check';
import type { DriverModel } from '../model.js';
import type { DriverSystem } from '../system.js';
import { CreateEndpointCommand, DeleteEndpointCommand, RecreateEndpointCommand } from './endpoint.js';
import { JoinCommand, LeaveCommand } from './join.js';
import { OperInfoCommand, ProgramRevokeCommand, UnknownIdCommand } from './misc.js';
import { CreateNetworkCommand, DeleteNetworkCommand, RecreateNetworkCommand } from './network.js';

export type DriverCommand = AsyncCommand<DriverModel, DriverSystem>;

export interface DriverCommandSpace {
  readonly slots: number;
  readonly maxCommands: number;
  readonly replayPath?: string;
}

export function driverCommands(space: DriverCommandSpace): fc.Arbitrary<Iterable<DriverCommand>> {
  const slot = fc.nat(Math.max(0, space.slots - 1));
  const i = fc.nat(15);
  return fc.commands<DriverModel, DriverSystem, false>(
    [
      slot.map((s) => new CreateNetworkCommand(s)),
      i.map((x) => new DeleteNetworkCommand(x)),
      i.map((x) => new RecreateNetworkCommand(x)),
      fc.tuple(i, fc.constantFrom('plain' as const, 'mac' as const, 'ports' as const)).map(([n, v]) => new CreateEndpointCommand(n, v)),
      // Endpoint traffic is where most bugs hide: weigh it double (create, join, leave, delete).
      i.map((n) => new CreateEndpointCommand(n, 'plain')),
      i.map((x) => new JoinCommand(x)),
      i.map((x) => new JoinCommand(x)),
      i.map((x) => new LeaveCommand(x)),
      i.map((x) => new LeaveCommand(x)),
      i.map((x) => new DeleteEndpointCommand(x)),
      i.map((x) => new DeleteEndpointCommand(x)),
      i.map((x) => new RecreateEndpointCommand(x)),
      i.map((x) => new RecreateEndpointCommand(x)),
      i.map((x) => new OperInfoCommand(x)),
      i.map((x) => new ProgramRevokeCommand(x)),
      fc.constantFrom('endpoint-on-unknown-network' as const, 'join-unknown-endpoint' as const, 'delete-unknown-endpoint' as const, 'delete-unknown-network' as const).map((k) => new UnknownIdCommand(k)),
    ],
    { maxCommands: space.maxCommands, size: 'max', ...(space.replayPath !== undefined ? { replayPath: space.replayPath } : {}) },
  );
}
