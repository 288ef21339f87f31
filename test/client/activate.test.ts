/** dockerd's activation handshake (protocol.md §1.7) and trace record/replay. */
import { describe, expect, it } from 'vitest';
import { activate, connect, PluginCallError, TraceTransport, type RecordedExchange } from '../../src/client/index.js';
import { tableHandler } from './helpers.js';

const A = '/Plugin.Activate';
const NCAPS = '/NetworkDriver.GetCapabilities';
const ICAPS = '/IpamDriver.GetCapabilities';
const SPACES = '/IpamDriver.GetDefaultAddressSpaces';

describe('activate', () => {
  it('runs Activate then the handlers of each Implements entry in order', async () => {
    const h = tableHandler({
      [A]: [200, '{"Implements":["IpamDriver","NetworkDriver"]}'],
      [NCAPS]: [200, '{"Scope":"local"}'],
      [ICAPS]: [200, '{"RequiresMACAddress":true}'],
      [SPACES]: [200, '{"LocalDefaultAddressSpace":"L","GlobalDefaultAddressSpace":"G"}'],
    });
    const act = await activate(await connect({ handler: h }));
    expect(h.seen.map((r) => r.path)).toEqual([A, ICAPS, SPACES, NCAPS]);
    expect(h.seen.every((r) => r.body.length === 0)).toBe(true);
    expect(act).toEqual({
      implements: ['IpamDriver', 'NetworkDriver'],
      networkDriver: true,
      ipamDriver: true,
      driverCapabilities: { Scope: 'local', ConnectivityScope: '', GwAllocChecker: false },
      ipamCapabilities: { RequiresMACAddress: true, RequiresRequestReplay: false },
      addressSpaces: { LocalDefaultAddressSpace: 'L', GlobalDefaultAddressSpace: 'G' },
      errors: [],
    });
  });

  it('IPAM GetCapabilities failure is tolerated; GetDefaultAddressSpaces failure unregisters the IPAM', async () => {
    const ok = await activate(await connect({ handler: tableHandler({ [A]: [200, '{"Implements":["IpamDriver"]}'], [SPACES]: [200, '{"LocalDefaultAddressSpace":"L","GlobalDefaultAddressSpace":"G"}'] }) }));
    expect(ok.ipamDriver).toBe(true);
    expect(ok.ipamCapabilities).toBeUndefined();
    expect(ok.errors.map((e) => e.step)).toEqual(['IpamGetCapabilities']);

    const bad = await activate(await connect({ handler: tableHandler({ [A]: [200, '{"Implements":["IpamDriver"]}'], [ICAPS]: [200, '{}'], [SPACES]: [500, '{"Err":"no"}'] }) }));
    expect(bad.ipamDriver).toBe(false);
    expect(bad.errors.map((e) => [e.step, e.message])).toEqual([['GetDefaultAddressSpaces', 'IpamDriver.GetDefaultAddressSpaces: no']]);
  });

  it('a driver with a bad Scope or failing GetCapabilities is not registered', async () => {
    const bogus = await activate(await connect({ handler: tableHandler({ [A]: [200, '{"Implements":["NetworkDriver"]}'], [NCAPS]: [200, '{"Scope":"bogus"}'] }) }));
    expect(bogus.networkDriver).toBe(false);
    expect(bogus.errors[0]!.message).toContain('bogus');
    const missing = await activate(await connect({ handler: tableHandler({ [A]: [200, '{"Implements":["NetworkDriver"]}'] }) }));
    expect(missing.networkDriver).toBe(false);
    expect(missing.errors[0]!.error?.kind).toBe('not-implemented');
  });

  it('a failing Plugin.Activate rejects with the dockerd text', async () => {
    const client = await connect({ handler: tableHandler({ [A]: [500, '{"Err":"x"}'] }) });
    const err = await activate(client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginCallError);
    expect((err as PluginCallError).message).toBe('Plugin.Activate: x');
  });

  it('managed plugins skip Plugin.Activate and map interface types', async () => {
    const h = tableHandler({ [NCAPS]: [200, '{"Scope":"global"}'], [SPACES]: [200, '{"LocalDefaultAddressSpace":"L","GlobalDefaultAddressSpace":"G"}'] });
    const act = await activate(await connect({ handler: h }), { managed: true, implements: ['docker.networkdriver/1.0', 'docker.ipamdriver/1.0'] });
    expect(h.seen.map((r) => r.path)).toEqual([NCAPS, ICAPS, SPACES]);
    expect([act.networkDriver, act.ipamDriver]).toEqual([true, true]);
  });
});

describe('traces', () => {
  it('records exchanges and replays them to the same outcomes', async () => {
    const log: RecordedExchange[] = [];
    const live = await connect(
      { handler: tableHandler({ [A]: [200, '{"Implements":["NetworkDriver"]}'], [NCAPS]: [200, '{"Scope":"local"}'], '/NetworkDriver.Leave': [500, 'oops'] }) },
      { record: log },
    );
    await live.call('Activate', undefined);
    await live.call('NetworkGetCapabilities', undefined);
    const liveLeave = await live.tryCall('Leave', { NetworkID: 'n', EndpointID: 'e' });
    expect(log.map((e) => [e.request.path, e.reply?.status])).toEqual([[A, 200], [NCAPS, 200], ['/NetworkDriver.Leave', 500]]);

    const replayed = await connect({ trace: JSON.parse(JSON.stringify(log)) as RecordedExchange[] });
    expect(await replayed.call('Activate', undefined)).toEqual({ Implements: ['NetworkDriver'] });
    expect(await replayed.call('NetworkGetCapabilities', undefined)).toEqual({ Scope: 'local', ConnectivityScope: '', GwAllocChecker: false });
    const leave = await replayed.tryCall('Leave', { NetworkID: 'n', EndpointID: 'e' });
    expect(leave.ok ? '' : leave.error.message).toBe(liveLeave.ok ? 'x' : liveLeave.error.message);
    expect((replayed.transport as TraceTransport).remaining).toBe(0);
  });

  it('a request that differs from the trace is a trace-mismatch transport error', async () => {
    const client = await connect({ trace: [{ request: { path: '/NetworkDriver.Leave', body: '{"NetworkID":"n","EndpointID":"e"}\n' }, reply: { status: 200, body: '{}' } }] });
    const out = await client.tryCall('Leave', { NetworkID: 'n', EndpointID: 'OTHER' });
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.error.message).toContain('trace step 0');
    const out2 = await client.tryCall('Join', { NetworkID: 'n', EndpointID: 'e', SandboxKey: '', Options: null });
    expect(out2.ok ? '' : out2.error.message).toContain('expected POST /NetworkDriver.Leave');
  });

  it('recorded transport errors replay as the same kind', async () => {
    const client = await connect({ trace: [{ request: { path: '/NetworkDriver.Leave' }, error: { kind: 'timeout', phase: 'headers', sent: true, message: 'context deadline exceeded' } }] });
    const out = await client.tryCall('Leave', { NetworkID: 'n', EndpointID: 'e' });
    expect(out.ok ? '' : out.error.kind).toBe('timeout');
  });
});
