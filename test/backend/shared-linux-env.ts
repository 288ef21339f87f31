/** Test namespaces for the Linux backend: created per test, removed even on failure. */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { uniqueNsKey } from './shared-suite.js';

/** Why the Linux tests cannot run here, or null. */
export function linuxSkipReason(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (ip) is not installed';
  }
  return null;
}

function run(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile(file, args, (err) => resolve(err === null)));
}

let dummyKnown: boolean | undefined;

/** A fresh namespace to play the host, with lo up like a real host's. */
export async function makeTestHostNetns(): Promise<{ key: string; noDummy: boolean }> {
  const key = uniqueNsKey();
  if (!(await run('ip', ['netns', 'add', key]))) throw new Error(`ip netns add ${key} failed`);
  await run('ip', ['-n', key, 'link', 'set', 'lo', 'up']);
  if (dummyKnown === undefined) {
    dummyKnown = await run('ip', ['-n', key, 'link', 'add', 'cnm-probe', 'type', 'dummy']);
    if (dummyKnown) await run('ip', ['-n', key, 'link', 'del', 'cnm-probe']);
  }
  return { key, noDummy: !dummyKnown };
}

/** `ip netns del`, ignoring a namespace that is already gone. */
export async function removeNetns(key: string): Promise<void> {
  if (key.includes('/')) {
    if (existsSync(key)) {
      await run('umount', [key]);
      await run('rm', ['-f', key]);
    }
    return;
  }
  if (existsSync(`/run/netns/${key}`)) await run('ip', ['netns', 'del', key]);
}
