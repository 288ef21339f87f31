/**
 * driver.netns-linux: what the daemon does with the plugin's links, on the
 * real kernel. On by default where it can run (`--netns auto`: root on
 * Linux), insisted on with `--netns linux`, off with `--netns none`.
 *
 * It looks at the plugin's namespace through its own read-only view
 * (kernel-links.ts: every link, any name; never cnmkit's Linux backend, whose
 * `cnm-*` filter is for the reference's writes). After Join the SrcName link
 * must exist; the checker moves it into a namespace it created (`cnmt-<hex>`)
 * and configures it as the daemon would (down, rename DstPrefix+0, MAC,
 * address, up, connected routes, default route via the gateway, next-hop
 * routes). Whether traffic between two sandboxes is required depends on the
 * design the plugin answered: an L2 design (no gateway, or one inside the
 * endpoint subnet) must carry TCP between them; a routed design (gateway
 * outside the subnet, e.g. Calico's 169.254.1.1 + connected /32 route) needs
 * the plugin's host routing, so only the links and routes must be
 * configurable. A leak is any link that appeared in the plugin's namespace
 * during the check and is still there after full teardown (an endpoint that
 * never joined, two that did, two networks); the message names the link, when
 * it appeared and the call after which it should have gone. Namespaces the
 * checker creates are always removed; traffic never leaves them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { ResponseOf } from '../../src/protocol/methods.js';
import { contains, formatCidr, parseCidrWithAddress, parseIp } from '../cidr.js';
import type { ResolvedConfig } from '../config.js';
import type { Check, CheckContext } from '../types.js';
import { requireDesign } from './addressing.js';
import { closeNetwork, type OpenEndpoint, type OpenNetwork, join, openNetwork, requireEndpoint, teardown } from './helpers.js';
import { IdSource } from './system.js';
import { createSandbox, directRouteDev, findLink, ip, KernelError, type KernelLink, linkOps, listLinks, type Netns, nsLabel, type Sandbox } from './kernel-links.js';

const PORT = 47913;
/** How many leaked links a message lists by name (a run once leaked >2,000 veth pairs). */
const LIST_AT_MOST = 8;

export type NetnsMode = { readonly run: true; readonly note: string } | { readonly run: false; readonly reason: string };

/**
 * Whether the real-kernel check runs: `none` never, `auto` when root on
 * Linux, `linux` insists (and still skips with the reason when it cannot).
 */
export function netnsMode(config: Pick<ResolvedConfig, 'netns' | 'netnsHost'>, env: { readonly uid: number | undefined; readonly platform: string } = { uid: process.getuid?.(), platform: process.platform }): NetnsMode {
  const mode = config.netns;
  if (mode === 'none') return { run: false, reason: 'turned off by --netns none; that is the default with --reference, whose embedded plugin runs on the virtual backend: give --netns linux to check it on the real kernel' };
  if (env.platform !== 'linux') return { run: false, reason: `--netns ${mode}: not Linux, links are checked only on a Linux kernel` };
  if (env.uid !== 0) {
    return mode === 'auto'
      ? { run: false, reason: '--netns auto: not root, so links are not checked on the real kernel (it creates network namespaces; run as root, or --netns none to silence this)' }
      : { run: false, reason: '--netns linux needs root (it creates network namespaces)' };
  }
  const where = config.netnsHost === null ? "this process's network namespace (the host)" : `network namespace ${config.netnsHost}`;
  return { run: true, note: `--netns ${mode}: links checked on the real kernel (root on Linux); the plugin's links are looked for in ${where}` };
}

interface Box {
  readonly sandbox: Sandbox;
  readonly ep: OpenEndpoint;
  readonly reply: ResponseOf<'Join'>;
  readonly src: string;
  readonly ifname: string;
  readonly ip: string;
  /** Where the link is now: inside the sandbox until moved back. */
  inSandbox: boolean;
  /** Name it has inside the sandbox (SrcName until renamed). */
  current: string;
}

/** When a link first appeared and which call should have removed it. */
interface Origin {
  readonly at: string;
  readonly dueAfter: string;
  /** The network (or the design probe) it was made for. */
  readonly scope: string;
  /** Other networks whose links hung on it (bridge master, macvlan parent): then it is the plugin's shared host link. */
  readonly sharedWith: Set<string>;
}

const short = (id: string): string => id.slice(0, 12);
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const keyOf = (l: KernelLink): string => `${l.index}/${l.name}`;

