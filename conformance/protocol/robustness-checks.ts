/**
 * Robustness: reply shapes, bad input of every kind, timeliness, parallel
 * connections. dockerd itself never sends malformed JSON, but its retry bug
 * sends empty bodies (protocol.md §1.5), and a plugin that dies on bad input
 * loses every network it holds.
 */
import { goDecode } from '../../src/protocol/schema.js';
import { methodByPath } from '../../src/protocol/methods.js';
import { RequestAddressResponse } from '../../src/protocol/messages.js';
import { formatCidr, parseCidrWithAddress, formatIp } from '../cidr.js';
import type { Check, CheckContext } from '../types.js';
import { Probe, servedReadPath } from './probe.js';

export const replyJson: Check = {
  id: 'protocol.reply-json',
  title: 'Every 200 reply is JSON of the right shape',
  level: 'must',
  reason: 'protocol.md §1.4: dockerd decodes a 200 body with Go encoding/json into the reply struct; an empty body is "EOF", non-JSON or wrong types are decode errors, i.e. failed calls. Always send at least {}.',
  requires: [],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    const check = async (path: string, body?: string): Promise<unknown> => {
      const res = await p.send({ path, ...(body !== undefined ? { body } : {}) });
      if (res.kind !== 'reply') p.fail(`${path}: no reply (${res.message})`);
      if (res.status !== 200) return undefined;
      const spec = methodByPath(path);
      let json: unknown;
      try {
        if (res.body.trim() === '') throw new Error('empty');
        json = JSON.parse(res.body);
      } catch {
        p.fail(`${path}: 200 reply body ${JSON.stringify(res.body.slice(0, 80))} is not JSON (dockerd: ${res.body.trim() === '' ? 'EOF' : 'invalid character'})`);
      }
      if (spec) {
        const d = goDecode(spec.response, json);
        if (!d.ok) p.fail(`${path}: 200 reply does not decode into dockerd's struct: ${d.message}`);
        return d.value; // as dockerd reads it (case-insensitive keys, null = zero values)
      }
      return json;
    };
    await check('/Plugin.Activate');
    if (ctx.capabilities.has('driver')) await check('/NetworkDriver.GetCapabilities');
    if (!ctx.capabilities.has('ipam')) return;
    await check('/IpamDriver.GetCapabilities');
    await check('/IpamDriver.GetDefaultAddressSpaces');
    const cidr = ctx.pools.next().v4[0];
    if (!cidr) return;
    const poolReq = { AddressSpace: ctx.addressSpaces.local, Pool: formatCidr(cidr), SubPool: '', Options: { ...ctx.config.ipamOpts }, V6: false };
    const pool = (await check('/IpamDriver.RequestPool', JSON.stringify(poolReq))) as { PoolID?: string } | undefined;
    if (!pool?.PoolID) return;
    ctx.resources.trackPool(ctx.caller, pool.PoolID, poolReq);
    const addr = (await check('/IpamDriver.RequestAddress', JSON.stringify({ PoolID: pool.PoolID, Address: '', Options: null }))) as { Address?: string } | undefined;
    const parsed = addr?.Address ? parseCidrWithAddress(addr.Address) : null;
    if (parsed) await check('/IpamDriver.ReleaseAddress', JSON.stringify({ PoolID: pool.PoolID, Address: formatIp(parsed.cidr.family, parsed.addr) }));
    await check('/IpamDriver.ReleasePool', JSON.stringify({ PoolID: pool.PoolID }));
    ctx.resources.forget('pool', pool.PoolID);
  },
};

/** Paths that take arguments, for the bad-input checks. */
function argPaths(ctx: CheckContext): string[] {
  return [
    ...(ctx.capabilities.has('ipam') ? ['/IpamDriver.RequestPool', '/IpamDriver.RequestAddress', '/IpamDriver.ReleaseAddress', '/IpamDriver.ReleasePool'] : []),
    ...(ctx.capabilities.has('driver') ? ['/NetworkDriver.CreateNetwork', '/NetworkDriver.CreateEndpoint', '/NetworkDriver.Join'] : []),
  ];
}

