/**
 * Waiting on what a test can observe instead of on the clock: a sleep either
 * wastes time or, on a busy machine, ends before the thing it waits for, and
 * the test then passes without exercising it.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Resolves when `cond()` holds, checking once per event-loop turn (after the
 * turn's I/O); rejects naming `what` after `maxTurns` turns.
 */
export async function until(cond: () => boolean, what: string, maxTurns = 200_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    await nextTurn();
  }
  throw new Error(`gave up waiting for ${what} after ${maxTurns} event-loop turns`);
}

/**
 * Resolves once `probe()` has returned the same value for `quietTurns`
 * event-loop turns in a row: the in-process peers (a server and its test
 * clients on unix sockets, whose bytes move at once) have nothing left to do.
 */
export async function settled(probe: () => unknown, quietTurns = 20, maxTurns = 200_000): Promise<void> {
  let last = probe();
  let quiet = 0;
  for (let i = 0; i < maxTurns && quiet < quietTurns; i++) {
    await nextTurn();
    const now = probe();
    quiet = Object.is(now, last) ? quiet + 1 : 0;
    last = now;
  }
  if (quiet < quietTurns) throw new Error(`still changing after ${maxTurns} event-loop turns`);
}
