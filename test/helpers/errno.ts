/** The errno a backend call failed with, or 'ok': the outcome the backend tests compare. */
import { BackendError, type Errno } from '../../src/backend/backend.js';

export async function errnoOf(p: Promise<unknown>): Promise<Errno | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof BackendError) return e.errno;
    throw e;
  }
}
