/**
 * createPluginHandler: turns a NetworkDriverApi and/or IpamApi object into the
 * protocol side of a plugin server, independent of any transport. Everything
 * is compiled once from the method table (src/protocol/methods.ts): one route
 * record per served path with its bound validator; a call does one Map lookup,
 * one JSON.parse, one validation and one handler call, and answers without a
 * microtask when the handler is synchronous.
 *
 * Wire choices (protocol.md §1.4, §1.6, §6):
 * - every reply is JSON + `\n` with Content-Type application/vnd.docker.plugins.v1.1+json;
 * - unimplemented or unknown path: 404 `{"Err":"404 page not found"}` (the daemon
 *   shows the same text as for Go's mux, and only looks at the status);
 * - handler failure: 500 `{"Err": message}` (or a PluginError's status), which the
 *   daemon reads for NetworkDriver and IpamDriver alike;
 * - bad request: 400 `{"Err": "..."}` naming the field; wrong HTTP method: 405;
 * - argument-less methods (Activate, GetCapabilities, GetDefaultAddressSpaces)
 *   ignore the body; a method with arguments and an empty body (dockerd's retry
 *   bug, protocol.md §1.5) gets 400 saying so.
 * - GwAllocCheck is served when the driver implements `gwAllocCheck`, like every
 *   other optional method; a `profile` narrows the served set to the methods the
 *   daemon of that profile may call (GwAllocCheck is 'moby'-only).
 */
import type { CallContext, IpamApi, NetworkDriverApi } from '../protocol/api.js';
import { CONTENT_TYPE, DEFAULT_BODY_LIMIT, IPAM_DRIVER, NETWORK_DRIVER, type PluginInterface, type Profile } from '../protocol/constants.js';
import { ALL_METHODS, type MethodSpec } from '../protocol/methods.js';
import type { RawHandler, RawReply, RawRequest } from '../protocol/raw.js';
import { formatPath, validatorOf, type Validator } from '../protocol/schema.js';
import { PluginError, SdkOptionsError } from './errors.js';

export interface PluginHandlerOptions {
  driver?: NetworkDriverApi;
  ipam?: IpamApi;
  /** Serve only the methods a daemon of this profile may call (default: every implemented method). */
  profile?: Profile;
  /** Largest accepted request body in bytes (default 1 MiB); larger ones get 413. */
  bodyLimit?: number;
  /**
   * Check every handler result against the response schema and answer 500 when
   * it does not match (debugging aid; it costs a validation per call). Default:
   * off, or on when the environment has CNMKIT_VALIDATE_RESPONSES=1.
   */
  validateResponses?: boolean;
}

/** A reply as the server writes it: the body is always JSON text ending in `\n`. */
export interface WireReply {
  readonly status: number;
  readonly body: string;
}

/** Where a call's abort signal comes from; the HTTP layer makes one per call, lazily. */
export interface SignalSource {
  readonly signal: AbortSignal;
}

/** The protocol handler: a RawHandler plus the allocation-light entry the SDK's HTTP server uses. */
export interface PluginHandler extends RawHandler {
  /** Interfaces announced by /Plugin.Activate, in manifest order. */
  readonly implements: readonly PluginInterface[];
  readonly bodyLimit: number;
  /** Served paths (Activate included). */
  readonly paths: readonly string[];
  /** Synchronous when the handler is; never throws, never rejects. */
  dispatch(method: string, path: string, body: Uint8Array, signals: SignalSource): WireReply | Promise<WireReply>;
}

type HandlerFn = (this: unknown, ...args: unknown[]) => unknown;

interface Route {
  readonly spec: MethodSpec;
  readonly target: object;
  readonly fn: HandlerFn;
  /** null for argument-less methods. */
  readonly validate: Validator | null;
  readonly validateResponse: Validator;
  /** `IpamDriver.RequestAddress`, for messages. */
  readonly label: string;
}

const NEVER_ABORTED: SignalSource = { signal: new AbortController().signal };

export const NOT_FOUND_BODY = '{"Err":"404 page not found"}\n';
const EMPTY_OBJECT_BODY = '{}\n';
const NOT_FOUND: WireReply = { status: 404, body: NOT_FOUND_BODY };
const METHOD_NOT_ALLOWED: WireReply = { status: 405, body: errBody('method not allowed: plugin calls are POST requests') };
const REPLY_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': CONTENT_TYPE });

export function errBody(message: string): string {
  return `${JSON.stringify({ Err: message })}\n`;
}

export function errReply(status: number, message: string): WireReply {
  return { status, body: errBody(message) };
}

/** Per-call context; `signal` is fetched only if the handler reads it. */
class Context implements CallContext {
  private cached: AbortSignal | null = null;
  constructor(
    readonly path: string,
    private readonly source: SignalSource,
  ) {}
  get signal(): AbortSignal {
    return (this.cached ??= this.source.signal);
  }
}

