/**
 * The option shapes dockerd really sends (protocol.md §2.2 and Appendix B),
 * beyond the plain ones every lifecycle check uses:
 * - driver.option-shapes (must): `--aux-address` (IPv4Data[].AuxAddresses, a
 *   map of CIDRs with the pool's prefix), `docker run --dns` (DNS servers in
 *   CreateEndpoint), `-p` (real portmap and exposed-port entries in Join and
 *   ProgramExternalConnectivity);
 * - driver.rare-option-shapes (should): IPv4Data without Gateway (v28
 *   GwAllocCheck, --ipv4=false), IPv6-only networks (`IPv4Data: []`,
 *   enable_ipv4 false), `--internal`, per-endpoint driver options as
 *   top-level keys. A driver may refuse a feature it does not offer (noted),
 *   never drop the connection.
 * A dropped connection (Go's net/http closes the connection of a panicking
 * handler) always fails: the docker command gets a transport error.
 */
import type { CallOutcome } from '../../src/client/types.js';
import { Options } from '../../src/protocol/constants.js';
import type { RequestOf } from '../../src/protocol/methods.js';
import type { IPAMData } from '../../src/protocol/messages.js';
import { formatIp, parseCidrWithAddress } from '../cidr.js';
import { summarizeRecord } from '../counterexample.js';
import type { CallSummary, Check, CheckContext } from '../types.js';
import { type PoolAddressing, allocateAddress, allocatePool, ctxPort, hostOf, releaseAddress, releasePool, requireDesign, trackNetwork } from './addressing.js';
import { type OpenNetwork, closeNetwork, join, openEndpoint, teardown } from './helpers.js';
import { IdSource, endpointOptions, networkRequest, sandboxOptions } from './system.js';

const short = (id: string): string => id.slice(0, 12);

function crashed(out: CallOutcome<unknown>): boolean {
  return !out.ok && (out.error.kind === 'transport-error' || out.error.kind === 'decode-error');
}

function answer(out: CallOutcome<unknown>): string {
  if (out.ok) return 'ok';
  return crashed(out) ? `connection dropped (${out.error.message})` : `refused: ${out.error.message}`;
}

/** The calls from record `from` on, as counterexample steps (method, ids, addresses, answer) and calls. */
function since(ctx: CheckContext, from: number): { steps: string[]; calls: CallSummary[]; seed: number } {
  const recs = ctx.records.slice(from);
  const steps = recs.map((r) => {
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(r.request || '{}');
      if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>;
    } catch {
      body = {};
    }
    const bits: string[] = [];
    for (const k of ['NetworkID', 'EndpointID', 'PoolID']) if (typeof body[k] === 'string') bits.push(`${k} ${(body[k] as string).slice(0, 12)}`);
    const iface = body['Interface'];
    if (typeof iface === 'object' && iface !== null) for (const [k, v] of Object.entries(iface)) if (typeof v === 'string' && v !== '') bits.push(`${k} ${v}`);
    for (const k of ['IPv4Data', 'IPv6Data']) if (Array.isArray(body[k])) bits.push(`${k} ${JSON.stringify(body[k])}`);
    return `${r.path.replace(/^\//, '')} ${bits.join(', ')} -> ${r.outcome === 'ok' ? 'ok' : `${r.outcome}${r.error !== undefined ? `: ${r.error}` : ''}`}`;
  });
  return { steps, calls: recs.map(summarizeRecord), seed: ctx.seed };
}

const CRASH = "the plugin dropped the connection (Go's net/http does that when a handler panics): the docker command fails with a transport error";

/** CreateNetwork with a shape; the network (tracked) or the failed outcome. */
async function createShaped(ctx: CheckContext, id: string, req: RequestOf<'CreateNetwork'>, pools: readonly PoolAddressing[], design: OpenNetwork['design']): Promise<{ net: OpenNetwork } | { out: CallOutcome<unknown> }> {
  const port = ctxPort(ctx);
  const out = await port.call('CreateNetwork', req);
  if (!out.ok) {
    for (const p of [...pools].reverse()) await releasePool(port, p);
    return { out };
  }
  trackNetwork(port, id, ...pools);
  const v4 = pools.find((p) => p.family === 4) ?? pools[0]!;
  return { net: { id, pool: v4.pool, gateway: v4.gateway, ids: new IdSource(ctx.seed ^ 0x0b7), addressing: v4, design } };
}

