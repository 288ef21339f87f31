/** Error replies (protocol.md §1.4): shape, field, text, status. */
import type { Check, CheckContext } from '../types.js';
import { Probe, type ReplyVerdict } from './probe.js';

const UNKNOWN_POOL = JSON.stringify({ PoolID: 'cnmkit/no-such-pool/0', Address: '', Options: null });
const BAD_CIDR = (space: string): string => JSON.stringify({ AddressSpace: space, Pool: 'not-a-cidr', SubPool: '', Options: {}, V6: false });
const NET = 'c0ffee'.repeat(10) + 'c0ff';
const EP = 'badc0de'.repeat(9) + 'b';

/** Requests every plugin of the kind must refuse. */
function ipamErrorRequests(ctx: CheckContext): { path: string; body: string }[] {
  return [
    { path: '/IpamDriver.RequestAddress', body: UNKNOWN_POOL },
    { path: '/IpamDriver.RequestPool', body: BAD_CIDR(ctx.addressSpaces.local) },
  ];
}

function driverErrorRequests(): { path: string; body: string }[] {
  return [
    { path: '/NetworkDriver.CreateEndpoint', body: JSON.stringify({ NetworkID: NET, EndpointID: EP, Interface: { Address: '10.199.255.2/24', AddressIPv6: '', MacAddress: '' }, Options: {} }) },
    { path: '/NetworkDriver.Join', body: JSON.stringify({ NetworkID: NET, EndpointID: EP, SandboxKey: '/var/run/docker/netns/cnmkit', Options: {} }) },
  ];
}

async function provoke(ctx: CheckContext, p: Probe): Promise<{ path: string; v: ReplyVerdict }[]> {
  const reqs = [...(ctx.capabilities.has('ipam') ? ipamErrorRequests(ctx) : []), ...(ctx.capabilities.has('driver') ? driverErrorRequests() : [])];
  const out: { path: string; v: ReplyVerdict }[] = [];
  for (const r of reqs) {
    const v = await p.verdict(r);
    if (v.kind === 'success' && r.path === '/NetworkDriver.CreateEndpoint') {
      // Some drivers accept unknown networks; undo.
      await p.send({ path: '/NetworkDriver.DeleteEndpoint', body: JSON.stringify({ NetworkID: NET, EndpointID: EP }) });
    }
    out.push({ path: r.path, v });
  }
  return out;
}

/** Fail a request whose 200 reply carries its error in the other interface's field (dockerd reads that as success). */
async function failWrongErrorField(p: Probe, reqs: readonly { path: string; body: string }[]): Promise<void> {
  for (const r of reqs) {
    const v = await p.verdict(r);
    if (v.kind === 'wrong-field') p.fail(`${r.path}: 200 reply carries the error in "${v.field}" (${JSON.stringify(v.text)}); dockerd reads it as success`);
  }
}

export const errorReplies: Check = {
  id: 'protocol.error-replies',
  title: 'Requests dockerd must see refused are refused readably',
  level: 'must',
  reason: 'protocol.md §1.4: an error is any non-200 status (message: the Err field or the raw body, possibly empty) or a 200 with the error field; a 200 whose body is not JSON is a decode error instead of the plugin\'s answer, and no reply at all leaves dockerd retrying.',
  requires: [],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    const results = await provoke(ctx, p);
    if (results.length === 0) ctx.skip('plugin implements neither IpamDriver nor NetworkDriver');
    for (const { path, v } of results) {
      if (v.kind === 'no-reply') p.fail(`${path}: no reply (${v.message})`);
      if (v.kind === 'not-json') p.fail(`${path}: 200 reply is not JSON (${JSON.stringify(v.body.slice(0, 80))}); dockerd fails with a decode error instead of the plugin's message`);
      // dockerd still sees an error; the user only gets "<Interface>.<Method>: " (protocol.error-status-compat reports it).
      if (v.kind === 'error' && v.text.trim() === '') ctx.note(`${path}: error reply (HTTP ${v.status}) with an empty message; users see no reason`);
      if (v.kind === 'success') ctx.note(`${path} accepted a request Docker refuses (${path.endsWith('RequestPool') ? 'invalid CIDR' : 'unknown id'})`);
    }
  },
};

