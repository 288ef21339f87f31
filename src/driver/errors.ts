/**
 * Errors of the reference driver. The message is what the daemon shows after
 * `remote:`; `code` says which rule was broken.
 */
import { CnmkitError } from '../errors.js';

export type DriverErrorCode =
  /** A request field is malformed (CIDR, MAC, missing id). */
  | 'E_DRIVER_REQUEST'
  /** A network or endpoint option is unknown (cnmkit.*) or has a bad value. */
  | 'E_DRIVER_OPTION'
  /** Unknown network or endpoint id. */
  | 'E_DRIVER_NOT_FOUND'
  /** The id exists with a different request, or a name is taken. */
  | 'E_DRIVER_CONFLICT'
  /** The object is in use (network with endpoints, endpoint joined to another sandbox). */
  | 'E_DRIVER_BUSY'
  /** The backend refused; `cause` is the BackendError. */
  | 'E_DRIVER_BACKEND'
  /** The state store failed to load or save. */
  | 'E_DRIVER_STATE';

export class DriverError extends CnmkitError {
  declare readonly code: DriverErrorCode;
  constructor(code: DriverErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
