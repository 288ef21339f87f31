/**
 * The shared Backend behaviour suite against the real kernel. Every test runs
 * with its own namespace playing the host (`hostNetns`), so the real host's
 * links are never touched; all namespaces are removed after each test.
 */
import { describe, it } from 'vitest';
import { createLinuxBackend } from '../../src/backend/linux/index.js';
import { defineBackendSuite, uniqueNsKey } from './shared-suite.js';
import { makeTestHostNetns, netnsSkipReason, removeNetns } from '../helpers/netns.js';

const skip = netnsSkipReason();
if (skip !== null) {
  console.log(`shared backend suite (linux) skipped: ${skip}`);
  describe.skip('Backend behaviour: linux', () => it('needs root and iproute2', () => undefined));
} else {
  defineBackendSuite('linux', async () => {
    const host = await makeTestHostNetns();
    const backend = createLinuxBackend({ hostNetns: host.key });
    const keys: string[] = [];
    return {
      backend,
      noDummy: host.noDummy,
      nsKey() {
        const k = uniqueNsKey();
        keys.push(k);
        return k;
      },
      async dispose() {
        await backend.close().catch(() => undefined);
        for (const k of keys) await removeNetns(k);
        await removeNetns(host.key);
      },
    };
  });
}
