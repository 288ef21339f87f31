/**
 * Options as dockerd 20.10 really sends them (protocol.md §2.2, Appendix B):
 * CreateEndpoint always carries an Options object with the exposed-ports and
 * portmap keys (`[]` when none; neither on --internal networks), never null;
 * Join and ProgramExternalConnectivity carry the sandbox's identical options;
 * EndpointOperInfo is fatal only right after Join under 20.10 (§1.6).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonError } from '../../src/daemon/index.js';
import { makeEnv, type Env } from './env.js';

let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const EXPOSED = 'com.docker.network.endpoint.exposedports';
const PORTMAP = 'com.docker.network.portmap';

function requestsOf(e: Env, call: string): Array<Record<string, unknown>> {
  return e.daemon
    .callLog()
    .filter((x) => x.call === call)
    .map((x) => x.request as Record<string, unknown>);
}

describe('options as dockerd sends them', () => {
  it('CreateEndpoint: both port keys always, an object (never null); Join and Program: the same sandbox options', async () => {
    env = await makeEnv();
    const d = env.daemon;
    await d.networkCreate({ name: 'n', ipv4: [{ subnet: '10.1.0.0/24' }] });
    await d.networkCreate({ name: 'i', ipv4: [{ subnet: '10.2.0.0/24' }], internal: true });
    await d.containerRun({ name: 'plain', networks: [{ network: 'n' }] });
    await d.containerRun({ name: 'ports', networks: [{ network: 'n' }], ports: [{ port: 80, hostPort: 8080 }, { port: 53, proto: 'udp', hostPort: 5353, hostIp: '127.0.0.1' }, { port: 9999 }] });
    await d.containerRun({ name: 'internal', networks: [{ network: 'i' }] });
    const ce = requestsOf(env, 'NetworkDriver.CreateEndpoint');
    expect(ce).toHaveLength(3);
    for (const r of ce) expect(r['Options']).toBeTypeOf('object');
    expect(ce[0]!['Options']).toEqual({ [EXPOSED]: [], [PORTMAP]: [] });
    expect(ce[1]!['Options']).toEqual({
      [EXPOSED]: [{ Proto: 6, Port: 80 }, { Proto: 17, Port: 53 }, { Proto: 6, Port: 9999 }],
      [PORTMAP]: [
        { Proto: 6, IP: '', Port: 80, HostIP: '', HostPort: 8080, HostPortEnd: 8080 },
        { Proto: 17, IP: '', Port: 53, HostIP: '127.0.0.1', HostPort: 5353, HostPortEnd: 5353 },
      ],
    });
    // Port mapping belongs to non-internal networks only: no keys, but still an object.
    expect(ce[2]!['Options']).toEqual({});
    const joins = requestsOf(env, 'NetworkDriver.Join');
    const programs = requestsOf(env, 'NetworkDriver.ProgramExternalConnectivity');
    expect(programs).toHaveLength(2);
    expect(programs[0]!['Options']).toEqual(joins[0]!['Options']);
    expect(programs[1]!['Options']).toEqual(joins[1]!['Options']);
    expect(programs[1]!['Options']).toEqual(ce[1]!['Options']);
  });

  it('EndpointOperInfo: fatal right after Join under 20.10 (rolled back), ignored at its other call sites and under moby', async () => {
    env = await makeEnv();
    const d = env.daemon;
    await d.networkCreate({ name: 'n', ipv4: [{ subnet: '10.1.0.0/24' }] });
    await d.networkCreate({ name: 'm', ipv4: [{ subnet: '10.3.0.0/24' }] });
    // The first one after Join (updateJoinInfo): the start fails and is rolled back.
    env.faulty.addRule({ method: 'EndpointOperInfo', occurrence: 1, fault: { kind: 'not-found' } });
    const err = await d.containerRun({ name: 'c1', networks: [{ network: 'n' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).step).toBe('EndpointOperInfo');
    await d.containerRm('c1', { force: true });
    // The second one (getPortMapInfo): ignored.
    env.faulty.addRule({ method: 'EndpointOperInfo', occurrence: 2, fault: { kind: 'not-found' } });
    await d.containerRun({ name: 'c2', networks: [{ network: 'n' }] });
    // network connect: the one for the existing endpoint before CreateEndpoint is ignored too.
    env.faulty.addRule({ method: 'EndpointOperInfo', occurrence: 1, fault: { kind: 'plugin-error', message: 'boom' } });
    await d.networkConnect('c2', 'm');
    expect(d.inspect().containers.find((c) => c.name === 'c2')!.sandbox!.endpoints).toHaveLength(2);
    await env.close();

    env = await makeEnv({ profile: 'moby' });
    await env.daemon.networkCreate({ name: 'n', ipv4: [{ subnet: '10.1.0.0/24' }] });
    env.faulty.addRule({ method: 'EndpointOperInfo', occurrence: 1, fault: { kind: 'not-found' } });
    await env.daemon.containerRun({ name: 'c1', networks: [{ network: 'n' }] });
  });
});
