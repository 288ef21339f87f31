/**
 * Errors of the reference IPAM: a stable cnmkit code, Docker's error class
 * (libnetwork `types`) and Docker's exact text as the message, per profile
 * (ipam-semantics.md §3; moby 24+ lower-cased most texts, §6).
 */
import { CnmkitError } from '../errors.js';

/** libnetwork's error classes (types.BadRequestError etc.). `Untyped` = plain Go error. */
export type DockerErrorClass = 'BadRequest' | 'NotFound' | 'Forbidden' | 'NoService' | 'NotImplemented' | 'Internal' | 'Untyped';

export type IpamProfile = 'docker-20.10' | 'moby';

export type IpamErrorCode =
  | 'E_IPAM_INVALID_POOL_REQUEST'
  | 'E_IPAM_POOL_OVERLAP'
  | 'E_IPAM_UNKNOWN_ADDRESS_SPACE'
  | 'E_IPAM_NO_DEFAULT_POOL_FOR_SPACE'
  | 'E_IPAM_NO_PREDEFINED_POOL'
  | 'E_IPAM_BAD_POOL'
  | 'E_IPAM_INVALID_POOL_ID'
  | 'E_IPAM_POOL_NOT_FOUND'
  | 'E_IPAM_OUT_OF_RANGE'
  | 'E_IPAM_NO_ADDRESSES'
  | 'E_IPAM_ADDRESS_IN_USE'
  | 'E_IPAM_INVALID_ADDRESS'
  | 'E_IPAM_CLOSED';

export class IpamError extends CnmkitError {
  declare readonly code: IpamErrorCode;
  /** Docker's error class for this text. */
  readonly dockerClass: DockerErrorClass;
  constructor(code: IpamErrorCode, dockerClass: DockerErrorClass, message: string) {
    super(code, message);
    this.dockerClass = dockerClass;
  }
}

/** Problems with the state directory (lock, I/O, unreadable snapshot). */
export class IpamStateError extends CnmkitError {
  constructor(code: 'E_STATE_LOCKED' | 'E_STATE_IO' | 'E_STATE_CORRUPT', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Bad `--default-address-pools` value or pool list option. */
export class AddressPoolsError extends CnmkitError {
  constructor(message: string) {
    super('E_IPAM_DEFAULT_POOLS', message);
  }
}

/** Inner texts of the parse wrapper (ipamapi sentinel errors). */
export type PoolRequestProblem = 'space' | 'pool' | 'subpool';

/** Builds the profile's errors; one instance per allocator. */
export class IpamErrors {
  private readonly lower: boolean;
  constructor(readonly profile: IpamProfile) {
    this.lower = profile === 'moby';
  }

  private t(text20: string, textMoby: string): string {
    return this.lower ? textMoby : text20;
  }

  invalidPoolRequest(space: string, pool: string, subPool: string, problem: PoolRequestProblem): IpamError {
    const inner =
      problem === 'space'
        ? this.t('Invalid Address Space', 'invalid address space')
        : problem === 'pool'
          ? this.t('Invalid Address Pool', 'invalid address pool')
          : this.t('Invalid Address SubPool', 'invalid address subpool');
    return new IpamError(
      'E_IPAM_INVALID_POOL_REQUEST',
      'Internal',
      `failed to parse pool request for address space ${goQuote(space)} pool ${goQuote(pool)} subpool ${goQuote(subPool)}: ${inner}`,
    );
  }

  poolOverlap(): IpamError {
    return new IpamError('E_IPAM_POOL_OVERLAP', 'Forbidden', 'Pool overlaps with other one on this address space');
  }

  unknownSpace(space: string): IpamError {
    return new IpamError(
      'E_IPAM_UNKNOWN_ADDRESS_SPACE',
      'BadRequest',
      this.t(`cannot find address space ${space} (most likely the backing datastore is not configured)`, `cannot find address space ${space}`),
    );
  }

  noDefaultPoolForSpace(): IpamError {
    return new IpamError('E_IPAM_NO_DEFAULT_POOL_FOR_SPACE', 'NotImplemented', 'no default pool available for non-default address spaces');
  }

  noPredefinedPool(v6: boolean): IpamError {
    if (this.lower) return new IpamError('E_IPAM_NO_PREDEFINED_POOL', 'BadRequest', 'all predefined address pools have been fully subnetted');
    return new IpamError(
      'E_IPAM_NO_PREDEFINED_POOL',
      'NotFound',
      `could not find an available, non-overlapping IPv${v6 ? 6 : 4} address pool among the defaults to assign to the network`,
    );
  }

  badPool(): IpamError {
    return new IpamError('E_IPAM_BAD_POOL', 'BadRequest', this.t('Address space does not contain specified address pool', 'address space does not contain specified address pool'));
  }

  invalidPoolId(id: string): IpamError {
    return new IpamError('E_IPAM_INVALID_POOL_ID', 'BadRequest', `invalid pool id: ${id}`);
  }

  poolNotFound(id: string): IpamError {
    return new IpamError('E_IPAM_POOL_NOT_FOUND', 'NotFound', `cannot find address pool for poolID:${id}`);
  }

  outOfRange(): IpamError {
    return new IpamError('E_IPAM_OUT_OF_RANGE', 'BadRequest', this.t('Requested address is out of range', 'requested address is out of range'));
  }

  noAddresses(): IpamError {
    return new IpamError('E_IPAM_NO_ADDRESSES', 'NoService', this.t('No available addresses on this pool', 'no available addresses on this pool'));
  }

  addressInUse(): IpamError {
    return new IpamError('E_IPAM_ADDRESS_IN_USE', 'Forbidden', 'Address already in use');
  }

  /** `invalid address: nil` for a missing address; the text as given for an unparsable one. */
  invalidAddress(text: string): IpamError {
    return new IpamError('E_IPAM_INVALID_ADDRESS', 'BadRequest', `invalid address: ${text === '' ? 'nil' : text}`);
  }

  closed(): IpamError {
    return new IpamError('E_IPAM_CLOSED', 'Internal', 'IPAM is closed');
  }
}

/** Go's %q for the printable ASCII texts we quote (escapes \ and "). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}
