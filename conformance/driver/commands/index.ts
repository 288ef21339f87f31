/** The command list of the driver model (fast-check `fc.commands`). */
import fc from 'fast-check';
import type { AsyncCommand } from 'fast-check';
import type { DriverModel } from '../model.js';
import type { DriverSystem } from '../system.js';
import { CreateEndpointCommand, DeleteEndpointCommand, RecreateEndpointCommand, ReplaceEndpointCommand } from './endpoint.js';
import { JoinCommand, LeaveCommand, TwinRunCommand } from './join.js';
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
      i.map((x) => new ReplaceEndpointCommand(x)),
      i.map((x) => new RecreateEndpointCommand(x)),
      i.map((x) => new RecreateEndpointCommand(x)),
      // Twins sharing 7 characters share 5 too: 7 twice as often.
      fc.tuple(i, fc.constantFrom(5 as const, 7 as const, 7 as const)).map(([x, k]) => new TwinRunCommand(x, k)),
      fc.tuple(i, fc.constantFrom(5 as const, 7 as const, 7 as const)).map(([x, k]) => new TwinRunCommand(x, k)),
      i.map((x) => new OperInfoCommand(x)),
      i.map((x) => new ProgramRevokeCommand(x)),
      fc
        .constantFrom('endpoint-on-unknown-network' as const, 'endpoint-on-deleted-network' as const, 'join-unknown-endpoint' as const, 'delete-unknown-endpoint' as const, 'delete-unknown-network' as const)
        .map((k) => new UnknownIdCommand(k)),
    ],
    { maxCommands: space.maxCommands, size: 'max', ...(space.replayPath !== undefined ? { replayPath: space.replayPath } : {}) },
  );
}
