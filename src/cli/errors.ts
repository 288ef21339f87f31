import { CnmkitError, UsageError } from '../errors.js';

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_VIOLATIONS = 1;
export const EXIT_USAGE = 2;

/** Error codes that mean "could not reach or start the target": exit 2 like usage errors. */
const UNREACHABLE_CODES = new Set(['E_USAGE', 'E_PLUGIN_NOT_FOUND', 'E_TRANSPORT', 'E_TIMEOUT', 'E_SOCKET_IN_USE', 'E_STATE_LOCKED']);

/** Print one line and exit: usage / unreachable -> 2, anything else -> 1. */
export function exitWithError(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n')[0];
  process.stderr.write(`cnmkit: ${firstLine}\n`);
  if (process.env['CNMKIT_DEBUG'] && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  const code = err instanceof UsageError || (err instanceof CnmkitError && UNREACHABLE_CODES.has(err.code)) ? EXIT_USAGE : 1;
  process.exit(code);
}
