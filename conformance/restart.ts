/**
 * Restarting a plugin by `--restart-cmd`: run the command (argv, no shell), then wait
 * until the plugin answers a cheap read-only call again.
 */
import { execFile } from 'node:child_process';
import type { RawSender } from './raw.js';

export class RestartFailed extends Error {}

function run(argv: readonly string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs }, (err, _out, stderr) => resolve(err === null ? null : `${err.message}${stderr ? `: ${stderr.trim()}` : ''}`));
  });
}

/** Poll `path` until the plugin answers (any HTTP reply) or `ms` pass. */
export async function waitForAnswer(raw: RawSender, path: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const r = await raw.send({ path }, { timeoutMs: Math.max(500, Math.min(5_000, until - Date.now())) });
    if (r.kind === 'reply') return true;
    await new Promise((res) => setTimeout(res, 100));
  }
  return false;
}

export function restartByCommand(argv: readonly string[], raw: RawSender, readPath: string): () => Promise<void> {
  return async () => {
    const err = await run(argv, 30_000);
    if (err !== null) throw new RestartFailed(`--restart-cmd failed: ${err}`);
    if (!(await waitForAnswer(raw, readPath, 15_000))) throw new RestartFailed(`the plugin did not answer ${readPath} within 15 s of --restart-cmd`);
  };
}
