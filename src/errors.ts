/**
 * Typed errors with stable codes. Every error cnmkit raises on purpose is a
 * CnmkitError; `code` is part of the public API and never changes meaning.
 */
export class CnmkitError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A request or response did not match the protocol schema. */
export class ValidationError extends CnmkitError {
  /** Dotted path of the offending field, e.g. `IPv4Data[0].Pool` ("" = the whole body). */
  readonly field: string;
  readonly expected: string;
  constructor(field: string, expected: string, got: string) {
    super(
      'E_VALIDATION',
      field === '' ? `body: expected ${expected}, got ${got}` : `field ${field}: expected ${expected}, got ${got}`,
    );
    this.field = field;
    this.expected = expected;
  }
}

/** Bad user input on the CLI or in a config object. */
export class UsageError extends CnmkitError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}
