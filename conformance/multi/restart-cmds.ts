/**
 * `--restart-cmd` with several targets: given once per target (in target
 * order), or once with `{i}`, replaced by each target's number (1..n), e.g.
 * `--restart-cmd "systemctl restart myplugin@{i}"`. Split on spaces, no shell.
 */
import { UsageError } from '../../src/errors.js';

export function restartCommandsFor(given: readonly string[], targets: number): (string[] | null)[] {
  const split = (cmd: string): string[] => {
    const argv = cmd.split(/\s+/).filter((x) => x !== '');
    if (argv.length === 0) throw new UsageError('--restart-cmd: empty command');
    return argv;
  };
  if (given.length === 0) return Array.from({ length: targets }, () => null);
  if (given.length === 1 && given[0]!.includes('{i}')) return Array.from({ length: targets }, (_, i) => split(given[0]!).map((arg) => arg.replaceAll('{i}', String(i + 1))));
  if (given.length === targets) return given.map(split);
  if (given.length === 1) throw new UsageError(`with ${targets} targets give --restart-cmd once per target, or once with {i} (replaced by the target's number, 1..${targets})`);
  throw new UsageError(`--restart-cmd given ${given.length} times for ${targets} targets: give it once per target, or once with {i}`);
}
