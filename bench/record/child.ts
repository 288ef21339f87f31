/**
 * One process of bench/record (as in production, dockerd, the recorder and the
 * plugin are separate processes): `plugin SOCKET` serves the in-memory IPAM
 * with the SDK; `proxy|check|record SOCKET UPSTREAM [TRACE]` serves the
 * recorder's proxy alone, with the live checker, or the full recorder.
 * Prints "ready" once listening; stops on SIGTERM.
 */
import { servePlugin } from '../../src/sdk/index.js';
import { preferLatencyGc } from '../../src/sdk/gc.js';
import { memoryIpam } from '../server/main.js';
import { startProxy } from '../../src/record/proxy.js';
import { startRecorder } from '../../conformance/live/recorder.js';
import { LiveChecker } from '../../conformance/live/checker.js';

const [mode, socket, upstream, trace] = process.argv.slice(2);
let stop: () => Promise<unknown>;
if (mode === 'plugin') {
  const server = await servePlugin({ ipam: memoryIpam(), listen: { socket: socket! } });
  stop = () => server.close();
} else if (mode === 'proxy') {
  preferLatencyGc();
  const p = await startProxy({ listen: { path: socket! }, upstream: { path: upstream! }, hooks: { request: () => null, end: () => undefined } });
  stop = () => p.close();
} else if (mode === 'check') {
  preferLatencyGc();
  const checker = new LiveChecker({ profile: 'docker-20.10' });
  let seq = 0;
  const p = await startProxy({
    listen: { path: socket! },
    upstream: { path: upstream! },
    hooks: {
      request: (_c, m) => checker.begin(m.head.path, m.body),
      end: (pending, o) => {
        const reply = 'reply' in o ? { status: o.reply.head.status, headers: {}, body: o.reply.body } : null;
        checker.end(pending, ++seq, reply, 0);
      },
    },
  });
  stop = () => p.close();
} else if (mode === 'record') {
  const r = await startRecorder({ name: 'bench', socket: socket!, upstream: { kind: 'socket', address: upstream!, dial: { path: upstream! } }, out: trace!, profile: 'docker-20.10', level: 'should', kernel: false });
  stop = async () => {
    const s = await r.stop();
    process.stdout.write(`summary ${JSON.stringify(s.violations)}\n`);
  };
} else {
  throw new Error(`unknown mode ${mode}`);
}
process.stdout.write('ready\n');
process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