/** Build the protocol handler for a driver and/or an IPAM object. */
export function createPluginHandler(options: PluginHandlerOptions): PluginHandler {
  const { driver, ipam, profile } = options;
  if (driver === undefined && ipam === undefined) {
    throw new SdkOptionsError('createPluginHandler needs a driver, an ipam object, or both');
  }
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 0) {
    throw new SdkOptionsError(`bodyLimit must be a non-negative integer, got ${String(options.bodyLimit)}`);
  }
  const implementsList: PluginInterface[] = [];
  if (driver !== undefined) implementsList.push(NETWORK_DRIVER);
  if (ipam !== undefined) implementsList.push(IPAM_DRIVER);
  const activateReply: WireReply = { status: 200, body: `${JSON.stringify({ Implements: implementsList })}\n` };

  const routes = new Map<string, Route>();
  for (const spec of ALL_METHODS) {
    if (spec.iface === 'Plugin') continue;
    if (profile !== undefined && !spec.profiles.includes(profile)) continue;
    const target: object | undefined = spec.iface === 'NetworkDriver' ? driver : ipam;
    if (target === undefined) continue;
    const fn = (target as Record<string, unknown>)[spec.handler];
    if (typeof fn !== 'function') continue;
    routes.set(spec.path, {
      spec,
      target,
      fn: fn as HandlerFn,
      validate: spec.request === null ? null : validatorOf(spec.request),
      validateResponse: validatorOf(spec.response),
      label: spec.path.slice(1),
    });
  }
  const validateResponses = options.validateResponses ?? process.env['CNMKIT_VALIDATE_RESPONSES'] === '1';
  const paths = ['/Plugin.Activate', ...routes.keys()];

  function finish(route: Route, result: unknown): WireReply {
    if (result === undefined || result === null) {
      if (validateResponses && route.validateResponse({}) !== null) {
        return errReply(500, `${route.label}: handler returned nothing but the reply needs fields`);
      }
      return { status: 200, body: EMPTY_OBJECT_BODY };
    }
    if (validateResponses) {
      const issue = route.validateResponse(result);
      if (issue !== null) {
        const where = issue.path.length === 0 ? 'body' : `field ${formatPath(issue.path)}`;
        return errReply(500, `${route.label}: handler returned an invalid reply: ${where}: expected ${issue.expected}, got ${issue.got}`);
      }
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(result);
    } catch (e) {
      return errReply(500, `${route.label}: handler result is not JSON-serializable: ${messageOf(e)}`);
    }
    if (json === undefined) return errReply(500, `${route.label}: handler result is not JSON-serializable`);
    return { status: 200, body: `${json}\n` };
  }

  function failed(route: Route, e: unknown): WireReply {
    const status = e instanceof PluginError ? e.status : 500;
    const msg = messageOf(e);
    return errReply(status, msg === '' ? `${route.label} failed` : msg);
  }

  function dispatch(method: string, path: string, body: Uint8Array, signals: SignalSource): WireReply | Promise<WireReply> {
    const q = path.indexOf('?');
    if (q >= 0) path = path.slice(0, q);
    if (path === '/Plugin.Activate') return method === 'POST' ? activateReply : METHOD_NOT_ALLOWED;
    const route = routes.get(path);
    if (route === undefined) return NOT_FOUND;
    if (method !== 'POST') return METHOD_NOT_ALLOWED;
    const ctx = new Context(route.spec.path, signals);
    let result: unknown;
    try {
      if (route.validate === null) {
        result = route.fn.call(route.target, ctx);
      } else {
        if (body.length > bodyLimit) return errReply(413, `request body of ${body.length} bytes exceeds the limit of ${bodyLimit}`);
        const parsed = parseBody(route, body);
        if (parsed instanceof BadRequest) return errReply(400, parsed.message);
        result = route.fn.call(route.target, parsed, ctx);
      }
    } catch (e) {
      return failed(route, e);
    }
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      return Promise.resolve(result).then(
        (value) => finish(route, value),
        (e: unknown) => failed(route, e),
      );
    }
    return finish(route, result);
  }

  async function handle(req: RawRequest, signal?: AbortSignal): Promise<RawReply> {
    const reply = await dispatch(req.method, req.path, req.body, signal === undefined ? NEVER_ABORTED : { signal });
    return toRawReply(reply);
  }

  return { implements: implementsList, bodyLimit, paths, dispatch, handle };
}

export function toRawReply(reply: WireReply): RawReply {
  const headers: Record<string, string> = { ...REPLY_HEADERS };
  if (reply.status === 405) headers['allow'] = 'POST';
  return { status: reply.status, headers, body: Buffer.from(reply.body, 'utf8') };
}

class BadRequest {
  constructor(readonly message: string) {}
}

function bytesToString(body: Uint8Array): string {
  return Buffer.isBuffer(body) ? body.toString('utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

/** Only JSON whitespace (what an empty body with a newline looks like). */
function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return false;
  }
  return true;
}

function parseBody(route: Route, body: Uint8Array): unknown {
  const text = bytesToString(body);
  if (isBlank(text)) {
    return new BadRequest(
      `empty request body: ${route.label} needs a JSON object (dockerd resends an empty body when it retries a call; make the call idempotent)`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return new BadRequest(`malformed JSON body: ${messageOf(e)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return new BadRequest(`body: expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`);
  }
  // Own `__proto__` keys from JSON.parse are harmless until someone Object.assigns them; drop them.
  if (text.includes('proto')) {
    // `__proto__` or `prototype` somewhere in the text.
    try {
      stripPollution(value);
    } catch {
      return new BadRequest('body: nested too deeply');
    }
  }
  const issue = route.validate!(value);
  if (issue !== null) {
    const where = issue.path.length === 0 ? 'body' : `field ${formatPath(issue.path)}`;
    return new BadRequest(`${where}: expected ${issue.expected}, got ${issue.got}`);
  }
  return value;
}

/** Remove `__proto__` keys and `constructor: {prototype: ...}` anywhere in a parsed JSON value. */
export function stripPollution(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) stripPollution(item);
    return;
  }
  const obj = value as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(obj, '__proto__')) delete obj['__proto__'];
  const ctor = Object.prototype.hasOwnProperty.call(obj, 'constructor') ? obj['constructor'] : undefined;
  if (ctor !== null && typeof ctor === 'object' && Object.prototype.hasOwnProperty.call(ctor, 'prototype')) delete obj['constructor'];
  for (const k of Object.keys(obj)) stripPollution(obj[k]);
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  try {
    return String(e);
  } catch {
    return 'handler failed';
  }
}