/** A one-shot TCP server inside `ns` on ip:PORT; resolves once it listens. */
function serveIn(ns: string, addr: string, timeoutMs: number): Promise<ChildProcess> {
  const script = `const s=require('net').createServer((c)=>{c.end('cnmt-ok');s.close()});s.listen(${PORT},${JSON.stringify(addr)},()=>console.log('ready'));setTimeout(()=>process.exit(0),${timeoutMs})`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`server in ${ns} did not start`));
    }, timeoutMs);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server in ${ns} exited (${code}) ${stderr.trim().split('\n').slice(-1)[0] ?? ''}`));
    });
  });
}

function connectFrom(ns: string, addr: string, timeoutMs: number): Promise<{ ok: boolean; out: string }> {
  const script = `const c=require('net').connect(${PORT},${JSON.stringify(addr)});let d='';c.on('data',(x)=>d+=x);c.on('end',()=>{console.log(d);process.exit(d==='cnmt-ok'?0:1)});c.on('error',(e)=>{console.error(e.message);process.exit(1)});setTimeout(()=>{console.error('timeout after ${timeoutMs} ms');process.exit(1)},${timeoutMs})`;
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill(), timeoutMs + 3000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, out: e.message });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, out: out.trim() });
    });
  });
}

/** One TCP exchange from sandbox a to b's address (the server process is added to `servers` for cleanup). */
async function tcpBetween(a: Box, b: Box, servers: ChildProcess[], timeoutMs: number): Promise<{ ok: boolean; out: string }> {
  try {
    servers.push(await serveIn(b.sandbox.name, b.ip, 5000));
  } catch (e) {
    return { ok: false, out: `could not start the test server in ${b.sandbox.name} on ${b.ip}: ${errText(e)}` };
  }
  return connectFrom(a.sandbox.name, b.ip, timeoutMs);
}

/**
 * The design Join's answer implies, from its IPv4 gateway and the endpoint's
 * own subnet (its address/prefix: with the null IPAM the network's pool is
 * 0.0.0.0/0 and says nothing).
 */
function designOf(reply: ResponseOf<'Join'>, address: string): { readonly routed: boolean; readonly why: string } {
  const gw = reply.Gateway ?? '';
  if (gw === '') return { routed: false, why: 'no IPv4 Gateway (L2: the sandboxes share a segment)' };
  const subnet = parseCidrWithAddress(address)?.cidr ?? null;
  const p = parseIp(gw);
  if (subnet !== null && p !== null && p.family === 4 && contains(subnet, 4, p.value)) return { routed: false, why: `Gateway ${gw} inside the endpoint subnet ${formatCidr(subnet)} (L2)` };
  return { routed: true, why: `Gateway ${gw} outside the endpoint subnet ${subnet !== null ? formatCidr(subnet) : address} (routed: the plugin's host side routes, as Calico does)` };
}

