/**
 * Checks a live dockerd <-> plugin session call by call: the reply rules
 * (observe.ts), the IPAM and driver state models, empty-body retries and
 * slow replies. Fed by `cnmkit record`; pure apart from its models (the
 * kernel look-up of Join's SrcName is the caller's: it must happen before
 * dockerd gets the reply, see kernel.ts).
 */
import type { Profile } from '../../src/protocol/constants.js';
import { LiveDriverModel } from './driver-model.js';
import { LiveIpamModel } from './ipam-model.js';
import { type ObservedCall, type ObservedReply, observeCall } from './observe.js';
import type { LiveViolation } from './types.js';

export interface LiveCheckerOptions {
  readonly profile: Profile;
  /** Longest a call may take (a managed plugin's request timeout, protocol.md §1.5); default 30 s. */
  readonly timeoutMs?: number;
}

/** A call whose request was seen and whose reply was not yet. */
export interface PendingCall {
  readonly path: string;
  readonly body: Uint8Array;
  readonly method: string;
  readonly request: Record<string, unknown> | null;
}

export interface CheckedCall extends ObservedCall {
  /** Join's SrcName to look up on the kernel before dockerd gets the reply (null: nothing to look up). */
  readonly srcName: string | null;
}

/** Methods whose empty-body retry, answered as defaults, allocates or creates something a second time. */
const ALLOCATING = new Set(['/IpamDriver.RequestPool', '/IpamDriver.RequestAddress', '/NetworkDriver.CreateNetwork', '/NetworkDriver.CreateEndpoint', '/NetworkDriver.Join']);

/** Calls that only a (re)starting daemon makes: what the models knew may be gone (protocol.md §1.7, §4.7). */
const REGISTRATION = new Set(['/Plugin.Activate', '/NetworkDriver.GetCapabilities', '/IpamDriver.GetCapabilities']);

export class LiveChecker {
  private readonly ipam = new LiveIpamModel();
  private readonly driver: LiveDriverModel;
  private readonly timeoutMs: number;

  constructor(opts: LiveCheckerOptions) {
    this.driver = new LiveDriverModel({ operInfoFatal: opts.profile === 'docker-20.10' });
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** The request is complete and about to reach the plugin. */
  begin(path: string, body: Uint8Array): PendingCall {
    const seen = observeCall(path, body, null);
    const req = seen.request;
    if (seen.iface === 'IpamDriver') this.ipam.begin(seen.method, req);
    else if (seen.iface === 'NetworkDriver') this.driver.begin(seen.method, req);
    return { path, body, method: seen.method, request: req };
  }

  /** The exchange ended: `reply` null when none came (`transportError` says why). */
  end(p: PendingCall, seq: number, reply: ObservedReply | null, durMs: number, transportError?: string): CheckedCall {
    const call = observeCall(p.path, p.body, reply, transportError);
    const v: LiveViolation[] = call.violations;
    if (REGISTRATION.has(p.path) && call.ok) {
      this.ipam.reset();
      this.driver.reset();
    }
    if (call.iface === 'IpamDriver') v.push(...this.ipam.end(seq, call.method, p.request, call.reply, call.ok));
    else if (call.iface === 'NetworkDriver') v.push(...this.driver.end(seq, call.method, p.request, call.reply, call.ok, call.status));
    if (call.ok && p.body.length === 0 && ALLOCATING.has(p.path)) {
      v.push({
        rule: 'protocol.empty-body',
        level: 'should',
        message: `${call.method} with an empty body (dockerd's retry after a timeout or reset, protocol.md §1.5) was answered as a success: read as defaults it allocates a second time; answer 400`,
      });
    }
    if (reply === null && transportError !== undefined) {
      // The plugin dropped dockerd's call (died or cut the reply): dockerd retries it with an empty body (protocol.md §1.5).
      if (/^(upstream-closed|not-http)/.test(transportError)) {
        v.push({ rule: 'protocol.no-reply', level: 'should', message: `${call.method} got no complete reply (${transportError}): dockerd retries it, with an empty body if the first attempt was sent (protocol.md §1.5)` });
      } else if (transportError.startsWith('upstream-unreachable')) {
        v.push({ rule: 'protocol.plugin-unreachable', level: 'should', message: `${call.method} could not reach the plugin (${transportError}): dockerd retries for about 15 s, then fails the command` });
      }
    }
    if (reply !== null && durMs > this.timeoutMs) {
      v.push({ rule: 'protocol.timely-replies', level: 'should', message: `${call.method} took ${(durMs / 1000).toFixed(1)} s: a managed plugin's call times out after ${this.timeoutMs / 1000} s and is retried with an empty body` });
    }
    let srcName: string | null = null;
    if (call.ok && call.method === 'Join' && call.iface === 'NetworkDriver' && call.reply !== null) {
      const names = call.reply['InterfaceName'];
      if (typeof names === 'object' && names !== null) {
        const s = (names as Record<string, unknown>)['SrcName'];
        if (typeof s === 'string' && s !== '') srcName = s;
      }
    }
    return { ...call, srcName };
  }
}
