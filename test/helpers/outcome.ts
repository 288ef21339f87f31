/** The outcome of a call as a comparable string: 'ok', or the stable code of the typed error it failed with. */
import { BackendError, type Errno } from '../../src/backend/backend.js';
import { DriverError } from '../../src/driver/index.js';

/** 'ok' or the errno of a BackendError (anything else is rethrown). */
export async function errnoOf(p: Promise<unknown>): Promise<Errno | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof BackendError) return e.errno;
    throw e;
  }
}

/** 'ok' or the code of a DriverError (anything else is rethrown); `p` may be a plain value. */
export async function driverCodeOf(p: unknown): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof DriverError) return e.code;
    throw e;
  }
}
