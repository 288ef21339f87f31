/**
 * The one set-up module for tests that create network namespaces on the real
 * kernel (root + iproute2): whether they can run here (looked up without side
 * effects), creating host-like namespaces, and removing whatever a test left
 * behind, even when it failed.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { optedOut } from './skip.js';

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

/** Capabilities missing from this process' effective set (CapEff in /proc/self/status). */
function missingCapabilities(): string[] {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (m === null) return [];
  const eff = BigInt(`0x${m[1]}`);
  const missing: string[] = [];
  if ((eff & (1n << BigInt(CAP_NET_ADMIN))) === 0n) missing.push('CAP_NET_ADMIN');
  if ((eff & (1n << BigInt(CAP_SYS_ADMIN))) === 0n) missing.push('CAP_SYS_ADMIN');
  return missing;
}

/**
 * Why namespace tests cannot run here (not Linux, not root, capabilities
 * dropped, no iproute2, opted out with CNMKIT_SKIP=root), or null. Looks only:
 * it creates nothing.
 */
export function netnsSkipReason(): string | null {
  const out = optedOut('root');
  if (out !== null) return out;
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  const caps = missingCapabilities();
  if (caps.length > 0) return `root without ${caps.join(' and ')} (an unprivileged container?)`;
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (ip) is not installed: run scripts/setup-ci.sh as root';
  }
  return null;
}

/** A fresh name for a test namespace (`cnmt-` + 10 hex digits; the sweep in tests looks for the prefix). */
export function uniqueNetnsKey(): string {
  return `cnmt-${randomBytes(5).toString('hex')}`;
}

/** `ip netns add <key>`; with `loUp`, lo is set up like a real host's. */
export function addNetns(key: string, opts: { loUp?: boolean } = {}): void {
  execFileSync('ip', ['netns', 'add', key]);
  if (opts.loUp) execFileSync('ip', ['-n', key, 'link', 'set', 'lo', 'up']);
}

/**
 * Remove a test namespace, ignoring one that is already gone: a name under
 * /run/netns (`ip netns del`) or a bind-mounted netns file path (unmounted and
 * removed, as dockerd's sandbox keys are).
 */
export function deleteNetnsQuietly(key: string): void {
  const quiet = (file: string, args: string[]): void => {
    try {
      execFileSync(file, args, { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
  if (key.includes('/')) {
    if (existsSync(key)) {
      quiet('umount', [key]);
      quiet('rm', ['-f', key]);
    }
    return;
  }
  if (existsSync(`/run/netns/${key}`)) quiet('ip', ['netns', 'del', key]);
}

/** deleteNetnsQuietly for async clean-up code. */
export async function removeNetns(key: string): Promise<void> {
  deleteNetnsQuietly(key);
}

/** The namespaces this test file made; whatever is still in the set is deleted after all its tests. Call at module level. */
export function trackedNetns(): Set<string> {
  const made = new Set<string>();
  afterAll(() => {
    for (const k of made) deleteNetnsQuietly(k);
  });
  return made;
}

function run(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile(file, args, (err) => resolve(err === null)));
}

let dummyKnown: boolean | undefined;

/**
 * A fresh namespace to play the host, with lo up like a real host's; `noDummy`
 * when this kernel has no dummy links (learnt once, inside the first test namespace).
 */
export async function makeTestHostNetns(): Promise<{ key: string; noDummy: boolean }> {
  const key = uniqueNetnsKey();
  if (!(await run('ip', ['netns', 'add', key]))) throw new Error(`ip netns add ${key} failed`);
  await run('ip', ['-n', key, 'link', 'set', 'lo', 'up']);
  if (dummyKnown === undefined) {
    dummyKnown = await run('ip', ['-n', key, 'link', 'add', 'cnm-probe', 'type', 'dummy']);
    if (dummyKnown) await run('ip', ['-n', key, 'link', 'del', 'cnm-probe']);
  }
  return { key, noDummy: !dummyKnown };
}
