/**
 * Join's SrcName on the real kernel: dockerd moves that link into the
 * container right after the reply, so it must exist in dockerd's network
 * namespace when Join answers ("Link not found" otherwise, protocol.md §2.2).
 * The recorder runs in that namespace (it serves dockerd's plugin socket on
 * the same host) and asks `ip` before it forwards the reply.
 */
import { execFile } from 'node:child_process';
import type { LiveViolation } from './types.js';

/** Whether a link of that name exists in this process's network namespace; null when `ip` could not say. */
export function linkExists(name: string, timeoutMs = 5000): Promise<boolean | null> {
  return new Promise((resolve) => {
    execFile('ip', ['-j', 'link', 'show', 'dev', name], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err === null) {
        try {
          const links = JSON.parse(stdout) as unknown;
          resolve(Array.isArray(links) && links.length > 0);
        } catch {
          resolve(null);
        }
        return;
      }
      // `ip` answers "Device "x" does not exist." (exit 1) for a missing link; anything else is no verdict.
      resolve(/does not exist/i.test(String(stderr)) ? false : null);
    });
  });
}

export function missingLinkViolation(srcName: string, joinSeq: number): LiveViolation {
  return {
    rule: 'driver.netns-linux',
    level: 'must',
    message: `Join answered SrcName ${srcName}, but no link of that name exists in the host network namespace: the container start fails ("Link not found") and is rolled back`,
    context: [joinSeq],
  };
}
