/**
 * Model-based test of the reference driver on the virtual backend: random
 * call sequences (including ones the daemon would never send, injected
 * backend faults and sandboxes that vanish) must
 * - answer as a small model predicts (success or which error),
 * - keep the virtual model consistent (`checkInvariants`),
 * - leave backend and driver state untouched when a call fails,
 * - and, after a full teardown, return the backend to its initial snapshot.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HOST_NAMESPACE, type BackendOp, type Errno } from '../../src/backend/index.js';
import { VirtualBackend, diffSnapshots } from '../../src/backend/virtual/index.js';
import { bridgeName, createReferenceDriver, vethNames, type ReferenceDriver } from '../../src/driver/index.js';
import type { CallContext } from '../../src/protocol/api.js';
import { driverCodeOf } from '../helpers/outcome.js';

const H = HOST_NAMESPACE;
const ctx: CallContext = { path: '/model', signal: new AbortController().signal };
const NETS = [0, 1, 2].map((i) => `${i}`.repeat(2).padEnd(64, 'a'));
const EPS = [0, 1, 2, 3].map((j) => `e${j}`.padEnd(64, 'f'));
const SANDBOXES = ['/var/run/docker/netns/s0', '/var/run/docker/netns/s1'];

interface ModelEndpoint {
  sandbox: string | null;
  /** Sandbox the daemon moved the container end into, if any. */
  movedTo: string | null;
  /** The pair died with a destroyed sandbox. */
  gone: boolean;
}
interface Model {
  networks: Map<number, Map<number, ModelEndpoint>>;
}
interface Real {
  backend: VirtualBackend;
  driver: ReferenceDriver;
}

function netReq(i: number, bad = false) {
  return {
    NetworkID: NETS[i],
    Options: { 'com.docker.network.generic': bad ? { 'cnmkit.mtu': '12' } : { 'cnmkit.mtu': String(1400 + i) } },
    IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: `10.${i}.0.0/24`, Gateway: `10.${i}.0.1/24` }],
    IPv6Data: i === 2 ? [{ AddressSpace: 'LocalDefault', Pool: 'fd02::/64', Gateway: 'fd02::1/64' }] : [],
  };
}

function address(i: number, j: number): string {
  return `10.${i}.0.${j + 2}/24`;
}

function epNetwork(m: Model, j: number): number | undefined {
  for (const [i, eps] of m.networks) if (eps.has(j)) return i;
  return undefined;
}

/**
 * Runs `call`, then checks: a failure changed nothing; an injected fault may
 * turn any expected outcome into E_DRIVER_BACKEND; otherwise the outcome is `expected`.
 * Returns true when the model should apply the command's effect.
 */
async function check(r: Real, expected: string, call: () => unknown): Promise<boolean> {
  const snap = r.backend.snapshot();
  const state = JSON.stringify(r.driver.exportState());
  const faultsBefore = r.backend.pendingFaults();
  const got = await driverCodeOf(Promise.resolve().then(call));
  const faultHit = r.backend.pendingFaults() < faultsBefore;
  r.backend.clearFaults();
  expect(r.backend.checkInvariants()).toEqual([]);
  if (got !== 'ok') {
    expect(diffSnapshots(snap, r.backend.snapshot())).toEqual([]);
    expect(JSON.stringify(r.driver.exportState())).toBe(state);
  }
  if (faultHit && got === 'E_DRIVER_BACKEND') return false;
  expect(got).toBe(expected);
  return got === 'ok';
}

async function consistent(m: Model, r: Real): Promise<void> {
  const links = await r.backend.listLinks(H);
  const bridges = links.filter((l) => l.kind === 'bridge').map((l) => l.name).sort();
  expect(bridges).toEqual([...m.networks.keys()].map((i) => bridgeName(NETS[i])).sort());
  for (const [i, eps] of m.networks) {
    const br = links.find((l) => l.name === bridgeName(NETS[i]))!;
    expect(br.up).toBe(true);
    expect(br.mtu).toBe(1400 + i);
    for (const [j, ep] of eps) {
      const [hostName, srcName] = vethNames(EPS[j]);
      const host = links.find((l) => l.name === hostName);
      if (ep.gone) {
        expect(host).toBeUndefined();
        continue;
      }
      expect(host).toMatchObject({ master: br.name, up: true, mtu: 1400 + i });
      expect(host!.peer!.namespace).toBe(ep.movedTo ?? H);
      if (ep.movedTo === null) expect(host!.peer!.name).toBe(srcName);
    }
  }
  expect(r.driver.networkIds().sort()).toEqual([...m.networks.keys()].map((i) => NETS[i]).sort());
}

type Cmd = fc.AsyncCommand<Model, Real>;

