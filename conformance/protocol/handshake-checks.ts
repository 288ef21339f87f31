/** Handshake and capability replies (protocol.md §1.7, §2.1-2.3). */
import { goDecode } from '../../src/protocol/schema.js';
import * as m from '../../src/protocol/messages.js';
import type { Check, CheckContext } from '../types.js';
import { Probe, servedReadPath } from './probe.js';

export const activateHandshake: Check = {
  id: 'protocol.activate-handshake',
  title: 'Plugin.Activate answers the manifest',
  level: 'must',
  reason: 'protocol.md §1.7/§2.1: v1 plugins get POST /Plugin.Activate with an empty body and must answer 200 {"Implements":[...]} with the exact, case-sensitive names "NetworkDriver" / "IpamDriver".',
  requires: [],
  async run(ctx: CheckContext) {
    if (ctx.pluginKind === 'managed') ctx.skip('managed (v2) plugin: dockerd never sends Plugin.Activate (it does not answer the manifest; give --plugin-kind v1 if it is a legacy plugin)');
    const p: Probe = new Probe(ctx);
    const v = await p.verdict({ path: '/Plugin.Activate' });
    if (v.kind !== 'success') p.fail(`Plugin.Activate did not succeed (${v.kind}${'text' in v ? `: ${v.text}` : ''}); dockerd cannot register a v1 plugin without it`);
    // Go decoding: keys match case-insensitively (protocol.md §1.4).
    const d = goDecode(m.ActivateResponse, v.json);
    if (!d.ok) p.fail(`Plugin.Activate reply does not decode: ${d.message}`);
    const list = d.value.Implements;
    if (!Array.isArray(list)) p.fail(`Implements is ${JSON.stringify(list)}, not an array of strings`);
    const known: string[] = list.filter((x) => x === 'NetworkDriver' || x === 'IpamDriver');
    const nearMiss = list.filter((x) => typeof x === 'string' && ['networkdriver', 'ipamdriver'].includes(x.toLowerCase()) && !known.includes(x));
    if (nearMiss.length > 0) p.fail(`Implements lists ${JSON.stringify(nearMiss)}; dockerd matches "NetworkDriver"/"IpamDriver" case-sensitively`);
    if (known.length === 0) p.fail(`Implements ${JSON.stringify(list)} names neither NetworkDriver nor IpamDriver`);
  },
};

export const networkCapabilities: Check = {
  id: 'protocol.network-capabilities',
  title: 'NetworkDriver.GetCapabilities has a valid Scope',
  level: 'must',
  reason: 'protocol.md §2.2 (GetCapabilities): Scope must be "local" or "global", ConnectivityScope empty/"local"/"global"; anything else and the driver is never registered ("could not resolve driver").',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    const v = await p.verdict({ path: '/NetworkDriver.GetCapabilities' });
    if (v.kind !== 'success') p.fail(`GetCapabilities did not succeed (${v.kind}); dockerd does not register the driver`);
    const d = goDecode(m.NetworkCapabilitiesResponse, v.json);
    if (!d.ok) p.fail(`GetCapabilities reply does not decode: ${d.message}`);
    if (d.value.Scope !== 'local' && d.value.Scope !== 'global') p.fail(`Scope is ${JSON.stringify(d.value.Scope)}; must be "local" or "global"`);
    const cs = d.value.ConnectivityScope ?? '';
    if (cs !== '' && cs !== 'local' && cs !== 'global') p.fail(`ConnectivityScope is ${JSON.stringify(cs)}; must be empty, "local" or "global"`);
  },
};

export const ipamCapabilities: Check = {
  id: 'protocol.ipam-capabilities',
  title: 'IpamDriver.GetCapabilities answers booleans (or 404)',
  level: 'should',
  reason: 'protocol.md §2.3 (GetCapabilities) / §1.6: any error registers the IPAM with no capabilities, silently dropping RequiresRequestReplay / RequiresMACAddress; a 404 (not implemented) is fine.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    const v = await p.verdict({ path: '/IpamDriver.GetCapabilities' });
    if (v.kind === 'error' && v.status === 404) {
      ctx.note('IpamDriver.GetCapabilities not implemented (404): registered without capabilities');
      return;
    }
    if (v.kind !== 'success') p.fail(`IpamDriver.GetCapabilities failed (${v.kind}${'text' in v ? `: ${v.text}` : ''}); dockerd falls back to no capabilities`);
    const d = goDecode(m.IpamCapabilitiesResponse, v.json);
    if (!d.ok) p.fail(`IpamDriver.GetCapabilities reply does not decode: ${d.message}`);
  },
};

export const addressSpaces: Check = {
  id: 'protocol.address-spaces',
  title: 'GetDefaultAddressSpaces answers',
  level: 'must',
  reason: 'protocol.md §2.3 (GetDefaultAddressSpaces): failure means the IPAM is not registered; the local and global names (either may be empty) are sent back as AddressSpace in every RequestPool.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    const v = await p.verdict({ path: '/IpamDriver.GetDefaultAddressSpaces' });
    if (v.kind !== 'success') p.fail(`GetDefaultAddressSpaces did not succeed (${v.kind}); dockerd does not register the IPAM`);
    const d = goDecode(m.AddressSpacesResponse, v.json);
    if (!d.ok) p.fail(`GetDefaultAddressSpaces reply does not decode: ${d.message}`);
    // dockerd sends the names back as AddressSpace; an empty one is just "" there (a local-only IPAM leaves the global one empty).
    if (!d.value.GlobalDefaultAddressSpace) ctx.note('GlobalDefaultAddressSpace is empty: global-scope (swarm) networks would send AddressSpace ""');
    if (!d.value.LocalDefaultAddressSpace) ctx.note('LocalDefaultAddressSpace is empty: local networks send AddressSpace ""');
  },
};

export const dockerdFraming: Check = {
  id: 'protocol.dockerd-framing',
  title: 'Requests framed exactly like dockerd are served',
  level: 'must',
  reason: 'protocol.md §1.3: dockerd sends no Content-Type, Accept v1.2, Go user agent, and an empty Host on unix sockets up to 20.10.25 ("plugin.moby.localhost" later); a plugin that insists on Content-Type or a Host rejects the daemon.',
  requires: [],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    const path = servedReadPath(ctx);
    for (const host of ['', 'plugin.moby.localhost']) {
      if (ctx.raw.curlPrefix && !ctx.raw.curlPrefix.includes('--unix-socket') && host === '') continue; // TCP always sends host:port
      const res = await p.send({ path, headers: { host, 'content-type': null } });
      if (res.kind !== 'reply' || res.status !== 200) {
        p.fail(`${path} with Host ${JSON.stringify(host)} and no Content-Type was not answered 200 (${res.kind === 'reply' ? res.status : res.message})`);
      }
    }
  },
};
