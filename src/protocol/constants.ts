/** Wire constants of the libnetwork remote plugin protocol (protocol.md §1.3, §2.4). */

/** Accept header dockerd sends on every call. */
export const ACCEPT_HEADER = 'application/vnd.docker.plugins.v1.2+json';
/** Content-Type plugin servers answer with (go-plugins-helpers uses v1.1). */
export const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.1+json';
/** Host header dockerd >= 20.10.26 sends on unix sockets (empty before). */
export const UNIX_HOST_HEADER = 'plugin.moby.localhost';

export const PLUGIN_SOCKET_DIR = '/run/docker/plugins';
export const PLUGIN_SPEC_DIRS = ['/etc/docker/plugins', '/usr/lib/docker/plugins'] as const;

export const NETWORK_DRIVER = 'NetworkDriver';
export const IPAM_DRIVER = 'IpamDriver';
export type PluginInterface = typeof NETWORK_DRIVER | typeof IPAM_DRIVER;

/** Well-known option keys and values. */
export const Options = {
  /** RequestAddress option key marking a gateway request. */
  RequestAddressType: 'RequestAddressType',
  /** Value of RequestAddressType for the gateway. Also the RequestPool Data key carrying a gateway CIDR. */
  Gateway: 'com.docker.network.gateway',
  MacAddress: 'com.docker.network.endpoint.macaddress',
  Generic: 'com.docker.network.generic',
  EnableIPv6: 'com.docker.network.enable_ipv6',
  EnableIPv4: 'com.docker.network.enable_ipv4',
  Internal: 'com.docker.network.internal',
  ExposedPorts: 'com.docker.network.endpoint.exposedports',
  PortMap: 'com.docker.network.portmap',
  DnsServers: 'com.docker.network.endpoint.dnsservers',
  EndpointName: 'com.docker.network.endpoint.name',
  Serial: 'com.docker.network.ipam.serial',
  NoProxy6to4: 'com.docker.network.driver.private.no_proxy_6to4',
} as const;

/** Address spaces of Docker's built-in IPAM. */
export const LOCAL_DEFAULT = 'LocalDefault';
export const GLOBAL_DEFAULT = 'GlobalDefault';

/** Behaviour profiles: which daemon we speak like / which endpoints exist. */
export type Profile = 'docker-20.10' | 'moby';
export const PROFILES: readonly Profile[] = ['docker-20.10', 'moby'];

/** Default request body limit of the SDK server. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Linux IFNAMSIZ - 1: the longest interface name the kernel takes. */
export const MAX_IFNAME_BYTES = 15;
