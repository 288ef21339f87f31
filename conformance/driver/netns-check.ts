/**
 * driver.netns-linux (`--netns linux`, root): what the daemon does with Join's
 * answer, on the real kernel. After Join the SrcName link must exist in the
 * plugin's namespace; the checker moves it into a namespace it created
 * (`cnmt-<hex>`), applies the MAC, address, gateway and routes as the daemon
 * would, sends TCP traffic between two such sandboxes, and after Leave,
 * DeleteEndpoint and DeleteNetwork checks that no link of the plugin is left.
 * Every namespace is removed even on failure; traffic never leaves them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { HOST_NAMESPACE, type Backend } from '../../src/backend/backend.js';
import type { ResponseOf } from '../../src/protocol/methods.js';
import type { Check, CheckContext } from '../types.js';
import { type OpenEndpoint, type OpenNetwork, openNetwork, requireJoined } from './helpers.js';
import { gatewayProblem } from './rules.js';

const PORT = 47913;

interface Sandbox {
  readonly ns: string;
  readonly ep: OpenEndpoint;
  readonly reply: ResponseOf<'Join'>;
  readonly ifname: string;
  readonly ip: string;
}

function run(file: string, args: readonly string[], timeoutMs: number): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs }, (err, stdout, stderr) => resolve({ ok: err === null, out: `${stdout}${stderr}`.trim() || (err?.message ?? '') }));
  });
}

/** A one-shot TCP server inside `ns` on ip:PORT; resolves once it listens. */
function serveIn(ns: string, ip: string, timeoutMs: number): Promise<ChildProcess> {
  const script = `const s=require('net').createServer((c)=>{c.end('cnmt-ok');s.close()});s.listen(${PORT},${JSON.stringify(ip)},()=>console.log('ready'));setTimeout(()=>process.exit(0),${timeoutMs})`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`server in ${ns} did not start`));
    }, timeoutMs);
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
      reject(new Error(`server in ${ns} exited (${code})`));
    });
  });
}

async function connectFrom(ns: string, ip: string, timeoutMs: number): Promise<{ ok: boolean; out: string }> {
  const script = `const c=require('net').connect(${PORT},${JSON.stringify(ip)});let d='';c.on('data',(x)=>d+=x);c.on('end',()=>{console.log(d);process.exit(d==='cnmt-ok'?0:1)});c.on('error',(e)=>{console.error(e.message);process.exit(1)});setTimeout(()=>{console.error('timeout');process.exit(1)},${timeoutMs})`;
  return run('ip', ['netns', 'exec', ns, process.execPath, '-e', script], timeoutMs + 2000);
}

