/** Errors of the shared (etcd-backed) IPAM store: answered on the wire as {"Err"}, never a guess. */
import { CnmkitError } from '../../errors.js';

export type StoreErrorCode =
  /** The store did not confirm the change before the call's deadline (no quorum, unreachable). */
  | 'E_STORE_UNAVAILABLE'
  /** `--store` text that is not `etcd://HOST:PORT[,HOST:PORT...]`. */
  | 'E_STORE_URL'
  /** A stored value this version cannot read. */
  | 'E_STORE_CORRUPT';

export class StoreError extends CnmkitError {
  declare readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
