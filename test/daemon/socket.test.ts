/** The same lifecycle over a unix socket and in process gives the same calls, requests and sandboxes. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import { connect } from '../../src/client/connect.js';
import type { PluginCaller } from '../../src/client/types.js';
import { createDaemon, inProcessPlugin, summarizeCalls, type SimulatedDaemon } from '../../src/daemon/index.js';
import { createReferenceDriver } from '../../src/driver/index.js';
import { createIpam } from '../../src/ipam/index.js';
import { servePlugin } from '../../src/sdk/index.js';

function parts(backend: VirtualBackend) {
  let seed = 3;
  return {
    driver: createReferenceDriver({ backend, randomBytes: (n) => Uint8Array.from({ length: n }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24) }),
    ipam: createIpam(),
  };
}

async function lifecycle(d: SimulatedDaemon): Promise<void> {
  await d.networkCreate({ name: 'n1', ipv4: [{ subnet: '10.1.0.0/24', auxAddresses: { a: '10.1.0.9' } }], ipv6: [{ subnet: 'fd00:1::/64' }] });
  await d.networkCreate({ name: 'n2' });
  await d.containerRun({ name: 'c1', networks: [{ network: 'n1', ip: '10.1.0.5' }, { network: 'n2' }], ports: [{ port: 80, hostPort: 8080 }] });
  await d.networkDisconnect('c1', 'n2');
  await d.daemonRestart({ crash: true });
  await d.containerStart('c1');
  expect(await d.verifySandboxes()).toEqual([]);
  await d.containerRm('c1', { force: true });
  await d.networkRm('n1');
  await d.networkRm('n2');
}

describe('over a unix socket', () => {
  it('matches the in-process run call for call', async () => {
    const b1 = new VirtualBackend();
    const p1 = parts(b1);
    const inproc = await inProcessPlugin(p1);
    const d1 = createDaemon({ driver: inproc.client, ipam: inproc.client, backend: b1, ids: 5 });
    await lifecycle(d1);

    const dir = await mkdtemp(join(tmpdir(), 'cnmkit-daemon-'));
    const b2 = new VirtualBackend();
    const p2 = parts(b2);
    const server = await servePlugin({ ...p2, listen: { socket: join(dir, 'p.sock') } });
    let client: PluginCaller | undefined;
    try {
      client = await connect({ socket: server.address });
      const d2 = createDaemon({ driver: client, ipam: client, backend: b2, ids: 5 });
      await lifecycle(d2);
      expect(summarizeCalls(d2.callLog())).toEqual(summarizeCalls(d1.callLog()));
      expect(d2.callLog().map((e) => e.record.request)).toEqual(d1.callLog().map((e) => e.record.request));
      expect(b2.snapshot()).toEqual(b1.snapshot());
      expect(summarizeCalls(d1.callLog())).toContain('NetworkDriver.DeleteNetwork');
    } finally {
      await client?.close();
      await server.close();
      await inproc.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
