/**
 * dockerd's retry rule for transport failures and plugin lookups
 * (protocol.md §1.5, pkg/plugins `backoff`/`abort`): before retry k sleep
 * min(2^k, 30) s, unless elapsed + that sleep reaches 30 s. Time is
 * injectable and scalable so tests replay the schedule in milliseconds.
 */

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** A clock whose sleep advances time instantly: deterministic retry schedules. */
export class VirtualClock implements Clock {
  private t = 0;
  /** Every sleep requested, in ms. */
  readonly sleeps: number[] = [];
  constructor(private readonly onSleep?: (ms: number) => void | Promise<void>) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
    await this.onSleep?.(ms);
  }
  /** Advance time without a sleep (e.g. to model a slow attempt). */
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface RetryOptions {
  /** `none`: one attempt (default). `dockerd`: the daemon's backoff. */
  readonly mode?: 'none' | 'dockerd';
  /** Multiplies every delay and the 30 s budget (e.g. 0.001 in tests). Default 1. */
  readonly scale?: number;
  /**
   * Reproduce dockerd's drained-buffer bug: once an attempt got as far as
   * sending, every later attempt carries an empty body (`Content-Length: 0`).
   * Default false (retries resend the body).
   */
  readonly faithful?: boolean;
  readonly clock?: Clock;
}

const SECOND = 1000;
/** `defaultTimeOut` of pkg/plugins: the retry budget. */
export const RETRY_BUDGET_MS = 30 * SECOND;

/** Sleep before retry k (k = 0, 1, ...): min(2^k, 30) s. */
export function backoffMs(k: number, scale = 1): number {
  return Math.min(2 ** Math.min(k, 5), 30) * SECOND * scale;
}

/** dockerd's `abort`: give up when the next sleep would reach the budget. */
export function shouldAbort(elapsedMs: number, nextBackoffMs: number, scale = 1): boolean {
  return elapsedMs + nextBackoffMs >= RETRY_BUDGET_MS * scale;
}

/**
 * The delay before the next attempt, or undefined to give up. `retries` is the
 * number of retries already made.
 */
export function nextDelay(retries: number, startedAt: number, clock: Clock, scale: number): number | undefined {
  const delay = backoffMs(retries, scale);
  return shouldAbort(clock.now() - startedAt, delay, scale) ? undefined : delay;
}