export const netnsLinux: Check = {
  id: 'driver.netns-linux',
  title: 'Join links exist, are usable by the daemon and are gone after teardown (real kernel)',
  level: 'must',
  reason:
    'protocol.md §2.2 (Join) / §4.3: the daemon moves SrcName into the container namespace, renames it DstPrefix+N and configures address, MAC, routes and gateway; a missing SrcName fails the start ("Link not found"), a link that cannot be configured leaves the container without network, and links left after Leave/DeleteEndpoint/DeleteNetwork leak on every container (on by default as root on Linux: --netns auto).',
  requires: ['driver', 'linux'],
  budgetMs: 60_000,
  async run(ctx: CheckContext) {
    const mode = netnsMode(ctx.config);
    if (!mode.run) ctx.skip(mode.reason);
    if (!(await ip(null, ['-V'])).ok) ctx.skip(`--netns ${ctx.config.netns}: iproute2 (the ip command) is not available`);
    ctx.note(mode.note);
    const host: Netns = ctx.config.netnsHost;
    const where = nsLabel(host);
    const sandboxes: Sandbox[] = [];
    const servers: ChildProcess[] = [];
    const boxes: Box[] = [];

    // Every link the plugin's namespace had before the check: never counted as the plugin's.
    let listed: KernelLink[];
    try {
      listed = await listLinks(host);
    } catch (e) {
      ctx.skip(`cannot list the links of ${where}: ${errText(e)}`);
    }
    const before = new Set(listed.map(keyOf));
    const origins = new Map<string, Origin>();
    /** Record links that appeared since the last look, with the call (and network) that made them. */
    const look = async (at: string, dueAfter: string, scope: string): Promise<KernelLink[]> => {
      const now = await listLinks(host);
      for (const l of now) if (!before.has(keyOf(l)) && !origins.has(l.name)) origins.set(l.name, { at, dueAfter, scope, sharedWith: new Set() });
      for (const l of now) {
        const own = origins.get(l.name);
        for (const tie of [l.master, l.parent]) {
          const o = tie !== null ? origins.get(tie) : undefined;
          if (own !== undefined && o !== undefined && o.scope !== own.scope) o.sharedWith.add(own.scope);
        }
      }
      return now;
    };
    const refusals: string[] = [];
    // Container stop (Leave when joined, DeleteEndpoint, address release) and network removal as dockerd does them;
    // dockerd only logs teardown errors and forgets the object, so a refusal matters through what it leaves behind.
    const deleteEndpoint = async (net: OpenNetwork, ep: OpenEndpoint): Promise<void> => {
      const err = await teardown(ctx, net, ep);
      if (err !== null) refusals.push(`${err.split(':')[0]} of ${short(ep.id)} answered an error (${err})`);
      await look(`DeleteEndpoint of ${short(ep.id)}`, `DeleteEndpoint of ${short(ep.id)}`, net.id);
    };
    const deleteNetwork = async (net: OpenNetwork): Promise<void> => {
      const err = await closeNetwork(ctx, net);
      if (err !== null) refusals.push(`DeleteNetwork of ${short(net.id)} answered an error (${err})`);
      await look(`DeleteNetwork of ${short(net.id)}`, `DeleteNetwork of ${short(net.id)}`, net.id);
    };
    /** Interface.Remove as the daemon does at container stop: down, back to SrcName, back to the plugin's namespace. */
    const restore = async (box: Box): Promise<void> => {
      if (!box.inSandbox) return;
      box.inSandbox = false;
      const ns = box.sandbox.name;
      await linkOps.down(ns, box.current).catch(() => '');
      if (box.current !== box.src) await linkOps.rename(ns, box.current, box.src).catch(() => '');
      await linkOps.move(ns, box.src, host).catch(() => '');
    };

    try {
      // 0. The design probe (one network, endpoint and Join, all undone) runs first: its links are its own.
      await requireDesign(ctx);
      await look('the design probe (a network, an endpoint and a Join)', 'the design probe\'s Leave, DeleteEndpoint and DeleteNetwork', 'probe');
      // 1. A network with an endpoint that is created and deleted without ever joining (docker create + rm).
      const ids = new IdSource(ctx.seed);
      const lone = await openNetwork(ctx, ids);
      await look(`CreateNetwork of ${short(lone.id)}`, `DeleteNetwork of ${short(lone.id)}`, lone.id);
      const never = await requireEndpoint(ctx, lone, 2);
      await look(`CreateEndpoint of ${short(never.id)} (never joined)`, `DeleteEndpoint of ${short(never.id)}`, lone.id);
      await deleteEndpoint(lone, never);
      await deleteNetwork(lone);

      // 2. A network with two joined endpoints, configured as the daemon would.
      const net = await openNetwork(ctx, ids);
      await look(`CreateNetwork of ${short(net.id)}`, `DeleteNetwork of ${short(net.id)}`, net.id);
      for (let i = 0; i < 2; i++) {
        const ep = await requireEndpoint(ctx, net, 2 + i);
        await look(`CreateEndpoint of ${short(ep.id)}`, `DeleteEndpoint of ${short(ep.id)}`, net.id);
        const reply = await join(ctx, net, ep);
        if (typeof reply === 'string') ctx.skip(`precondition: Join refused (${reply}); see driver.lifecycle-accepted`);
        const now = await look(`Join of ${short(ep.id)}`, `Leave and DeleteEndpoint of ${short(ep.id)}`, net.id);
        const src = reply.InterfaceName?.SrcName ?? '';
        if (src === '') ctx.fail(`Join of ${short(ep.id)} answered no SrcName: the container gets no interface on this network`);
        // The daemon moves SrcName from the OCI prestart hook, a moment after Join: give a slow plugin that moment.
        let found = await findLink(host, src);
        for (let t = 0; t < 5 && typeof found === 'string'; t++) {
          await sleep(100);
          found = await findLink(host, src);
        }
        if (typeof found === 'string') {
          const fresh = now.filter((l) => !before.has(keyOf(l))).map((l) => l.name);
          ctx.fail(
            `Join of ${short(ep.id)} answered SrcName ${src}, but no such link exists in ${where} (${found}); container start fails with "Link not found". Links that appeared there during the check: ${fresh.length === 0 ? `none (if the plugin runs in another network namespace or on another host than this checker, its links cannot be seen from here: run the checker beside it, or give --netns none)` : fresh.slice(0, LIST_AT_MOST).join(', ')}`,
          );
        }
        let sandbox: Sandbox;
        try {
          sandbox = await createSandbox('cnmt-');
        } catch (e) {
          // This machine's trouble, not the plugin's.
          ctx.skip(`could not create a sandbox namespace: ${errText(e)}`);
        }
        sandboxes.push(sandbox);
        const ifname = `${reply.InterfaceName?.DstPrefix ?? ''}0`;
        const box: Box = { sandbox, ep, reply, src, ifname, ip: ep.address.split('/')[0] ?? '', inSandbox: false, current: src };
        boxes.push(box);
        await configure(ctx, box, host);
      }

      // 3. Traffic, as the design needs it.
      const [a, b] = boxes as [Box, Box];
      const design = designOf(a.reply, a.ep.address);
      if (a.ip === '' || b.ip === '') {
        // Neither the IPAM nor the driver gave an IPv4 address (possible with the null IPAM): nothing to send to.
        ctx.note(`design: ${design.why}; an endpoint has no IPv4 address (${short(a.ep.id)}: "${a.ep.address}", ${short(b.ep.id)}: "${b.ep.address}"), so TCP between sandboxes was not tried`);
      } else {
        const traffic = await tcpBetween(a, b, servers, design.routed ? 1500 : 3000);
        const icc = Object.entries(ctx.config.driverOpts).find(([k, v]) => /enable_icc$/.test(k) && v === 'false');
        if (icc !== undefined) {
          // Isolation asked for (as docker's bridge driver does with enable_icc=false): no traffic is the wanted result.
          ctx.note(`design: ${design.why}; --driver-opt ${icc[0]}=false asks for isolated containers, so TCP between sandboxes is not required (it ${traffic.ok ? 'worked' : 'did not work'})`);
        } else if (!design.routed) {
          if (!traffic.ok) ctx.fail(`no TCP traffic from ${a.ip} (${a.sandbox.name}, ${a.src} as ${a.ifname}) to ${b.ip} (${b.sandbox.name}, ${b.src} as ${b.ifname}) over the plugin's links; the design is ${design.why}, so the containers of one network must reach each other: ${traffic.out}`);
          ctx.note(`design: ${design.why}; TCP between two sandboxes works`);
        } else {
          ctx.note(`design: ${design.why}; the links, addresses and routes were configured as the daemon does; TCP between two sandboxes is not required (it needs the plugin's host routing)${traffic.ok ? ' and worked' : ` and did not work here (${traffic.out})`}`);
        }
      }

      // 4. Teardown as at container stop, then the network.
      for (const box of boxes) {
        await restore(box);
        await deleteEndpoint(net, box.ep);
      }
      await deleteNetwork(net);

      // 5. Leaks: links that appeared during the check and are still there (allowing an asynchronous delete a moment).
      let left: KernelLink[] = [];
      for (let t = 0; t < 3; t++) {
        left = (await listLinks(host)).filter((l) => !before.has(keyOf(l)));
        if (left.length === 0) break;
        await sleep(300);
      }
      // A link the plugin's later networks also hung links on (a bridge or parent shared by all its networks,
      // made at the first CreateNetwork) is its host infrastructure, not a per-network leak: noted, not failed.
      const shared = left.filter((l) => (origins.get(l.name)?.sharedWith.size ?? 0) > 0);
      if (shared.length > 0) ctx.note(`still there after teardown but shared by several networks (the plugin's host links, not counted as leaks): ${shared.map((l) => `${l.name} (${l.kind ?? 'link'}, created at ${origins.get(l.name)!.at})`).join(', ')}`);
      left = left.filter((l) => !shared.includes(l));
      if (left.length > 0) {
        // The check's own networks first: their calls are the most precise; the design probe's links come last.
        left.sort((x, y) => Number(origins.get(x.name)?.scope === 'probe') - Number(origins.get(y.name)?.scope === 'probe'));
        const lines = left.slice(0, LIST_AT_MOST).map((l) => leakLine(l, origins.get(l.name)));
        const more = left.length > LIST_AT_MOST ? `; and ${left.length - LIST_AT_MOST} more links` : '';
        ctx.fail(`the plugin left links behind in ${where} after Leave, DeleteEndpoint and DeleteNetwork: ${lines.join('; ')}${more}${refusals.length > 0 ? ` (${refusals.join('; ')})` : ''}`);
      }
      if (refusals.length > 0) ctx.note(`teardown calls answered errors but left no link behind: ${refusals.join('; ')}`);
    } finally {
      for (const s of servers) s.kill();
      // Links go back to the plugin before the sandboxes are removed, so its own teardown (the resources' cleanup) finds them.
      for (const box of boxes) await restore(box).catch(() => undefined);
      for (const s of sandboxes) await s.remove();
    }
  },
};