async function pool(ctx: CheckContext, mode: PoolAddressing['mode'], family: 4 | 6): Promise<PoolAddressing> {
  const arena = ctx.pools.next();
  const slot = (family === 4 ? arena.v4 : arena.v6)[0];
  if (!slot) ctx.skip(`no IPv${family} pool to test with (give an IPv${family} --subnet)`);
  const p = await allocatePool(ctxPort(ctx), mode, slot);
  if (typeof p === 'string') ctx.skip(`precondition: ${p}`);
  return p;
}

// ---------------------------------------------------------------------------------------------
// driver.option-shapes

/** IPv4Data with one aux address (keys in dockerd's alphabetical order), or null when the IPAM gives none. */
async function withAux(ctx: CheckContext, p: PoolAddressing): Promise<{ data: IPAMData; aux: string; release: () => Promise<void> } | null> {
  const port = ctxPort(ctx);
  let aux: string;
  let release = async (): Promise<void> => {};
  if (p.mode === 'default') {
    // `--aux-address host1=<last host but one>`: a CIDR with the pool's prefix (protocol.md §2.2).
    const hosts = 2 ** (32 - p.pool.prefix);
    // Small pools: the endpoints of this check use hosts 2 and 3; the aux address must not be one of them.
    if (hosts < 8) return null;
    aux = `${hostOf(p.pool, hosts - 2)}/${p.pool.prefix}`;
  } else if (p.mode === 'plugin' && p.poolId !== null) {
    // dockerd reserves each aux address with RequestAddress (Options null) before CreateNetwork (protocol.md §4.2).
    const a = await allocateAddress(port, p, 0);
    if ('refused' in a) return null;
    const parsed = parseCidrWithAddress(a.address);
    if (parsed === null) return null;
    aux = `${formatIp(4, parsed.addr)}/${parsed.cidr.prefix}`;
    release = () => releaseAddress(port, p, a.address);
  } else return null;
  const data: IPAMData = { AddressSpace: p.data.AddressSpace, AuxAddresses: { host1: aux }, ...(p.data.Gateway !== undefined ? { Gateway: p.data.Gateway } : {}), Pool: p.data.Pool };
  return { data, aux, release };
}

