/** Typed errors of the plugin server SDK. */
import { CnmkitError } from '../errors.js';

/**
 * Thrown by a handler to fail a call with a chosen HTTP status (default 500).
 * The daemon only distinguishes 200, 404 and "anything else"; the message
 * becomes the `Err` of the reply and what `docker` prints after `remote:`.
 */
export class PluginError extends CnmkitError {
  readonly status: number;
  constructor(message: string, options: { status?: number; code?: string; cause?: unknown } = {}) {
    super(options.code ?? 'E_PLUGIN', message, options.cause === undefined ? undefined : { cause: options.cause });
    const status = options.status ?? 500;
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`PluginError status must be an integer in 400..599, got ${status}`);
    }
    this.status = status;
  }
}

/** Another process already serves the unix socket path. */
export class SocketInUseError extends CnmkitError {
  readonly path: string;
  constructor(path: string) {
    super('E_SOCKET_IN_USE', `socket ${path} is in use by a live server; stop it or choose another name`);
    this.path = path;
  }
}

/** The socket path exists but is not a socket (never deleted for you), or is too long. */
export class SocketPathError extends CnmkitError {
  readonly path: string;
  constructor(path: string, why: string) {
    super('E_SOCKET_PATH', `socket path ${path}: ${why}`);
    this.path = path;
  }
}

/** Bad options passed to createPluginHandler / servePlugin. */
export class SdkOptionsError extends CnmkitError {
  constructor(message: string) {
    super('E_SDK_OPTIONS', message);
  }
}