// Not `{"a":1}{`: Go's json.Decoder reads the first value and stops, so go-plugins-helpers (and
// dockerd's own decoding) accept trailing bytes; dockerd never sends them.
const MALFORMED = ['{"PoolID":', 'not json at all', '{"AddressSpace":"x",}', '\u0000\u0001\u0002'];

const ALLOCATING = new Set(['/IpamDriver.RequestPool', '/IpamDriver.RequestAddress', '/NetworkDriver.CreateNetwork', '/NetworkDriver.CreateEndpoint', '/NetworkDriver.Join']);

export const malformedJson: Check = {
  id: 'protocol.malformed-json',
  hostile: true,
  title: 'Malformed JSON bodies get an error reply',
  level: 'compat',
  reason: 'protocol.md §6 / §7.1: go-plugins-helpers answers a body that does not decode with an error (400) and never acts on it. dockerd itself never sends one (it encodes with Go\'s encoding/json), so acting on it breaks nothing dockerd does; dying on it is protocol.survives-bad-input\'s concern.',
  requires: [],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    for (const path of argPaths(ctx)) {
      for (const body of MALFORMED) {
        const v = await p.verdict({ path, body });
        // Dropping the connection acts on nothing; whether the plugin lives on is protocol.survives-bad-input's concern.
        if (v.kind === 'no-reply') ctx.note(`${path} with body ${JSON.stringify(body)}: no reply (${v.message})`);
        if (v.kind === 'success' && ALLOCATING.has(path)) p.fail(`${path} with malformed body ${JSON.stringify(body)} answered success`);
      }
    }
  },
};

/** Valid JSON, wrong types where dockerd sends strings/objects. */
function wrongTyped(ctx: CheckContext): { path: string; body: string }[] {
  const space = ctx.addressSpaces.local;
  const out: { path: string; body: string }[] = [];
  if (ctx.capabilities.has('ipam')) {
    out.push(
      { path: '/IpamDriver.RequestPool', body: JSON.stringify({ AddressSpace: space, Pool: 10199, SubPool: '', Options: {}, V6: false }) },
      { path: '/IpamDriver.RequestPool', body: JSON.stringify({ AddressSpace: space, Pool: ['10.199.255.0/28'], SubPool: '', Options: {}, V6: 'no' }) },
      { path: '/IpamDriver.RequestAddress', body: JSON.stringify({ PoolID: 7, Address: '', Options: null }) },
      { path: '/IpamDriver.RequestAddress', body: JSON.stringify({ PoolID: { id: 'x' }, Address: 1, Options: 'none' }) },
      { path: '/IpamDriver.ReleaseAddress', body: JSON.stringify({ PoolID: null, Address: 5 }) },
      { path: '/IpamDriver.ReleasePool', body: JSON.stringify({ PoolID: 42 }) },
      { path: '/IpamDriver.RequestPool', body: '[]' },
      { path: '/IpamDriver.RequestAddress', body: '"PoolID"' },
    );
  }
  if (ctx.capabilities.has('driver')) {
    out.push(
      { path: '/NetworkDriver.CreateNetwork', body: JSON.stringify({ NetworkID: 5, Options: [], IPv4Data: 'x', IPv6Data: 1 }) },
      { path: '/NetworkDriver.CreateEndpoint', body: JSON.stringify({ NetworkID: [], EndpointID: {}, Interface: 'eth0' }) },
    );
  }
  return out;
}

export const wrongTypedFields: Check = {
  id: 'protocol.wrong-typed-fields',
  hostile: true,
  title: 'Wrong-typed fields get an error reply',
  level: 'compat',
  reason: 'protocol.md §1.4/§6: Go decoding (go-plugins-helpers) rejects a type mismatch such as `"PoolID": 7` or `"Pool": [..]` with a 400. dockerd never sends one, so a plugin that reads it loosely breaks nothing dockerd does; dying on it is protocol.survives-bad-input\'s concern.',
  requires: [],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    for (const r of wrongTyped(ctx)) {
      const v = await p.verdict(r);
      if (v.kind === 'no-reply') ctx.note(`${r.path} with ${r.body}: no reply (${v.message})`);
      if (v.kind === 'success' && ALLOCATING.has(r.path)) {
        const poolId = (v.json as { PoolID?: unknown } | null)?.PoolID;
        if (typeof poolId === 'string') await p.send({ path: '/IpamDriver.ReleasePool', body: JSON.stringify({ PoolID: poolId }) });
        p.fail(`${r.path} with wrong-typed body ${r.body} answered success`);
      }
    }
  },
};

