/**
 * How the daemon words a bad address. The address math itself is in src/net.
 */

/** Error text of Go's net.ParseCIDR (what dockerd answers for a bad --subnet, --ip-range, --ip ...). */
export function invalidCidr(text: string): string {
  return `invalid CIDR address: ${text}`;
}
