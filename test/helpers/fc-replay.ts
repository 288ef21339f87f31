/**
 * Replays a failing property from CI: FC_SEED=<seed> [FC_PATH=<path>] npx vitest run FILE
 * runs every fast-check property of that file with the seed (and shrink path) the
 * failure printed, so a red run on any machine is reproduced exactly.
 */
import fc from 'fast-check';

const seed = process.env.FC_SEED;
if (seed !== undefined && seed !== '') {
  const n = Number(seed);
  if (!Number.isInteger(n)) throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(seed)}`);
  const path = process.env.FC_PATH;
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: n, ...(path ? { path } : {}) });
}