class CreateNetwork implements Cmd {
  constructor(
    readonly i: number,
    readonly bad: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const existed = m.networks.has(this.i);
    const expected = this.bad ? 'E_DRIVER_OPTION' : 'ok';
    if (await check(r, expected, () => r.driver.createNetwork(netReq(this.i, this.bad), ctx))) {
      if (!existed) m.networks.set(this.i, new Map());
    }
    await consistent(m, r);
  }
  toString = () => `CreateNetwork(${this.i}${this.bad ? ', bad' : ''})`;
}

class DeleteNetwork implements Cmd {
  constructor(readonly i: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const eps = m.networks.get(this.i);
    const expected = eps !== undefined && eps.size > 0 ? 'E_DRIVER_BUSY' : 'ok';
    if (await check(r, expected, () => r.driver.deleteNetwork({ NetworkID: NETS[this.i] }, ctx))) m.networks.delete(this.i);
    await consistent(m, r);
  }
  toString = () => `DeleteNetwork(${this.i})`;
}

class CreateEndpoint implements Cmd {
  constructor(
    readonly i: number,
    readonly j: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const owner = epNetwork(m, this.j);
    const expected = !m.networks.has(this.i) ? 'E_DRIVER_NOT_FOUND' : owner !== undefined && owner !== this.i ? 'E_DRIVER_CONFLICT' : 'ok';
    const req = { NetworkID: NETS[this.i], EndpointID: EPS[this.j], Interface: { Address: address(this.i, this.j), AddressIPv6: '', MacAddress: '' } };
    if (await check(r, expected, () => r.driver.createEndpoint(req, ctx))) {
      if (owner === undefined) m.networks.get(this.i)!.set(this.j, { sandbox: null, movedTo: null, gone: false });
    }
    await consistent(m, r);
  }
  toString = () => `CreateEndpoint(${this.i}, ${this.j})`;
}

class DeleteEndpoint implements Cmd {
  constructor(
    readonly i: number,
    readonly j: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    if (await check(r, 'ok', () => r.driver.deleteEndpoint({ NetworkID: NETS[this.i], EndpointID: EPS[this.j] }, ctx))) {
      m.networks.get(this.i)?.delete(this.j);
    }
    await consistent(m, r);
  }
  toString = () => `DeleteEndpoint(${this.i}, ${this.j})`;
}

class Join implements Cmd {
  constructor(
    readonly i: number,
    readonly j: number,
    readonly k: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const ep = m.networks.get(this.i)?.get(this.j);
    const sandbox = SANDBOXES[this.k];
    const expected = ep === undefined ? 'E_DRIVER_NOT_FOUND' : ep.sandbox !== null && ep.sandbox !== sandbox ? 'E_DRIVER_BUSY' : 'ok';
    let reply: unknown;
    const ok = await check(r, expected, async () => {
      reply = await r.driver.join({ NetworkID: NETS[this.i], EndpointID: EPS[this.j], SandboxKey: sandbox }, ctx);
    });
    if (ok) {
      if (ep!.sandbox === null) ep!.gone = false; // a fresh Join recreates a lost pair
      ep!.sandbox = sandbox;
      expect(reply).toEqual({ InterfaceName: { SrcName: vethNames(EPS[this.j])[1], DstPrefix: 'eth' }, Gateway: `10.${this.i}.0.1` });
    }
    await consistent(m, r);
  }
  toString = () => `Join(${this.i}, ${this.j}, s${this.k})`;
}

class Leave implements Cmd {
  constructor(
    readonly i: number,
    readonly j: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const ep = m.networks.get(this.i)?.get(this.j);
    if (ep !== undefined && ep.movedTo !== null) {
      // The daemon first moves the interface back to the host under its SrcName.
      const [hostName, srcName] = vethNames(EPS[this.j]);
      const inside = (await r.backend.listLinks(ep.movedTo)).find((l) => l.peer?.name === hostName)!;
      await r.backend.moveLink(ep.movedTo, inside.name, H, srcName);
      ep.movedTo = null;
    }
    const expected = ep === undefined ? 'E_DRIVER_NOT_FOUND' : 'ok';
    if (await check(r, expected, () => r.driver.leave({ NetworkID: NETS[this.i], EndpointID: EPS[this.j] }, ctx))) ep!.sandbox = null;
    await consistent(m, r);
  }
  toString = () => `Leave(${this.i}, ${this.j})`;
}

/** What the daemon does after Join: move SrcName into the sandbox as eth<N>. */
class MoveIntoSandbox implements Cmd {
  constructor(
    readonly i: number,
    readonly j: number,
  ) {}
  check = (m: Readonly<Model>) => (m.networks.get(this.i)?.get(this.j)?.sandbox ?? null) !== null;
  async run(m: Model, r: Real) {
    const ep = m.networks.get(this.i)!.get(this.j)!;
    const sandbox = ep.sandbox!;
    const src = vethNames(EPS[this.j])[1];
    if (!(await r.backend.listNamespaces()).includes(sandbox)) await r.backend.createNamespace(sandbox);
    if (!ep.gone && ep.movedTo === null) {
      await r.backend.moveLink(H, src, sandbox, 'eth%d');
      ep.movedTo = sandbox;
    }
    expect(r.backend.checkInvariants()).toEqual([]);
    await consistent(m, r);
  }
  toString = () => `MoveIntoSandbox(${this.i}, ${this.j})`;
}