export const emptyBody: Check = {
  id: 'protocol.empty-body',
  hostile: true,
  title: 'Empty bodies (dockerd retries) never allocate',
  level: 'should',
  reason: 'protocol.md §1.5: after a timeout or reset dockerd retries with an EMPTY body (Content-Length: 0); treat it as a 400 ("EOF"), never as a request with default values, or a retry allocates a second pool/address.',
  requires: [],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    for (const path of argPaths(ctx)) {
      const v = await p.verdict({ path, body: '' });
      if (v.kind === 'no-reply') p.fail(`${path} with an empty body: no reply (${v.message})`);
      if (v.kind === 'success' && ALLOCATING.has(path)) {
        const poolId = (v.json as { PoolID?: unknown } | null)?.PoolID;
        if (typeof poolId === 'string') await p.send({ path: '/IpamDriver.ReleasePool', body: JSON.stringify({ PoolID: poolId }) });
        p.fail(`${path} with an empty body answered success ${JSON.stringify(v.json)}`);
      }
    }
  },
};

export const survivesBadInput: Check = {
  id: 'protocol.survives-bad-input',
  hostile: true,
  title: 'Bad, oversize and truncated requests do not kill the plugin or its state',
  level: 'must',
  reason: 'protocol.md §1.5/§4.7: a plugin that crashes or forgets its state loses every network and address it holds (dockerd never replays them while it runs); it must answer or drop bad requests and keep serving.',
  requires: [],
  budgetMs: 120_000,
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    // Hold a pool and an address first: both must survive.
    let held: { poolId: string; address: string; pool: string } | null = null;
    if (ctx.capabilities.has('ipam')) {
      const cidr = ctx.pools.next().v4[0];
      if (cidr) {
        const req = { AddressSpace: ctx.addressSpaces.local, Pool: formatCidr(cidr), SubPool: '', Options: { ...ctx.config.ipamOpts }, V6: false };
        const pool = await ctx.caller.tryCall('RequestPool', req, { timeoutMs: ctx.config.timeoutMs });
        if (pool.ok) {
          ctx.resources.trackPool(ctx.caller, pool.value.PoolID, req);
          const addr = await ctx.caller.tryCall('RequestAddress', { PoolID: pool.value.PoolID, Address: '', Options: null }, { timeoutMs: ctx.config.timeoutMs });
          const parsed = addr.ok ? parseCidrWithAddress(addr.value.Address) : null;
          if (parsed) {
            const bare = formatIp(parsed.cidr.family, parsed.addr);
            ctx.resources.trackAddress(ctx.caller, pool.value.PoolID, bare);
            held = { poolId: pool.value.PoolID, address: bare, pool: formatCidr(cidr) };
          }
        }
      }
    }
    const big = `{"PoolID":"x","Pad":"${'A'.repeat(4 * 1024 * 1024)}"}`;
    const battery: { what: string; path: string; body: string; declaredLength?: number; timeoutMs?: number }[] = [];
    for (const path of argPaths(ctx)) {
      battery.push({ what: 'malformed JSON', path, body: '{"PoolID":' });
      battery.push({ what: 'empty body', path, body: '' });
      battery.push({ what: 'binary garbage', path, body: '\u0000\uffff\u0001garbage' });
    }
    const first = argPaths(ctx)[0];
    // The plugin cannot answer before the body is complete: give up after a moment and check it still serves others.
    if (first) battery.push({ what: 'truncated body (Content-Length larger than the body)', path: first, body: '{"PoolID":"', declaredLength: 200, timeoutMs: 150 });
    battery.push({ what: 'oversize body (4 MiB)', path: ctx.capabilities.has('ipam') ? '/IpamDriver.ReleasePool' : '/NetworkDriver.DeleteNetwork', body: big });
    for (const b of battery) {
      await p.send({ path: b.path, body: b.body, ...(b.declaredLength !== undefined ? { declaredLength: b.declaredLength } : {}) }, b.timeoutMs ?? ctx.config.timeoutMs);
      if (!(await p.alive())) p.fail(`the plugin stopped answering after a ${b.what} request to ${b.path}`);
    }
    if (held) {
      const again = await p.verdict({ path: '/IpamDriver.RequestAddress', body: JSON.stringify({ PoolID: held.poolId, Address: held.address, Options: null }) });
      if (again.kind === 'success') {
        const d = goDecode(RequestAddressResponse, again.json);
        const parsed = d.ok ? parseCidrWithAddress(d.value.Address) : null;
        const got = parsed ? formatIp(parsed.cidr.family, parsed.addr) : null;
        if (got) await p.send({ path: '/IpamDriver.ReleaseAddress', body: JSON.stringify({ PoolID: held.poolId, Address: got }) });
        // A different address means the preference was ignored (ipam.preferred-address-honoured), not lost state.
        if (got === held.address) p.fail(`after the bad requests ${held.address} of ${held.pool} was handed out again: the plugin lost its state`);
      }
      const other = await p.verdict({ path: '/IpamDriver.RequestAddress', body: JSON.stringify({ PoolID: held.poolId, Address: '', Options: null }) });
      if (other.kind !== 'success') p.fail(`after the bad requests pool ${held.pool} (${held.poolId}) no longer serves addresses: the plugin lost its state`);
      const decoded = goDecode(RequestAddressResponse, other.json);
      const a = decoded.ok ? decoded.value.Address : undefined;
      const parsed = a ? parseCidrWithAddress(a) : null;
      if (parsed) ctx.resources.trackAddress(ctx.caller, held.poolId, formatIp(parsed.cidr.family, parsed.addr));
    }
  },
};

