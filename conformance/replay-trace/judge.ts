/**
 * The model that judges a replay: the live checker's spec-level models
 * (conformance/live, the same `cnmkit record` checks every call with) fed
 * with the replayed calls, one at a time, in the recorded order. What the
 * recording itself broke does not count; only what the plugin does now.
 */
import type { Profile } from '../../src/protocol/constants.js';
import { LiveDriverModel } from '../live/driver-model.js';
import { LiveIpamModel } from '../live/ipam-model.js';
import { observeCall } from '../live/observe.js';
import type { ReplayedCall, ReplayJudge, ReplayVerdict } from './engine.js';

export function replayJudge(profile: Profile = 'docker-20.10'): ReplayJudge {
  const ipam = new LiveIpamModel();
  const driver = new LiveDriverModel({ operInfoFatal: profile === 'docker-20.10' });
  /**
   * The number the model knows a call by -> its seq label. The recorded seq
   * when it is a plain number not used yet (so the model's own texts, "handed
   * out by call 8", name the trace's seq), else a number of its own.
   */
  const labels = new Map<number, string>();
  let spare = 1_000_000;
  return {
    observe(c: ReplayedCall): ReplayVerdict[] {
      const plain = /^\d+$/.test(c.seq) ? Number(c.seq) : NaN;
      const index = Number.isSafeInteger(plain) && !labels.has(plain) ? plain : spare++;
      labels.set(index, c.seq);
      const o = observeCall(c.path, Buffer.from(c.body, 'utf8'), c.reply === null ? null : { status: c.reply.status, headers: c.reply.headers, body: Buffer.from(c.reply.body, 'utf8') }, c.reading.ok ? undefined : c.reading.error);
      let model: ReturnType<LiveIpamModel['end']> = [];
      if (o.iface === 'IpamDriver') {
        ipam.begin(o.method, o.request);
        model = ipam.end(index, o.method, o.request, o.reply, o.ok);
      } else if (o.iface === 'NetworkDriver') {
        driver.begin(o.method, o.request);
        model = driver.end(index, o.method, o.request, o.reply, o.ok, o.status);
      }
      return [...o.violations, ...model].map((v) => ({
        rule: v.rule,
        level: v.level,
        message: v.context !== undefined && v.context.length > 0 ? `${v.message} (see seq ${v.context.map((i) => labels.get(i) ?? String(i)).join(', ')})` : v.message,
      }));
    },
  };
}
