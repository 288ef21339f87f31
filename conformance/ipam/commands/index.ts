/** The command list of the IPAM model (fast-check `fc.commands`). */
import fc from 'fast-check';
import type { AsyncCommand } from 'fast-check';
import type { IpamModel } from '../model.js';
import type { IpamSystem } from '../system.js';
import { FillPoolCommand } from './fill-pool.js';
import { ReleaseAddressCommand } from './release-address.js';
import { ReleasePoolCommand } from './release-pool.js';
import { RequestAddressCommand } from './request-address.js';
import { RequestOverlappingPoolCommand } from './request-overlapping-pool.js';
import { RequestPoolCommand } from './request-pool.js';
import { RequestPreferredAddressCommand } from './request-preferred-address.js';
import { RequestReleasedAddressCommand } from './request-released-address.js';

export type IpamCommand = AsyncCommand<IpamModel, IpamSystem>;

export interface CommandSpace {
  /** Arena slots a pool can be requested for. */
  readonly slots: number;
  /** Largest pool size in addresses (preferred/release offsets range over it). */
  readonly poolSize: number;
  readonly maxCommands: number;
  readonly replayPath?: string;
}

export function ipamCommands(space: CommandSpace): fc.Arbitrary<Iterable<IpamCommand>> {
  const slot = fc.nat(space.slots - 1);
  const pool = fc.nat(7);
  const offset = fc.nat(Math.max(0, space.poolSize - 1));
  // Most networks get an automatic gateway; some a --gateway address (any offset, reserved ones too).
  const gateway = fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: offset });
  return fc.commands<IpamModel, IpamSystem, false>(
    [
      fc.tuple(slot, fc.boolean(), gateway, fc.boolean()).map(([s, sub, gw, reuse]) => new RequestPoolCommand(s, sub, gw, reuse)),
      fc.tuple(pool, fc.constantFrom('inner' as const, 'outer' as const)).map(([p, shape]) => new RequestOverlappingPoolCommand(p, shape)),
      pool.map((p) => new ReleasePoolCommand(p)),
      pool.map((p) => new RequestAddressCommand(p)),
      fc.tuple(pool, offset).map(([p, o]) => new RequestPreferredAddressCommand(p, o)),
      fc.tuple(pool, fc.nat(63), fc.constantFrom('held' as const, 'twice' as const, 'released' as const, 'any' as const)).map(([p, i, mode]) => new ReleaseAddressCommand(p, i, mode)),
      // Address traffic is what most bugs hide in: weigh it double.
      pool.map((p) => new RequestAddressCommand(p)),
      fc.tuple(pool, fc.nat(63), fc.constantFrom('held' as const, 'twice' as const)).map(([p, i, mode]) => new ReleaseAddressCommand(p, i, mode)),
      pool.map((p) => new FillPoolCommand(p)),
      fc.tuple(pool, fc.nat(63)).map(([p, i]) => new RequestReleasedAddressCommand(p, i)),
    ],
    { maxCommands: space.maxCommands, size: 'max', ...(space.replayPath !== undefined ? { replayPath: space.replayPath } : {}) },
  );
}