export const timelyReplies: Check = {
  id: 'protocol.timely-replies',
  title: 'Replies arrive within the plugin kind\'s limit',
  level: 'should',
  reason:
    'protocol.md §1.5: a managed plugin\'s call fails after the request timeout (`docker plugin enable --timeout`, default 30 s = --timeout here) and is retried with an empty body; a v1 plugin has no timeout, so a call that long blocks the docker command. A slow call within the limit (a DHCP lease, a cloud API) is only noted.',
  requires: [],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    const paths = ['/Plugin.Activate', ...(ctx.capabilities.has('ipam') ? ['/IpamDriver.GetDefaultAddressSpaces', '/IpamDriver.GetCapabilities'] : []), ...(ctx.capabilities.has('driver') ? ['/NetworkDriver.GetCapabilities'] : [])];
    const limit = ctx.config.timeoutMs;
    for (const path of paths) {
      const res = await p.send({ path }, limit);
      if (res.kind === 'timeout') p.fail(`${path} got no reply within ${limit} ms (--timeout): ${ctx.pluginKind === 'managed' ? 'dockerd fails the call and retries it with an empty body' : 'the docker command waits that long'}`);
      if (res.durationMs > ctx.config.slowCallMs) ctx.note(`${path} took ${Math.round(res.durationMs)} ms`);
    }
    for (const r of ctx.records) if (r.durationMs > ctx.config.slowCallMs) ctx.note(`${r.path} took ${Math.round(r.durationMs)} ms`);
  },
};

export const concurrentConnections: Check = {
  id: 'protocol.concurrent-connections',
  title: 'Several connections are served at once',
  level: 'should',
  reason: 'protocol.md §1.3: dockerd keeps connections alive and opens more for concurrent calls; a plugin serving one connection at a time stalls parallel docker commands.',
  requires: [],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    const path = servedReadPath(ctx);
    const results = await Promise.all(Array.from({ length: ctx.config.concurrency }, () => p.send({ path })));
    const bad = results.find((r) => r.kind !== 'reply' || r.status !== 200);
    if (bad) p.fail(`one of ${results.length} parallel ${path} calls failed: ${bad.kind === 'reply' ? `HTTP ${bad.status}` : bad.message}`);
  },
};
