/**
 * The `lifecycle` checks: dockerd's own call sequences (protocol.md §4), run
 * by the daemon simulator against the plugin under test, with the daemon's
 * sandbox work, rollbacks, a daemon crash and (with --restart-cmd) a plugin
 * restart in the middle.
 */
import type { PluginCaller } from '../../src/client/types.js';
import { faultyCaller } from '../../src/daemon/faulty.js';
import type { Check, CheckContext } from '../types.js';
import { type Harness, failedCalls, hostIn, openHarness } from './harness.js';

/** Teardown calls dockerd only logs: a refusal means the plugin kept state dockerd forgot. */
const TEARDOWN = /^NetworkDriver\.(Leave|DeleteEndpoint|DeleteNetwork)$/;

function teardownRefusals(h: Harness, from = 0): string[] {
  return failedCalls(h, from).filter((t) => TEARDOWN.test(t.split(' ')[0]!));
}

function failOnTeardown(ctx: CheckContext, h: Harness, from = 0): void {
  const refused = teardownRefusals(h, from);
  if (refused.length > 0) ctx.fail(`teardown calls were refused (dockerd only logs them and forgets the objects; the plugin keeps them): ${refused.join('; ')}`, { steps: [...h.steps], calls: h.calls() });
}

function idOf(h: Harness, network: string): string {
  return h.daemon.inspect().networks.find((n) => n.name === network)?.id ?? network;
}

/** `docker network create --subnet <subnet> <name>` with the configured driver and IPAM options; `flags` only shows in the step. */
function networkCreate(ctx: CheckContext, h: Harness, name: string, subnet: string, flags = ''): Promise<unknown> {
  return h.op(`docker network create --subnet ${subnet}${flags} ${name}`, (d) => d.networkCreate({ name, driverOpts: ctx.config.driverOpts, ipamOpts: ctx.config.ipamOpts, ipv4: [{ subnet }] }));
}

/** A harness with network `n` made on its first subnet (`docker network create --subnet <subnet> n`). */
async function harnessWithNetwork(ctx: CheckContext, driver?: PluginCaller): Promise<{ h: Harness; subnet: string }> {
  const h = await openHarness(ctx, driver);
  const subnet = h.subnet();
  await networkCreate(ctx, h, 'n', subnet);
  return { h, subnet };
}

/** `docker run --network <network> <name>`. */
function containerRun(h: Harness, name: string, network: string): Promise<unknown> {
  return h.op(`docker run --network ${network} ${name}`, (d) => d.containerRun({ name, networks: [{ network }] }));
}

/** `docker rm -f` of each container, then `docker network rm` of each network. */
async function removeAll(h: Harness, containers: readonly string[], networks: readonly string[]): Promise<void> {
  for (const c of containers) await h.op(`docker rm -f ${c}`, (d) => d.containerRm(c, { force: true }));
  for (const n of networks) await h.op(`docker network rm ${n}`, (d) => d.networkRm(n));
}

export const networkCreateRm: Check = {
  id: 'lifecycle.network-create-rm',
  title: 'docker network create / rm, twice on the same subnet',
  level: 'must',
  reason: 'protocol.md §4.1/§4.2/§4.6: network create (RequestPool, gateway, CreateNetwork) and rm (releases, DeleteNetwork) as dockerd sends them; the same subnet can be used again after rm.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const h = await openHarness(ctx);
    const subnet = h.subnet();
    for (const round of [1, 2]) {
      await networkCreate(ctx, h, `n${round}`, subnet, ' -o ...');
      await removeAll(h, [], [`n${round}`]);
    }
    failOnTeardown(ctx, h);
  },
};

export const containerRunStop: Check = {
  id: 'lifecycle.container-run-stop',
  title: 'docker run / stop / start / rm with two containers',
  level: 'must',
  reason: 'protocol.md §4.3/§4.4: container start (RequestAddress, CreateEndpoint, Join, Program, EndpointOperInfo x2, the interface moved into the sandbox) and stop (Revoke, Leave, DeleteEndpoint, ReleaseAddress) as dockerd sends them; a restarted container gets a new endpoint.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const { h } = await harnessWithNetwork(ctx);
    await containerRun(h, 'c1', 'n');
    await h.op('docker run --network n -p 8080:80 c2', (d) => d.containerRun({ name: 'c2', networks: [{ network: 'n' }], ports: [{ port: 80, hostPort: 8080 }] }));
    await h.verify();
    await h.op('docker stop c1', (d) => d.containerStop('c1'));
    await h.op('docker start c1', (d) => d.containerStart('c1'));
    await h.verify();
    await removeAll(h, ['c1', 'c2'], ['n']);
    failOnTeardown(ctx, h);
  },
};

export const fixedIp: Check = {
  id: 'lifecycle.fixed-ip',
  title: 'docker run --ip, restart with the same address, network connect / disconnect',
  level: 'must',
  reason: 'protocol.md §4.3-§4.5: with --ip the address comes back on every start under a new EndpointID, so the driver must have released the old endpoint; connect/disconnect add and remove endpoints of a running container.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const h = await openHarness(ctx);
    const s1 = h.subnet();
    const s2 = h.subnet();
    const ip = hostIn(s1, 5);
    await networkCreate(ctx, h, 'a', s1);
    await networkCreate(ctx, h, 'b', s2);
    for (const round of [1, 2, 3]) {
      await h.op(`docker run --network a --ip ${ip} c${round}`, (d) => d.containerRun({ name: `c${round}`, networks: [{ network: 'a', ip }] }));
      await h.op(`docker network connect b c${round}`, (d) => d.networkConnect(`c${round}`, 'b'));
      await h.verify();
      await h.op(`docker network disconnect b c${round}`, (d) => d.networkDisconnect(`c${round}`, 'b'));
      await removeAll(h, [`c${round}`], []);
    }
    await removeAll(h, [], ['a', 'b']);
    failOnTeardown(ctx, h);
  },
};