export const ipamErrorField: Check = {
  id: 'protocol.ipam-error-field',
  title: 'IPAM errors in a 200 reply use "Error", not "Err"',
  level: 'must',
  reason: 'protocol.md §1.4: a 200 IPAM reply signals failure with "Error"; {"Err":...} is an unknown field, so dockerd reads success with zero values (e.g. "invalid CIDR address:"). Use a non-200 status with {"Err":...} (go-plugins-helpers) or 200 {"Error":...}.',
  requires: ['ipam'],
  async run(ctx: CheckContext) {
    await failWrongErrorField(new Probe(ctx), ipamErrorRequests(ctx));
  },
};

export const driverErrorField: Check = {
  id: 'protocol.driver-error-field',
  title: 'NetworkDriver errors in a 200 reply use "Err", not "Error"',
  level: 'must',
  reason: 'protocol.md §1.4: a 200 NetworkDriver reply signals failure with "Err"; {"Error":...} is ignored and dockerd carries on as if the call succeeded.',
  requires: ['driver'],
  async run(ctx: CheckContext) {
    await failWrongErrorField(new Probe(ctx), driverErrorRequests());
  },
};

export const unknownMethod404: Check = {
  id: 'protocol.unknown-method-404',
  title: 'Unknown methods answer 404, like go-plugins-helpers',
  level: 'compat',
  reason: 'protocol.md §1.6: dockerd inspects only 404 ("not implemented"), and only for the optional methods it calls (Program/RevokeExternalConnectivity: driver.program-revoke; IpamDriver.GetCapabilities: protocol.ipam-capabilities; GwAllocCheck only when advertised). For method names dockerd never calls any error (400, 501, ...) works; go-plugins-helpers answers 404.',
  requires: [],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    const paths = [
      ...(ctx.capabilities.has('ipam') || !ctx.capabilities.has('driver') ? ['/IpamDriver.CnmkitNoSuchMethod'] : []),
      ...(ctx.capabilities.has('driver') || !ctx.capabilities.has('ipam') ? ['/NetworkDriver.CnmkitNoSuchMethod'] : []),
      '/Cnmkit.NoSuchInterface',
    ];
    for (const path of paths) {
      const res = await p.send({ path, body: '{}' });
      if (res.kind !== 'reply') p.fail(`${path}: no reply (${res.message})`);
      if (res.status !== 404) p.fail(`${path}: answered HTTP ${res.status}; dockerd only treats 404 as "not implemented"`);
    }
  },
};

export const errorStatusCompat: Check = {
  id: 'protocol.error-status-compat',
  title: 'Errors are HTTP 500 {"Err": ...} like go-plugins-helpers',
  level: 'compat',
  reason: 'protocol.md §1.4/§6: go-plugins-helpers answers every error with 500 and {"Err":"msg"}; dockerd accepts any non-200 status or a 200 with the error field.',
  requires: [],
  async run(ctx: CheckContext) {
    const p: Probe = new Probe(ctx);
    const results = await provoke(ctx, p);
    for (const { path, v } of results) {
      if (v.kind !== 'error') continue;
      const last = p.calls.find((c) => c.path === path);
      let hasErr = false;
      try {
        hasErr = typeof (JSON.parse(last?.response ?? '') as { Err?: unknown } | null)?.Err === 'string';
      } catch {
        hasErr = false;
      }
      if (v.status !== 500 || !hasErr || v.text.trim() === '') p.fail(`${path}: error answered as HTTP ${v.status} ${JSON.stringify((last?.response ?? '').slice(0, 80))}; go-plugins-helpers sends 500 {"Err":"<reason>"}`);
    }
  },
};
