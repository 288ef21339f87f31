/**
 * From iproute2's error text back to the kernel's errno. ip prints either
 * `RTNETLINK answers: <strerror>` or, when the kernel sent an extended ack,
 * only `Error: <extack text>.`; the latter loses the errno, so the extack texts
 * the backend can provoke are mapped here (measured on Linux 6.x).
 */
import { ERRNO_TEXT, type Errno } from '../backend.js';

const BY_TEXT = new Map<string, Errno>(Object.entries(ERRNO_TEXT).map(([k, v]) => [v, k as Errno]));
BY_TEXT.set('Address family not supported by protocol', 'EOPNOTSUPP');
BY_TEXT.set('Numerical argument out of domain', 'EINVAL');
BY_TEXT.set('Invalid argument', 'EINVAL');

/** Extended-ack texts (without the trailing dot) and the errno the kernel sent with them. */
const EXTACK: ReadonlyArray<readonly [RegExp, Errno]> = [
  [/^mtu (less|greater) than device (minimum|maximum)/i, 'EINVAL'],
  [/address already assigned/i, 'EEXIST'],
  [/address not found/i, 'EADDRNOTAVAIL'],
  [/^The interface netns is immutable/i, 'EINVAL'],
  [/^Nexthop device is not up/i, 'ENETDOWN'],
  [/^Device for nexthop is not up/i, 'ENETDOWN'],
  [/^argument ".*" is wrong: Device does not exist/i, 'ENODEV'],
  [/^Nexthop has invalid gateway/i, 'ENETUNREACH'],
  [/^Invalid prefix for given prefix length/i, 'EINVAL'],
  [/^Device can not be enslaved while up/i, 'EBUSY'],
  [/^Can not enslave a bridge to a bridge/i, 'ELOOP'],
  [/^Device does not allow enslaving to a bridge/i, 'EOPNOTSUPP'],
  [/^Master is either lo or the enslaved device itself/i, 'EINVAL'],
  [/^Can not enslave loopback/i, 'EINVAL'],
  [/^Device is not a bridge/i, 'EOPNOTSUPP'],
  [/^Device does not support enslaving/i, 'EOPNOTSUPP'],
  [/^The device is netns local/i, 'EINVAL'],
  [/^Invalid address/i, 'EADDRNOTAVAIL'],
  [/^Cannot change name of an up device/i, 'EBUSY'],
  [/^Device name already in use/i, 'EEXIST'],
  [/^Invalid link address/i, 'EINVAL'],
  [/^Nexthop device is required/i, 'ENODEV'],
  [/^Gateway can not be a local address/i, 'EINVAL'],
  [/^Unknown device type/i, 'EOPNOTSUPP'],
  [/^No such device/i, 'ENODEV'],
];

export interface ParsedIpError {
  readonly errno: Errno;
  /** Extended-ack text, when ip printed one. */
  readonly detail: string | undefined;
}

/** Reads ip's stderr; `fallback` when nothing recognisable was printed. */
export function errnoFromIpText(stderr: string, fallback: Errno = 'EINVAL'): ParsedIpError {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  for (const l of lines) {
    const rt = /^RTNETLINK answers: (.+?)\.?$/.exec(l);
    if (rt !== null) {
      const e = BY_TEXT.get(rt[1]);
      if (e !== undefined) return { errno: e, detail: undefined };
    }
    if (/^Cannot find device/.test(l) || /^Device ".*" does not exist/.test(l)) return { errno: 'ENODEV', detail: undefined };
    if (/^Cannot open network namespace/.test(l) || /^Invalid "netns" value/.test(l)) return { errno: 'ENOENT', detail: undefined };
    const ext = /^Error: (.+?)\.?$/.exec(l);
    if (ext !== null) {
      const text = ext[1];
      for (const [re, errno] of EXTACK) if (re.test(text)) return { errno, detail: text };
      // ip's own argument checks (`invarg`) print "Error: argument ... is wrong" and similar.
      return { errno: 'EINVAL', detail: text };
    }
  }
  return { errno: fallback, detail: lines.length > 0 ? lines.join('; ') : undefined };
}
