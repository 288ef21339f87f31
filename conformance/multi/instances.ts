/**
 * The instances of one plugin on different hosts, as the multi suite sees them
 * within one check: instance A is the runner's own target (ctx.caller), the
 * others are peers handed to `multiSuite()`. Every call on any instance is
 * journaled with the instance's label, so a failure shows who answered what
 * and the reproducer sends each call to the right socket.
 */
import type { CallRecord, PluginCaller } from '../../src/client/types.js';
import { curlReproducer, summarizeRecord } from '../counterexample.js';
import type { RawSender } from '../raw.js';
import type { Target } from '../target.js';
import type { CallSummary, CheckContext, Counterexample } from '../types.js';

/** Another instance of the plugin (host B, C, ...), shared by every check of a run. */
export interface MultiPeer {
  /** `B`, `C`, ... */
  readonly label: string;
  readonly target: Target;
  /** The peer's long-lived connection (opened on first use, closed by the caller of runSuites). */
  caller(): Promise<PluginCaller>;
  /** Raw sender for curl reproducers and restart waits. */
  readonly raw: RawSender;
  /** Kill and start this instance again (null: the checker cannot). */
  readonly restart: (() => Promise<void>) | null;
}

export interface Instance {
  readonly label: string;
  readonly description: string;
  readonly caller: PluginCaller;
  /** A fresh connection to this instance, journaled, closed when the check ends. */
  connect(): Promise<PluginCaller>;
  readonly curlPrefix: readonly string[] | null;
  readonly restart: (() => Promise<void>) | null;
}

interface Entry {
  readonly label: string;
  readonly record: CallRecord;
}

/** The instances of one check run, with the journal of their calls. */
export class Cluster {
  readonly instances: readonly Instance[];
  private readonly entries: Entry[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  private readonly extra: PluginCaller[] = [];
  private readonly prefixes = new Map<string, readonly string[] | null>();

  private constructor(
    private readonly ctx: CheckContext,
    build: (cluster: Cluster) => Instance[],
  ) {
    this.instances = build(this);
    for (const i of this.instances) this.prefixes.set(i.label, i.curlPrefix);
  }

  static async open(ctx: CheckContext, peers: readonly MultiPeer[], description: string): Promise<Cluster> {
    const callers = await Promise.all(peers.map((p) => p.caller()));
    return new Cluster(ctx, (cluster) => {
      const watch = (label: string, c: PluginCaller): PluginCaller => cluster.watch(label, c);
      return [
      {
        label: 'A',
        description,
        caller: watch('A', ctx.caller),
        connect: async () => watch('A', await ctx.connect()),
        curlPrefix: ctx.raw.curlPrefix,
        restart: ctx.restartPlugin,
      },
      ...peers.map((p, i): Instance => ({
        label: p.label,
        description: p.target.description,
        caller: watch(p.label, callers[i]!),
        connect: async () => cluster.ownExtra(watch(p.label, await p.target.connect({ timeoutMs: ctx.config.timeoutMs, profile: ctx.config.profile }))),
        curlPrefix: p.raw.curlPrefix,
        restart: p.restart,
      })),
      ];
    });
  }

  private ownExtra(c: PluginCaller): PluginCaller {
    this.extra.push(c);
    return c;
  }

  private watch(label: string, c: PluginCaller): PluginCaller {
    this.unsubscribe.push(c.onCall((record) => this.entries.push({ label, record })));
    return c;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Calls since `from` (an earlier `size`), labelled. */
  since(from: number): readonly Entry[] {
    return this.entries.slice(from);
  }

  /** The calls of these records (or the last 12), as a counterexample: labelled steps, calls, per-instance curl lines. */
  evidence(records?: readonly CallRecord[]): Pick<Counterexample, 'calls' | 'reproducer'> & { labels: string[] } {
    const chosen = records ? this.entries.filter((e) => records.includes(e.record)) : this.entries.slice(-12);
    const calls: CallSummary[] = chosen.map((e) => summarizeRecord(e.record));
    const lines: string[] = [];
    chosen.forEach((e, i) => {
      const curl = curlReproducer([calls[i]!], this.prefixes.get(e.label) ?? null);
      if (curl !== undefined) lines.push(`# instance ${e.label}`, curl);
    });
    return { calls, labels: chosen.map((e) => e.label), ...(lines.length > 0 ? { reproducer: lines.join('\n') } : {}) };
  }

  /**
   * Fail the check with these calls (default: the last ones) as evidence. Steps given by the
   * check tell the story; without them each call becomes a step naming its instance.
   */
  fail(message: string, steps: readonly string[] = [], records?: readonly CallRecord[]): never {
    const ev = this.evidence(records);
    const callSteps = steps.length > 0 ? [] : ev.calls.map((c, i) => `instance ${ev.labels[i]}: POST ${c.path} -> ${c.status ?? c.outcome}`);
    this.ctx.fail(message, { steps: [...steps, ...callSteps], calls: ev.calls, ...(ev.reproducer !== undefined ? { reproducer: ev.reproducer } : {}) });
  }

  /** Stop journaling and close the check's extra peer connections (A's extra connections are the runner's). */
  async close(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    for (const c of this.extra.splice(0)) await c.close().catch(() => {});
  }
}

export function instanceName(i: Instance): string {
  return `instance ${i.label} (${i.description})`;
}
