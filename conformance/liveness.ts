/**
 * Is the plugin still there? After any call that got no answer (a transport
 * error or a timeout) the runner asks once more with a cheap read-only call;
 * no answer to that either means the plugin died or hangs, and the run gives
 * one verdict for it instead of a cascade of "connection refused" failures.
 */
import type { CallSummary, Capability } from './types.js';

/** A cheap read-only method the plugin serves: the IPAM's address spaces, the driver's capabilities, or Plugin.Activate. */
export function servedReadPath(caps: ReadonlySet<Capability>): string {
  return caps.has('ipam') ? '/IpamDriver.GetDefaultAddressSpaces' : caps.has('driver') ? '/NetworkDriver.GetCapabilities' : '/Plugin.Activate';
}

export interface Suspicion {
  readonly call: CallSummary;
  /** What the failed call got (e.g. `ECONNREFUSED ...`, `no reply within 5000 ms`). */
  readonly detail: string;
}

export interface Death extends Suspicion {
  /** What the liveness probe got. */
  readonly probe: string;
}

export class LivenessWatch {
  private pending: Promise<void> | null = null;
  private death: Death | null = null;
  private paused = 0;
  private readonly listeners = new Set<(d: Death) => void>();

  /** `probe` resolves null when the plugin answered, else what went wrong. */
  constructor(private readonly probe: () => Promise<string | null>) {}

  /** A call got no answer: probe (once at a time) unless the plugin is known dead or a restart is under way. */
  suspect(s: Suspicion): void {
    if (this.paused > 0 || this.death !== null || this.pending !== null) return;
    this.pending = (async () => {
      const problem = await this.probe();
      if (problem === null || this.paused > 0) return;
      this.death = { ...s, probe: problem };
      for (const l of this.listeners) l(this.death);
    })().finally(() => {
      this.pending = null;
    });
  }

  /** Waits for a probe in flight; the death found so far, if any. */
  async settled(): Promise<Death | null> {
    while (this.pending !== null) await this.pending;
    return this.death;
  }

  get dead(): Death | null {
    return this.death;
  }

  onDeath(listener: (d: Death) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Run `f` (a deliberate restart) without counting its transport errors as a death. */
  async pause<T>(f: () => Promise<T>): Promise<T> {
    this.paused++;
    try {
      return await f();
    } finally {
      this.paused--;
    }
  }

  /** After a restart: the plugin is alive again. */
  revive(): void {
    this.death = null;
  }
}