export const rollbacks: Check = {
  id: 'lifecycle.rollbacks',
  title: "dockerd's rollbacks leave nothing behind",
  level: 'must',
  reason: 'protocol.md §4.3 (rollback table): when a later step fails, dockerd undoes the earlier ones (Leave, DeleteEndpoint, ReleaseAddress); the plugin must accept them so the same --ip container starts right after.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const faulty = faultyCaller(ctx.caller);
    const { h, subnet } = await harnessWithNetwork(ctx, faulty);
    const ip = hostIn(subnet, 7);
    const cases: Array<{ what: string; rule: Parameters<typeof faulty.addRule>[0] }> = [
      { what: 'ProgramExternalConnectivity fails', rule: { method: 'ProgramExternalConnectivity', fault: { kind: 'plugin-error', message: 'injected by cnmkit' } } },
      { what: 'the Join reply is lost', rule: { method: 'Join', fault: { kind: 'bad-reply', forward: true } } },
      { what: 'the CreateEndpoint reply echoes the address', rule: { method: 'CreateEndpoint', fault: { kind: 'reply', patch: (v, req) => ({ ...v, Interface: { Address: (req as { Interface?: { Address?: string } }).Interface?.Address ?? '' } }) } } },
      { what: 'the sandbox cannot take the interface (OCI hook failure)', rule: { method: 'Join', fault: { kind: 'reply', patch: (v) => ({ ...v, InterfaceName: { SrcName: 'cnmt-name-too-long-x', DstPrefix: 'eth' } }) } } },
    ];
    for (const [i, c] of cases.entries()) {
      faulty.clearRules();
      faulty.addRule(c.rule);
      const from = h.daemon.callLog().length;
      const failed = await h.attempt(`docker run --network n --ip ${ip} f${i} (${c.what}: dockerd rolls back)`, (d) => d.containerRun({ name: `f${i}`, networks: [{ network: 'n', ip }] }));
      faulty.clearRules();
      // Not the plugin's doing when the fault did not fail the start (e.g. a profile without that call): nothing to judge.
      if (!(failed instanceof Error)) ctx.note(`the injected fault (${c.what}) did not fail the start under --profile ${ctx.config.profile}; that rollback was not exercised`);
      failOnTeardown(ctx, h, from);
      await h.attempt(`docker rm -f f${i}`, (d) => d.containerRm(`f${i}`, { force: true }));
      await h.op(`docker run --network n --ip ${ip} ok${i}`, (d) => d.containerRun({ name: `ok${i}`, networks: [{ network: 'n', ip }] }));
      await h.verify();
      await removeAll(h, [`ok${i}`], []);
    }
    await removeAll(h, [], ['n']);
    failOnTeardown(ctx, h);
  },
};

export const daemonCrash: Check = {
  id: 'lifecycle.daemon-crash',
  title: 'dockerd killed and restarted: running containers are torn down',
  level: 'must',
  reason: 'protocol.md §4.7: after a kill -9 dockerd replays IPAM state, never CreateNetwork/CreateEndpoint/Join, and then tears down the containers that were running (Revoke, Leave, DeleteEndpoint); the plugin must still know them.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const { h } = await harnessWithNetwork(ctx);
    await containerRun(h, 'c1', 'n');
    await h.op('kill -9 dockerd; start dockerd', (d) => d.daemonRestart({ crash: true }));
    failOnTeardown(ctx, h);
    await h.op('docker start c1', (d) => d.containerStart('c1'));
    await h.verify();
    await removeAll(h, ['c1'], ['n']);
    failOnTeardown(ctx, h);
  },
};

export const dualStack: Check = {
  id: 'lifecycle.dual-stack',
  title: 'docker network create --ipv6 and docker run on it',
  level: 'must',
  reason: 'protocol.md §4.2/§4.3: with --ipv6 the network gets IPv6Data and every endpoint an AddressIPv6; the container gets both addresses and default routes (skipped when the plugin takes no IPv6 network).',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    if (ctx.capabilities.has('ipam') && !ctx.capabilities.has('ipv6')) ctx.skip('the plugin is the IPAM and grants no IPv6 pool: no v6');
    const h = await openHarness(ctx);
    const s4 = h.subnet();
    const s6 = h.subnet6();
    if (s6 === null) ctx.skip('no IPv6 pool to test with (give an IPv6 --subnet)');
    const made = await h.attempt(`docker network create --ipv6 --subnet ${s4} --subnet ${s6} n6`, (d) =>
      d.networkCreate({ name: 'n6', driverOpts: ctx.config.driverOpts, ipamOpts: ctx.config.ipamOpts, ipv4: [{ subnet: s4 }], ipv6: [{ subnet: s6 }] }),
    );
    if (made instanceof Error) {
      if (made.step === 'CreateNetwork') ctx.skip(`the driver refused an IPv6 network (${made.message}): no v6`);
      ctx.fail(`docker network create --ipv6: ${made.message}`, { steps: [...h.steps], calls: h.calls() });
    }
    await containerRun(h, 'c1', 'n6');
    await h.op(`docker run --network n6 --ip6 ${hostIn(s6, 9)} c2`, (d) => d.containerRun({ name: 'c2', networks: [{ network: 'n6', ip6: hostIn(s6, 9) }] }));
    await h.verify();
    await removeAll(h, ['c1', 'c2'], ['n6']);
    failOnTeardown(ctx, h);
  },
};
