/**
 * Whether dockerd takes a reply as success, judged the same way for the
 * recorded reply and the replayed one (protocol.md §1.4, plus the fields
 * dockerd parses right after decoding: a RequestPool Pool and a
 * RequestAddress Address that are not CIDRs fail the command).
 */
import { interpretReply } from '../../src/client/interpret.js';
import { methodByPath, type MethodSpec } from '../../src/protocol/methods.js';
import { parseCidrWithAddress } from '../cidr.js';

export type ReplyReading =
  | { readonly ok: true; readonly value: Record<string, unknown> }
  | { readonly ok: false; readonly error: string };

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The fields dockerd parses right after decoding; a failure there fails the call. */
function afterDecode(spec: MethodSpec, v: Record<string, unknown>): string | null {
  if (spec.iface === 'IpamDriver' && spec.method === 'RequestPool') {
    const pool = v['Pool'];
    if (typeof pool !== 'string' || parseCidrWithAddress(pool) === null) return `invalid CIDR address: ${String(pool ?? '')}`;
  }
  if (spec.iface === 'IpamDriver' && spec.method === 'RequestAddress') {
    const a = v['Address'];
    if (typeof a !== 'string' || a === '') return 'no address returned';
    if (parseCidrWithAddress(a) === null) return `invalid CIDR address: ${a}`;
  }
  if (spec.iface === 'NetworkDriver' && spec.method === 'CreateEndpoint') {
    const i = v['Interface'];
    if (isRecord(i)) {
      for (const k of ['Address', 'AddressIPv6']) {
        const a = i[k];
        if (typeof a === 'string' && a !== '' && parseCidrWithAddress(a) === null) return `invalid ${k} ${a}`;
      }
    }
  }
  return null;
}

/** dockerd's reading of one reply to `path`; `reply` undefined = no reply arrived. */
export function readReply(path: string, reply: { status: number; headers: Readonly<Record<string, string>>; body: Uint8Array } | undefined, noReply = 'no reply'): ReplyReading {
  if (reply === undefined) return { ok: false, error: noReply };
  const spec = methodByPath(path);
  if (spec === undefined) {
    // A path dockerd never calls: success is a 200, nothing more is known.
    return reply.status === 200 ? { ok: true, value: {} } : { ok: false, error: `status ${reply.status}` };
  }
  const r = interpretReply(spec, { status: reply.status, headers: { ...reply.headers }, body: reply.body });
  if (r.outcome === 'not-implemented' && (spec.on404 === 'ignored' || spec.on404 === 'no-capabilities')) return { ok: true, value: {} };
  if (r.outcome !== 'ok') return { ok: false, error: r.message };
  const value = isRecord(r.value) ? r.value : {};
  const bad = afterDecode(spec, value);
  return bad === null ? { ok: true, value } : { ok: false, error: bad };
}

/** Header pairs as a lower-case record (the first value of each name). */
export function headerRecord(pairs: readonly (readonly [string, string])[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of pairs) if (!(k.toLowerCase() in out)) out[k.toLowerCase()] = v;
  return out;
}
