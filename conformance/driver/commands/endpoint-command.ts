/** Base of the commands that act on one live endpoint: which endpoints qualify, picking one, and the step text. */
import type { AsyncCommand } from 'fast-check';
import { type DriverModel, type ModelEndpoint, type ModelNetwork, liveEndpoints } from '../model.js';
import type { DriverSystem } from '../system.js';

/** Which live endpoints a command may act on. */
export type EndpointState = 'any' | 'joined' | 'unjoined' | 'fresh';

function endpointsIn(m: Readonly<DriverModel>, state: EndpointState): { net: ModelNetwork; ep: ModelEndpoint }[] {
  const all = liveEndpoints(m);
  if (state === 'any') return all;
  // fresh: never joined (dockerd joins an endpoint once; container stop is Leave + DeleteEndpoint).
  if (state === 'fresh') return all.filter((x) => x.ep.joined === null && !x.ep.everJoined);
  return all.filter((x) => (x.ep.joined !== null) === (state === 'joined'));
}

/** Acts on the `index`-th (modulo their number) live endpoint in `state`; the step `Label(index) -> <id>` is logged first. */
export abstract class EndpointCommand implements AsyncCommand<DriverModel, DriverSystem> {
  constructor(
    readonly index: number,
    private readonly label: string,
    private readonly state: EndpointState,
  ) {}
  check(m: Readonly<DriverModel>): boolean {
    return endpointsIn(m, this.state).length > 0;
  }
  async run(m: DriverModel, r: DriverSystem): Promise<void> {
    const c = endpointsIn(m, this.state);
    const { net, ep } = c[this.index % c.length]!;
    r.steps.push(`${this.toString()} -> ${ep.id.slice(0, 12)}`);
    await this.act(m, r, net, ep);
  }
  protected abstract act(m: DriverModel, r: DriverSystem, net: ModelNetwork, ep: ModelEndpoint): Promise<void>;
  toString(): string {
    return `${this.label}(${this.index})`;
  }
}
