/**
 * The young-generation GC setting a plugin server wants.
 *
 * V8 runs scavenges (the frequent young-generation collections) on helper
 * threads in parallel with the main thread, and the main thread waits for all
 * of them. On a small host that is busy (2 cores, the daemon and containers
 * running) a helper thread is often not scheduled for a few milliseconds, so a
 * scavenge that takes 0.3 ms of work stops the server for 3 to 50 ms; every call
 * in flight then waits. Measured with the bench/server load (16 clients) on a
 * 2-core machine with load average 8-14: scavenge pauses p90 2-12 ms with
 * parallel scavenging, 0.6-0.7 ms without it; client-side p99 2.7-3.9 ms
 * against 1.6-1.8 ms. On an idle machine both settings measure the same.
 *
 * The setting is process-wide; a plugin process serves, so servePlugin applies
 * it unless told not to (`latencyGc: false`) or the process was started with
 * its own choice (`--parallel-scavenge`, `--no-parallel-scavenge` or
 * `--single-threaded-gc` among the node flags).
 */
import { setFlagsFromString } from 'node:v8';

const OWN_CHOICE = /--(?:no-)?parallel[-_]scavenge\b|--single[-_]threaded[-_]gc\b/;

let applied = false;

/** Scavenge on the main thread only. Returns false when the process already made its own choice. */
export function preferLatencyGc(): boolean {
  if (applied) return true;
  // Node refuses these V8 flags in NODE_OPTIONS, so the command line is the only place for them.
  if (OWN_CHOICE.test(process.execArgv.join(' '))) return false;
  setFlagsFromString('--no-parallel-scavenge');
  applied = true;
  return true;
}