export const optionShapes: Check = {
  id: 'driver.option-shapes',
  title: "dockerd's real option shapes are accepted: aux addresses, DNS servers, port mappings",
  level: 'must',
  reason:
    'protocol.md §2.2 and Appendix B: `docker network create --aux-address` sends IPv4Data[].AuxAddresses as a map of CIDRs with the pool prefix; `docker run --dns` adds com.docker.network.endpoint.dnsservers (string[]) to CreateEndpoint; `-p`/`--expose` put {Proto:int, Port:int} exposed ports and {Proto, IP, Port, HostIP, HostPort, HostPortEnd} port mappings into Join and ProgramExternalConnectivity (404 there is accepted). A refusal or a dropped connection fails that docker command. Refusals that happen without the shape too are left to driver.lifecycle-accepted / driver.program-revoke.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const design = await requireDesign(ctx);
    const from = ctx.records.length;
    const p = await pool(ctx, design.mode, 4);
    const ids = new IdSource(ctx.seed ^ 0x0a0e);
    const id = ids.next('net');
    const aux = await withAux(ctx, p);
    if (aux === null) ctx.note(`no --aux-address shape: ${design.mode === 'null' ? 'the null IPAM takes no --aux-address (dockerd refuses it before any driver call)' : `no address to reserve on ${p.label} (too small, or the IPAM gave none)`}`);
    const req: RequestOf<'CreateNetwork'> = { ...networkRequest(ctx, id, p), IPv4Data: [aux?.data ?? p.data] };
    const made = await createShaped(ctx, id, req, [p], design);
    if ('out' in made) {
      await aux?.release();
      if (crashed(made.out)) ctx.fail(`CreateNetwork on ${p.label}${aux !== null ? ` with AuxAddresses {"host1": "${aux.aux}"}` : ''}: ${CRASH}`, since(ctx, from));
      if (aux !== null) ctx.fail(`CreateNetwork on ${p.label} with AuxAddresses {"host1": "${aux.aux}"} (docker network create --aux-address host1=${aux.aux.split('/')[0]}) was refused: ${answer(made.out)}`, since(ctx, from));
      ctx.skip(`precondition: CreateNetwork on ${p.label} refused (${answer(made.out)}); see driver.lifecycle-accepted`);
    }
    const net = made.net;
    const t = { timeoutMs: ctx.config.timeoutMs };
    // `docker run --dns 192.0.2.53`: DNS servers in CreateEndpoint (no ports: crash-on-port-entries is lifecycle-accepted's).
    const dnsOpts = { ...endpointOptions(false), [Options.DnsServers]: ['192.0.2.53', '2001:db8::53'] };
    const port = ctxPort(ctx);
    const a = await allocateAddress(port, net.addressing, 2);
    if ('refused' in a) ctx.skip(`precondition: ${a.refused}`);
    const epId = net.ids.next('ep');
    const ce = await port.call('CreateEndpoint', { NetworkID: net.id, EndpointID: epId, Interface: { Address: a.address, AddressIPv6: '', MacAddress: '' }, Options: dnsOpts });
    if (!ce.ok) {
      await releaseAddress(port, net.addressing, a.address);
      const plain = await openEndpoint(ctx, net, 3);
      if (typeof plain === 'string' && !crashed(ce)) ctx.skip(`precondition: CreateEndpoint refused with and without --dns (${plain}); see driver.lifecycle-accepted`);
      ctx.fail(`CreateEndpoint ${a.address || '(no address)'} on ${net.addressing.label} with Options ${JSON.stringify(dnsOpts)} (docker run --dns): ${crashed(ce) ? CRASH : `refused (${ce.error.message}) while the same call without DNS servers is accepted`}`, since(ctx, from));
    }
    ctx.resources.trackEndpoint(ctx.caller, net.id, epId);
    const address = a.address !== '' ? a.address : (ce.value.Interface?.Address ?? '');
    const ep = { id: epId, sent: a.address, address, mac: null, joined: false };
    // `-p 8080:80/tcp -p 127.0.0.1:5353:53/udp --expose 9999`: Join and Program carry the entries.
    const ports = sandboxOptions(true);
    const key = '/var/run/docker/netns/0b7105e50b71';
    const j = await ctx.caller.tryCall('Join', { NetworkID: net.id, EndpointID: epId, SandboxKey: key, Options: ports }, t);
    if (!j.ok) {
      const plain = await openEndpoint(ctx, net, 3);
      const pj = typeof plain === 'string' ? plain : await join(ctx, net, plain);
      if (typeof pj === 'string' && !crashed(j)) ctx.skip(`precondition: Join refused with and without port entries (${pj}); see driver.lifecycle-accepted`);
      ctx.fail(`Join of ${short(epId)} (${address || 'no address'}) with Options ${JSON.stringify(ports)} (docker run -p 8080:80/tcp -p 127.0.0.1:5353:53/udp --expose 9999): ${crashed(j) ? CRASH : `refused (${j.error.message}) while a Join without port entries is accepted`}`, since(ctx, from));
    }
    ep.joined = true;
    ctx.resources.add({ kind: 'join', id: epId, release: async () => ((await ctx.caller.tryCall('Leave', { NetworkID: net.id, EndpointID: epId }, t)).ok ? null : 'Leave refused') });
    const pr = await ctx.caller.tryCall('ProgramExternalConnectivity', { NetworkID: net.id, EndpointID: epId, Options: ports }, t);
    if (!pr.ok && pr.error.kind !== 'not-implemented') {
      if (crashed(pr)) ctx.fail(`ProgramExternalConnectivity of ${short(epId)} with Options ${JSON.stringify(ports)} (the port mappings of docker run -p): ${CRASH}; dockerd rolls the container start back`, since(ctx, from));
      const plain = await ctx.caller.tryCall('ProgramExternalConnectivity', { NetworkID: net.id, EndpointID: epId, Options: sandboxOptions(false) }, t);
      if (!plain.ok && plain.error.kind !== 'not-implemented') ctx.note(`ProgramExternalConnectivity is refused with and without port entries (${plain.error.message}); see driver.program-revoke`);
      else ctx.fail(`ProgramExternalConnectivity of ${short(epId)} with Options ${JSON.stringify(ports)} was refused (${pr.error.message}) while the same call without port entries is accepted; dockerd rolls the start of every container publishing ports back`, since(ctx, from));
    }
    await ctx.caller.tryCall('RevokeExternalConnectivity', { NetworkID: net.id, EndpointID: epId }, t);
    await teardown(ctx, net, ep);
    await closeNetwork(ctx, net);
    await aux?.release();
  },
};

// ---------------------------------------------------------------------------------------------
// driver.rare-option-shapes

