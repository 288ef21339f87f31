/**
 * Set-up shared by the tests that create network namespaces on the real kernel
 * (root + iproute2): whether they can run here, creating host-like namespaces,
 * and removing whatever a test file left behind, even when it failed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';

/** Why namespace tests cannot run here (not Linux, not root, no iproute2, `ip netns add` fails), or null. */
export function netnsSkipReason(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    const probe = `cnmt-probe-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  } catch {
    return 'cannot create network namespaces';
  }
  return null;
}

/** `ip netns add <key>`; with `loUp`, lo is set up like a real host's. */
export function addNetns(key: string, opts: { loUp?: boolean } = {}): void {
  execFileSync('ip', ['netns', 'add', key]);
  if (opts.loUp) execFileSync('ip', ['-n', key, 'link', 'set', 'lo', 'up']);
}

/** `ip netns del <key>`, ignoring a namespace that is already gone. */
export function deleteNetnsQuietly(key: string): void {
  try {
    execFileSync('ip', ['netns', 'del', key], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/** The namespaces this test file made; whatever is still in the set is deleted after all its tests. Call at module level. */
export function trackedNetns(): Set<string> {
  const made = new Set<string>();
  afterAll(() => {
    for (const k of made) deleteNetnsQuietly(k);
  });
  return made;
}
