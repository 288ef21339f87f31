/** Typed errors of the conformance framework (stable codes). */
import { CnmkitError } from '../src/errors.js';
import type { Counterexample } from './types.js';

/** A check found a contract violation. Thrown inside Check.run. */
export class Violation extends CnmkitError {
  readonly checkId: string | undefined;
  readonly counterexample: Partial<Counterexample> | undefined;
  constructor(message: string, checkId?: string, counterexample?: Partial<Counterexample>) {
    super('E_CONFORMANCE_VIOLATION', message);
    this.checkId = checkId;
    this.counterexample = counterexample;
  }
}

/** A check cannot run against this plugin (missing capability, nothing to test). */
export class SkipCheck extends CnmkitError {
  constructor(reason: string) {
    super('E_CONFORMANCE_SKIP', reason);
  }
}

/** The target could not be reached or did not answer the handshake: exit code 2. */
export class TargetUnreachableError extends CnmkitError {
  constructor(message: string, cause?: unknown) {
    super('E_TRANSPORT', message, { cause });
  }
}

/** A replay file could not be read or does not match this cnmkit. */
export class ReplayFileError extends CnmkitError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}