interface ShapeRun {
  readonly label: string;
  /** A refusal of the network is a fail (true) or a feature the driver does not offer (false: noted). */
  readonly mustAccept: boolean;
}

/** Create the shaped network, then one container on it (CreateEndpoint + Join); returns the problem or null. */
async function tryShape(ctx: CheckContext, shape: ShapeRun, id: string, req: RequestOf<'CreateNetwork'>, pools: readonly PoolAddressing[], design: OpenNetwork['design'], epOptions: Record<string, unknown> = endpointOptions(false), v6Only = false): Promise<string | null> {
  const made = await createShaped(ctx, id, req, pools, design);
  if ('out' in made) {
    if (crashed(made.out)) return `CreateNetwork ${short(id)} (${shape.label}) with ${JSON.stringify({ Options: req.Options, IPv4Data: req.IPv4Data, IPv6Data: req.IPv6Data })}: ${CRASH}`;
    if (shape.mustAccept) return `CreateNetwork ${short(id)} (${shape.label}) was refused: ${answer(made.out)}`;
    ctx.note(`${shape.label}: CreateNetwork refused (${answer(made.out)}), a feature this driver does not offer`);
    return null;
  }
  const net = made.net;
  const port = ctxPort(ctx);
  const v6 = pools.find((p) => p.family === 6);
  const a4 = v6Only ? { address: '' } : await allocateAddress(port, net.addressing, 2);
  if ('refused' in a4) return null;
  const a6 = v6 !== undefined ? await allocateAddress(port, v6, 2) : { address: '' };
  if ('refused' in a6) return null;
  const epId = net.ids.next('ep');
  const ce = await port.call('CreateEndpoint', { NetworkID: id, EndpointID: epId, Interface: { Address: a4.address, AddressIPv6: a6.address, MacAddress: '' }, Options: epOptions });
  const who = `on network ${short(id)} (${shape.label})`;
  if (!ce.ok) {
    if (v6 !== undefined) await releaseAddress(port, v6, a6.address);
    await releaseAddress(port, net.addressing, a4.address);
    if (crashed(ce)) return `CreateEndpoint ${a4.address || a6.address || '(no address)'} ${who} with Options ${JSON.stringify(epOptions)}: ${CRASH}`;
    return `CreateEndpoint ${a4.address || a6.address || '(no address)'} ${who}, a network the driver accepted, was refused: ${ce.error.message}`;
  }
  ctx.resources.trackEndpoint(ctx.caller, id, epId);
  const ep = { id: epId, sent: a4.address, address: a4.address || (ce.value.Interface?.Address ?? ''), mac: null, joined: false };
  const j = await join(ctx, net, ep);
  let problem: string | null = null;
  if (typeof j === 'string') {
    const last = ctx.records[ctx.records.length - 1];
    problem = last !== undefined && (last.outcome === 'transport-error' || last.outcome === 'decode-error') ? `Join of ${short(epId)} ${who}: ${CRASH}` : `Join of ${short(epId)} ${who}, a network the driver accepted, was refused: ${j}`;
  }
  await teardown(ctx, net, ep);
  if (v6 !== undefined) await releaseAddress(port, v6, a6.address);
  await closeNetwork(ctx, net);
  return problem;
}