/** The container's netns disappears (process died): its links and their peers go. */
class DestroySandbox implements Cmd {
  constructor(readonly k: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    if ((await r.backend.listNamespaces()).includes(SANDBOXES[this.k])) await r.backend.deleteNamespace(SANDBOXES[this.k]);
    for (const eps of m.networks.values()) {
      for (const ep of eps.values()) {
        if (ep.movedTo !== SANDBOXES[this.k]) continue;
        ep.movedTo = null;
        ep.gone = true;
      }
    }
    expect(r.backend.checkInvariants()).toEqual([]);
    await consistent(m, r);
  }
  toString = () => `DestroySandbox(s${this.k})`;
}

class Program implements Cmd {
  constructor(
    readonly i: number,
    readonly j: number,
    readonly revoke: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const known = m.networks.get(this.i)?.has(this.j) === true;
    const req = { NetworkID: NETS[this.i], EndpointID: EPS[this.j] };
    const expected = this.revoke || known ? 'ok' : 'E_DRIVER_NOT_FOUND';
    await check(r, expected, () => (this.revoke ? r.driver.revokeExternalConnectivity!(req, ctx) : r.driver.programExternalConnectivity!({ ...req, Options: {} }, ctx)));
    await consistent(m, r);
  }
  toString = () => `${this.revoke ? 'Revoke' : 'Program'}(${this.i}, ${this.j})`;
}

/** The next backend call of `op` fails (only during the next command). */
class Fault implements Cmd {
  constructor(
    readonly op: BackendOp,
    readonly errno: Errno,
  ) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    // One fault at a time: with two, the undo of a failed call can fail too (see the driver's cleanup note).
    r.backend.clearFaults();
    r.backend.failNext(this.op, this.errno);
  }
  toString = () => `Fault(${this.op}, ${this.errno})`;
}

const i = fc.integer({ min: 0, max: NETS.length - 1 });
const j = fc.integer({ min: 0, max: EPS.length - 1 });
const k = fc.integer({ min: 0, max: SANDBOXES.length - 1 });
const commands = fc.commands(
  [
    fc.tuple(i, fc.boolean()).map(([a, bad]) => new CreateNetwork(a, bad && a === 1)),
    i.map((a) => new DeleteNetwork(a)),
    fc.tuple(i, j).map(([a, e]) => new CreateEndpoint(a, e)),
    fc.tuple(i, j).map(([a, e]) => new CreateEndpoint(a, e)),
    fc.tuple(i, j).map(([a, e]) => new DeleteEndpoint(a, e)),
    fc.tuple(i, j, k).map(([a, e, s]) => new Join(a, e, s)),
    fc.tuple(i, j).map(([a, e]) => new Leave(a, e)),
    fc.tuple(i, j).map(([a, e]) => new MoveIntoSandbox(a, e)),
    k.map((s) => new DestroySandbox(s)),
    fc.tuple(i, j, fc.boolean()).map(([a, e, rv]) => new Program(a, e, rv)),
    fc.tuple(
      fc.constantFrom<BackendOp>('createBridge', 'createVethPair', 'addAddress', 'setLinkUp', 'setMaster', 'deleteLink', 'getLink'),
      fc.constantFrom<Errno>('EPERM', 'ENOSPC', 'EBUSY', 'EIO'),
    ).map(([op, errno]) => new Fault(op, errno)),
  ],
  { maxCommands: 60, size: 'large' },
);

/** Leave, delete every endpoint and network, remove the sandboxes: what the daemon does on shutdown. */
async function teardown(m: Model, r: Real): Promise<void> {
  r.backend.clearFaults(); // a trailing Fault command has nothing to hit
  for (const [ni, eps] of m.networks) {
    for (const [ej, ep] of eps) {
      if (ep.sandbox !== null) await r.driver.leave({ NetworkID: NETS[ni], EndpointID: EPS[ej] }, ctx);
      await r.driver.deleteEndpoint({ NetworkID: NETS[ni], EndpointID: EPS[ej] }, ctx);
    }
    await r.driver.deleteNetwork({ NetworkID: NETS[ni] }, ctx);
  }
  for (const s of SANDBOXES) if ((await r.backend.listNamespaces()).includes(s)) await r.backend.deleteNamespace(s);
}

describe('reference driver, model-based', () => {
  it('random call sequences keep the model consistent; full teardown restores the initial snapshot', async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const backend = new VirtualBackend();
        const initial = backend.snapshot();
        const real: Real = { backend, driver: createReferenceDriver({ backend }) };
        const model: Model = { networks: new Map() };
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        await teardown(model, real);
        expect(diffSnapshots(initial, backend.snapshot())).toEqual([]);
        expect(backend.snapshot()).toEqual(initial);
        expect(real.driver.exportState().networks).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
