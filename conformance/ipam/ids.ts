/** Check ids of the model-based IPAM checks (stable; see README). */
export const IpamIds = {
  requestPool: 'ipam.request-pool-explicit',
  noDuplicate: 'ipam.no-duplicate-address',
  inPool: 'ipam.address-in-pool',
  cidrReply: 'ipam.address-cidr',
  prefixLength: 'ipam.address-prefix-length',
  inSubPool: 'ipam.address-in-subpool',
  noNetworkBroadcast: 'ipam.no-network-broadcast',
  v6Anycast: 'ipam.ipv6-subnet-anycast-reserved',
  preferred: 'ipam.preferred-address-honoured',
  releasedAddress: 'ipam.released-address-reusable',
  releasedPool: 'ipam.released-pool-reusable',
  overlap: 'ipam.overlapping-pool-refused',
  exhaustionError: 'ipam.exhaustion-error',
  exhaustionCount: 'ipam.exhaustion-count',
  gateway: 'ipam.gateway-request',
} as const;
export type IpamModelId = (typeof IpamIds)[keyof typeof IpamIds];