export const netnsLinux: Check = {
  id: 'driver.netns-linux',
  title: 'Join links exist, carry traffic and are gone after teardown (real kernel)',
  level: 'must',
  reason:
    'protocol.md §2.2 (Join) / §4.3: the daemon moves SrcName into the container namespace, renames it DstPrefix+N and configures it; a missing SrcName fails the start ("Link not found"), a missing link leaves the container without network, and links left after Leave/DeleteEndpoint leak (--netns linux, root).',
  requires: ['driver', 'linux'],
  budgetMs: 60_000,
  async run(ctx: CheckContext) {
    if (ctx.config.netns !== 'linux') ctx.skip('needs --netns linux (root): links are checked on the real kernel');
    if (process.getuid?.() !== 0) ctx.skip('--netns linux needs root (creates network namespaces)');
    const { createLinuxBackend } = await import('../../src/backend/linux/index.js');
    const backend: Backend = createLinuxBackend(ctx.config.netnsHost !== null ? { hostNetns: ctx.config.netnsHost } : {});
    const created: string[] = [];
    const servers: ChildProcess[] = [];
    try {
      const before = new Set((await backend.listLinks(HOST_NAMESPACE)).map((l) => l.name));
      const net: OpenNetwork = await openNetwork(ctx);
      const boxes: Sandbox[] = [];
      for (let i = 0; i < 2; i++) {
        const { ep, reply } = await requireJoined(ctx, net, 2 + i);
        const src = reply.InterfaceName?.SrcName ?? '';
        if (src === '') ctx.fail(`Join of ${ep.id.slice(0, 12)} answered no SrcName: the container gets no interface on this network`);
        try {
          await backend.getLink(HOST_NAMESPACE, src);
        } catch (e) {
          ctx.fail(`Join answered SrcName ${src}, but no such link exists in the plugin's namespace (${e instanceof Error ? e.message : String(e)}); container start fails with "Link not found"`);
        }
        const ns = `cnmt-${randomBytes(4).toString('hex')}`;
        await backend.createNamespace(ns);
        created.push(ns);
        const ifname = `${reply.InterfaceName?.DstPrefix || 'eth'}0`;
        const ip = ep.address.split('/')[0]!;
        const step = async (what: string, f: () => Promise<unknown>): Promise<void> => {
          try {
            await f();
          } catch (e) {
            ctx.fail(`sandbox work as the daemon does it failed at "${what}" for ${src}: ${e instanceof Error ? e.message : String(e)}`);
          }
        };
        await step('move into the sandbox', () => backend.moveLink(HOST_NAMESPACE, src, ns));
        await step('set down', () => backend.setLinkDown(ns, src));
        await step(`rename to ${ifname}`, () => backend.renameLink(ns, src, ifname));
        if (ep.mac !== null) await step(`set MAC ${ep.mac}`, () => backend.setMac(ns, ifname, ep.mac!));
        await step(`add ${ep.address}`, () => backend.addAddress(ns, ifname, ep.address));
        await step('set up', () => backend.setLinkUp(ns, ifname));
        await step('lo up', () => backend.setLinkUp(ns, 'lo'));
        if (reply.Gateway && gatewayProblem(reply.Gateway, net.pool, ip) === null) await step(`default route via ${reply.Gateway}`, () => backend.addRoute(ns, { destination: '0.0.0.0/0', gateway: reply.Gateway! }));
        for (const r of reply.StaticRoutes ?? []) {
          if (!r.Destination?.includes('.')) continue;
          await step(`route ${r.Destination}`, () => backend.addRoute(ns, (r.RouteType ?? 0) === 0 ? { destination: r.Destination!, gateway: r.NextHop ?? '' } : { destination: r.Destination!, dev: ifname }));
        }
        boxes.push({ ns, ep, reply, ifname, ip });
      }
      // The plugin's links: what appeared in its namespace up to now (the moved SrcNames included).
      const pluginLinks = new Set([...(await backend.listLinks(HOST_NAMESPACE)).map((l) => l.name), ...boxes.map((x) => x.reply.InterfaceName!.SrcName!)].filter((n) => !before.has(n)));
      const [a, b] = boxes as [Sandbox, Sandbox];
      let server: ChildProcess;
      try {
        server = await serveIn(b.ns, b.ip, 5000);
      } catch (e) {
        ctx.fail(`could not start the test server in ${b.ns} on ${b.ip}: ${e instanceof Error ? e.message : String(e)} (the address may not be usable on the plugin's link)`);
      }
      servers.push(server);
      const got = await connectFrom(a.ns, b.ip, 3000);
      if (!got.ok) ctx.fail(`no TCP traffic from ${a.ip} (${a.ns}) to ${b.ip} (${b.ns}) over the plugin's links: ${got.out}`);
      // Leave as the daemon does: the interface goes back to the host under its SrcName, then Leave and DeleteEndpoint.
      for (const box of boxes) {
        const src = box.reply.InterfaceName!.SrcName!;
        await backend.setLinkDown(box.ns, box.ifname).catch(() => {});
        await backend.renameLink(box.ns, box.ifname, src).catch(() => {});
        await backend.moveLink(box.ns, src, HOST_NAMESPACE).catch(() => {});
        const l = await ctx.caller.tryCall('Leave', { NetworkID: net.id, EndpointID: box.ep.id }, { timeoutMs: ctx.config.timeoutMs });
        ctx.resources.forget('join', box.ep.id);
        const d = await ctx.caller.tryCall('DeleteEndpoint', { NetworkID: net.id, EndpointID: box.ep.id }, { timeoutMs: ctx.config.timeoutMs });
        ctx.resources.forget('endpoint', box.ep.id);
        if (!l.ok || !d.ok) ctx.fail(`teardown of ${box.ep.id.slice(0, 12)} refused: ${!l.ok ? l.error.message : !d.ok ? d.error.message : ''}`);
      }
      const del = await ctx.caller.tryCall('DeleteNetwork', { NetworkID: net.id }, { timeoutMs: ctx.config.timeoutMs });
      ctx.resources.forget('network', net.id);
      if (!del.ok) ctx.fail(`DeleteNetwork refused after every endpoint was deleted: ${del.error.message}`);
      // Only links the plugin made during this check count (other software may add links to a real host meanwhile).
      const left = (await backend.listLinks(HOST_NAMESPACE)).map((l) => l.name).filter((n) => pluginLinks.has(n));
      if (left.length > 0) ctx.fail(`after Leave, DeleteEndpoint and DeleteNetwork the plugin left links behind: ${left.join(', ')}`);
    } finally {
      for (const s of servers) s.kill();
      for (const ns of created) await backend.deleteNamespace(ns).catch(() => {});
      await backend.close();
    }
  },
};
