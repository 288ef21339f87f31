/** LeanTransport: straight dispatch into an in-process handler, through the client's full reply logic. */
import { describe, expect, it } from 'vitest';
import { connect, LeanTransport, PluginCallError, type DispatchHandler } from '../../src/client/index.js';
import { createPluginHandler } from '../../src/sdk/index.js';
import type { NetworkDriverApi } from '../../src/protocol/api.js';

const driver: NetworkDriverApi = {
  getCapabilities: () => ({ Scope: 'local', ConnectivityScope: 'local' }),
  createNetwork: (req) => {
    if (req.NetworkID === 'bad') throw new Error('no such thing');
  },
  deleteNetwork: () => {},
  createEndpoint: () => ({}),
  deleteEndpoint: () => {},
  endpointOperInfo: () => ({ Value: {} }),
  join: () => ({ InterfaceName: { SrcName: 'x', DstPrefix: 'eth' } }),
  leave: () => {},
};

describe('LeanTransport', () => {
  it('answers through the SDK handler, synchronously or asynchronously, and the client decodes the reply', async () => {
    const sdk = createPluginHandler({ driver });
    let calls = 0;
    const counting: DispatchHandler = {
      dispatch(method, path, body, signals) {
        calls++;
        return sdk.dispatch(method, path, body, signals);
      },
    };
    const client = await connect({ transport: new LeanTransport(counting, 'lean-test') });
    expect(client.transport.info).toMatchObject({ kind: 'in-process', address: 'lean-test' });
    expect(await client.call('NetworkGetCapabilities', {})).toMatchObject({ Scope: 'local' });
    expect(calls).toBeGreaterThan(0);
    await client.close();
  });

  it('a plugin error reaches the caller as the plugin wrote it', async () => {
    const client = await connect({ transport: new LeanTransport(createPluginHandler({ driver })) });
    const err = await client.call('CreateNetwork', { NetworkID: 'bad', Options: {}, IPv4Data: [], IPv6Data: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginCallError);
    expect((err as Error).message).toContain('no such thing');
    await client.close();
  });

  it('a promise from the dispatcher is awaited; the body is sent as given', async () => {
    const seen: string[] = [];
    const handler: DispatchHandler = {
      dispatch: async (method, path, body) => {
        seen.push(`${method} ${path} ${Buffer.from(body).toString('utf8')}`);
        return path === '/Plugin.Activate' ? { status: 200, body: '{"Implements":["NetworkDriver"]}' } : { status: 200, body: '{"Scope":"global"}' };
      },
    };
    const client = await connect({ transport: new LeanTransport(handler) });
    expect(await client.call('NetworkGetCapabilities', {})).toMatchObject({ Scope: 'global' });
    expect(seen.some((s) => s.startsWith('POST /NetworkDriver.GetCapabilities'))).toBe(true);
    await client.close();
  });
});