/** "after DeleteEndpoint of <ep> the link dh-1a2b (veth on kbr0, created at CreateEndpoint of <ep>) is still there". */
function leakLine(l: KernelLink, o: Origin | undefined): string {
  const facts = [l.kind !== null ? `${l.kind}${l.master !== null ? ` on ${l.master}` : ''}` : null, o !== undefined ? `created at ${o.at}` : 'appeared during the check'].filter((x) => x !== null);
  const what = `the link ${l.name} (${facts.join(', ')})`;
  return o !== undefined ? `after ${o.dueAfter} ${what} is still there` : `${what} is still there after full teardown`;
}

/** The daemon's sandbox work for one joined endpoint (libnetwork: AddInterface, then gateways, then next-hop routes). */
async function configure(ctx: CheckContext, box: Box, host: Netns): Promise<void> {
  const ns = box.sandbox.name;
  const { reply, ep } = box;
  const step = async (what: string, f: () => Promise<unknown>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      const detail = e instanceof KernelError ? e.detail : errText(e);
      ctx.fail(`the daemon's work on Join's answer for ${short(ep.id)} (SrcName ${box.src}) fails at "${what}": ${detail}; the container start fails`);
    }
  };
  /** An IPv6 step the daemon may not even take (IPv6 off in the container): noted, never failed. */
  const soft = async (what: string, f: () => Promise<unknown>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      ctx.note(`IPv6: "${what}" did not work in ${ns}: ${e instanceof KernelError ? e.detail : errText(e)} (not judged: the container may have IPv6 off)`);
    }
  };
  const exists = (e: unknown): boolean => e instanceof KernelError && /File exists/i.test(e.detail);
  await step(`move ${box.src} into the sandbox`, () => linkOps.move(host, box.src, ns));
  box.inSandbox = true;
  await step(`set ${box.src} down`, () => linkOps.down(ns, box.src));
  await step(`rename ${box.src} to ${box.ifname}`, () => linkOps.rename(ns, box.src, box.ifname));
  box.current = box.ifname;
  if (ep.mac !== null) await step(`set MAC ${ep.mac}`, () => linkOps.mac(ns, box.ifname, ep.mac!));
  if (ep.address !== '') await step(`add address ${ep.address}`, () => linkOps.address(ns, box.ifname, ep.address));
  await step(`set ${box.ifname} up`, () => linkOps.up(ns, box.ifname));
  const routes = reply.StaticRoutes ?? [];
  // Connected routes come with the interface (before the gateway: Calico's 169.254.1.1/32 makes its gateway reachable).
  for (const r of routes) {
    const dest = r.Destination ?? '';
    if ((r.RouteType ?? 0) === 0 || dest === '') continue;
    const add = (): Promise<unknown> => linkOps.connectedRoute(ns, dest, box.ifname).catch((e: unknown) => (exists(e) ? '' : Promise.reject(e)));
    if (dest.includes(':')) await soft(`connected route ${dest} dev ${box.ifname}`, add);
    else await step(`connected route ${dest} dev ${box.ifname}`, add);
  }
  const gw = reply.Gateway ?? '';
  if (gw !== '') {
    const dev = await directRouteDev(ns, gw);
    if (dev instanceof KernelError) ctx.fail(`Join of ${short(ep.id)} answered Gateway ${gw}, which is not reachable directly from ${box.ifname} (${ep.address}${routes.length > 0 ? ` with StaticRoutes ${JSON.stringify(routes)}` : ''}): ${dev.message}; the container start fails`);
    await step(`default route via ${gw} dev ${dev}`, () => linkOps.viaRoute(ns, 'default', gw, dev).catch((e: unknown) => (exists(e) ? '' : Promise.reject(e))));
  }
  const gw6 = reply.GatewayIPv6 ?? '';
  // A link-local gateway (fe80::1) only means something with its device, so the route names it.
  if (gw6 !== '') await soft(`default route via ${gw6} dev ${box.ifname}`, () => linkOps.viaRoute(ns, 'default', gw6, box.ifname).catch((e: unknown) => (exists(e) ? '' : Promise.reject(e))));
  for (const r of routes) {
    const dest = r.Destination ?? '';
    if ((r.RouteType ?? 0) !== 0 || dest === '' || (r.NextHop ?? '') === '') continue;
    const add = (): Promise<unknown> => linkOps.viaRoute(ns, dest, r.NextHop!).catch((e: unknown) => (exists(e) ? '' : Promise.reject(e)));
    if (dest.includes(':')) await soft(`route ${dest} via ${r.NextHop}`, add);
    else await step(`route ${dest} via ${r.NextHop}`, add);
  }
}
