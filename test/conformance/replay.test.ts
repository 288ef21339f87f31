/** A failure's replay file reproduces it against the broken plugin and not against a fixed one. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replay, resendCalls } from '../../conformance/replay.js';
import { socketRawSender } from '../../conformance/raw.js';
import { IpamIds } from '../../conformance/ipam/ids.js';
import { tempDir, type TempDir, withDuplicateFailure } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

describe('replay', () => {
  it('re-runs the shrunk case from seed + path and says whether the violation still shows', async () => {
    await withDuplicateFailure(dir, async ({ broken, fixed, failure, file }) => {
      expect(file.check).toBe(IpamIds.noDuplicate);
      expect(file.path).toBeTruthy();
      expect(file.calls.length).toBe(failure.counterexample!.calls.length);

      const again = await replay(failure.replayPath!, { socket: broken.socketPath });
      expect(again.reproduced).toBe(true);
      expect(again.result!.message).toContain('a second time');
      // Only the one shrunk case runs, not a fresh search.
      const names = (steps: readonly string[]): string[] => steps.map((x) => x.split(' -> ')[0]!);
      expect(names(again.result!.counterexample!.steps)).toEqual(names(failure.counterexample!.steps));

      const onFixed = await replay(file, { socket: fixed.socketPath });
      expect(onFixed.reproduced).toBe(false);

      // The recorded bytes can be re-sent as they are; the broken plugin answers the same statuses.
      const resent = await resendCalls(file, socketRawSender({ socketPath: broken.socketPath }));
      expect(resent.length).toBe(file.calls.length);
      expect(resent[0]!.same).toBe(true);
    });
  });
});
