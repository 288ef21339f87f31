/** One-line descriptions of recorded calls and violations (what the console prints). */
import type { TraceCall, TraceViolation } from './trace.js';

const KEY_ARGS = ['PoolID', 'AddressSpace', 'Pool', 'SubPool', 'Address', 'V6', 'NetworkID', 'EndpointID'] as const;
const KEY_REPLY = ['PoolID', 'Pool', 'Address', 'InterfaceName', 'Gateway', 'Interface', 'Implements', 'Err', 'Error'] as const;

function obj(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function shortValue(key: string, v: unknown): string {
  // dockerd's 64-hex network/endpoint ids shown as docker shows them (12 characters); PoolIDs are the plugin's and stay whole.
  if (typeof v === 'string') return JSON.stringify(/^[0-9a-f]{64}$/.test(v) ? `${v.slice(0, 12)}…` : v.length > 80 ? `${v.slice(0, 77)}…` : v);
  const text = JSON.stringify(v) ?? 'null';
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** `#12 RequestAddress PoolID="p1" Address="" gw -> {"Address":"10.0.0.2/24"}` */
export function describeCall(c: Pick<TraceCall, 'seq' | 'call' | 'reply' | 'error'>): string {
  const parts = [`#${c.seq}`, c.call.method];
  const req = obj(c.call.request);
  if (req !== null) {
    for (const k of KEY_ARGS) {
      if (!(k in req)) continue;
      const v = req[k];
      if (v === '' || v === false || v === null) continue;
      parts.push(`${k}=${shortValue(k, v)}`);
    }
    const opts = obj(req['Options']);
    if (opts !== null && opts['RequestAddressType'] === 'com.docker.network.gateway') parts.push('(gateway)');
  }
  let outcome: string;
  if (c.error !== undefined) outcome = `(${c.error.kind})`;
  else if (!c.call.ok) outcome = `error ${c.reply?.status ?? ''}: ${(c.call.err ?? '').slice(0, 120)}`;
  else {
    const rep = obj(c.call.reply);
    const shown: string[] = [];
    if (rep !== null) for (const k of KEY_REPLY) if (k in rep && rep[k] !== '' && rep[k] !== null && rep[k] !== undefined) shown.push(`${k}=${shortValue(k, rep[k])}`);
    outcome = shown.length > 0 ? shown.join(' ') : 'ok';
  }
  return `${parts.join(' ')} -> ${outcome}`;
}

/** `[must] ipam.no-duplicate-address: <message> | call: #17 ... | context: #9 ...` */
export function describeViolation(v: TraceViolation, call: string, context: readonly string[]): string {
  const ctx = context.length > 0 ? ` | context: ${context.join(' ; ')}` : '';
  return `[${v.level}] ${v.rule}: ${v.message} | call: ${call}${ctx}`;
}