export const rareOptionShapes: Check = {
  id: 'driver.rare-option-shapes',
  title: 'Rarer shapes dockerd sends are handled: no gateway, IPv6-only, --internal, endpoint driver options',
  level: 'should',
  reason:
    'protocol.md §2.2 (CreateNetwork), §3: IPv4Data without Gateway (v28 GwAllocCheck SkipIPv4; a refusal fails only for drivers declaring GwAllocChecker, the others never get it), IPv6-only networks (moby 28 --ipv4=false: IPv4Data [], com.docker.network.enable_ipv4 false), --internal (com.docker.network.internal true) and per-endpoint driver options (top-level CreateEndpoint Options keys with string values). A driver may refuse a feature it does not offer (noted); a network it accepted must take containers, and no shape may drop the connection. should: these commands are rarer than the plain ones.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const design = await requireDesign(ctx);
    const ids = new IdSource(ctx.seed ^ 0x4a4e);
    const caps = await ctx.caller.tryCall('NetworkGetCapabilities', undefined, { timeoutMs: ctx.config.timeoutMs });
    const gwAlloc = caps.ok && caps.value.GwAllocChecker === true;
    // Each shape fails on its own, with its own calls as the counterexample.
    let from = ctx.records.length;
    const found = (r: string | null): void => {
      if (r !== null) ctx.fail(r, since(ctx, from));
      from = ctx.records.length;
    };
    const generic = { [Options.Generic]: { ...ctx.config.driverOpts } };

    // 1. IPv4Data without Gateway.
    if (design.mode === 'null') ctx.note("IPv4Data without Gateway: every null-IPAM network is sent that way (the other checks cover it)");
    else {
      const p = await pool(ctx, design.mode, 4);
      // The IPAM's gateway is given back (dockerd never requests one when it skips the gateway).
      if (p.poolId !== null && p.requestedGateway !== null) {
        await ctxPort(ctx).call('ReleaseAddress', { PoolID: p.poolId, Address: p.requestedGateway });
        ctx.resources.forget('address', `${p.poolId} ${p.requestedGateway}`);
      }
      const bare: PoolAddressing = { ...p, gateway: null, requestedGateway: null, data: { AddressSpace: p.data.AddressSpace, Pool: p.data.Pool } };
      const id = ids.next('nogw');
      const r = await tryShape(ctx, { label: `IPv4Data ${JSON.stringify(bare.data)} without Gateway`, mustAccept: gwAlloc }, id, { ...networkRequest(ctx, id, bare), IPv4Data: [bare.data] }, [bare], design);
      found(r);
    }

    // 2. IPv6-only (moby 28+ --ipv4=false).
    const v6slot = ctx.pools.next().v6[0];
    if (!v6slot) ctx.note('IPv6-only networks: no IPv6 pool to test with (give an IPv6 --subnet)');
    else {
      const p6 = await allocatePool(ctxPort(ctx), design.mode, v6slot);
      if (typeof p6 === 'string') ctx.note(`IPv6-only networks: the IPAM gave no IPv6 pool (${p6})`);
      else {
        const id = ids.next('v6only');
        const req: RequestOf<'CreateNetwork'> = { NetworkID: id, Options: { ...generic, [Options.EnableIPv4]: false, [Options.EnableIPv6]: true }, IPv4Data: [], IPv6Data: [p6.data] };
        const r = await tryShape(ctx, { label: `IPv6-only, ${p6.label}`, mustAccept: false }, id, req, [p6], design, endpointOptions(false), true);
        found(r);
      }
    }

    // 3. --internal.
    {
      const p = await pool(ctx, design.mode, 4);
      const id = ids.next('internal');
      const base = networkRequest(ctx, id, p);
      const r = await tryShape(ctx, { label: `--internal, ${p.label}`, mustAccept: false }, id, { ...base, Options: { ...base.Options, [Options.Internal]: true } }, [p], design);
      found(r);
    }

    // 4. Per-endpoint driver options (`docker network connect --driver-opt epopt=epval`) as top-level keys.
    {
      const p = await pool(ctx, design.mode, 4);
      const id = ids.next('epopt');
      const opts = { ...endpointOptions(false), 'cnmkit.epopt': 'epval' };
      const made = await createShaped(ctx, id, networkRequest(ctx, id, p), [p], design);
      if ('out' in made) ctx.note(`per-endpoint driver options: not tried, CreateNetwork on ${p.label} refused (${answer(made.out)}); see driver.lifecycle-accepted`);
      else {
        const port = ctxPort(ctx);
        const a = await allocateAddress(port, made.net.addressing, 2);
        if (!('refused' in a)) {
          const epId = made.net.ids.next('ep');
          const ce = await port.call('CreateEndpoint', { NetworkID: id, EndpointID: epId, Interface: { Address: a.address, AddressIPv6: '', MacAddress: '' }, Options: opts });
          if (ce.ok) {
            ctx.resources.trackEndpoint(ctx.caller, id, epId);
            await teardown(ctx, made.net, { id: epId, sent: a.address, address: a.address, mac: null, joined: false });
          } else {
            await releaseAddress(port, made.net.addressing, a.address);
            if (crashed(ce)) found(`CreateEndpoint ${a.address || '(no address)'} on ${p.label} with Options ${JSON.stringify(opts)} (docker network connect --driver-opt epopt=epval): ${CRASH}`);
            else ctx.note(`CreateEndpoint with the per-endpoint driver option epopt=epval was refused (${ce.error.message}): the driver validates endpoint options`);
          }
        }
        await closeNetwork(ctx, made.net);
      }
    }
  },
};

