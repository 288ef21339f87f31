/**
 * Request and response bodies of every endpoint (protocol.md §2), as schemas.
 * Field order is the order dockerd emits; `optional` marks fields a sender may
 * leave out; responses are validated leniently by the client (Go decoding) and
 * strictly by the conformance checks.
 */
import { s, type Infer } from './schema.js';

const str = s.string;
const optStr = () => s.optional(s.string());
/** Go map[string]interface{} that may be nil. */
const anyMap = () => s.nullable(s.record(s.unknown()));
/** Go map[string]string that may be nil. */
const strMap = () => s.nullable(s.record(s.string()));

export const Scope = s.enum(['local', 'global'] as const);
export type Scope = Infer<typeof Scope>;

// --- Plugin -------------------------------------------------------------------

export const ActivateResponse = s.object({ Implements: s.nullable(s.array(s.string())) });
export type ActivateResponse = Infer<typeof ActivateResponse>;

// --- NetworkDriver ------------------------------------------------------------

export const NetworkCapabilitiesResponse = s.object({
  Scope,
  ConnectivityScope: s.optional(s.enum(['local', 'global', ''] as const), { omitEmpty: true }),
  /** moby 28+ only. */
  GwAllocChecker: s.optional(s.boolean(), { omitEmpty: true }),
});
export type NetworkCapabilitiesResponse = Infer<typeof NetworkCapabilitiesResponse>;

/** driverapi.IPAMData: marshalled with alphabetical keys, Gateway/AuxAddresses omitted when empty. */
export const IPAMData = s.object({
  AddressSpace: str(),
  AuxAddresses: s.optional(s.nullable(s.record(s.string())), { omitEmpty: true }),
  Gateway: s.optional(s.string(), { omitEmpty: true }),
  Pool: str(),
});
export type IPAMData = Infer<typeof IPAMData>;

export const CreateNetworkRequest = s.object({
  NetworkID: str(),
  Options: s.optional(anyMap()),
  IPv4Data: s.optional(s.nullable(s.array(IPAMData))),
  IPv6Data: s.optional(s.nullable(s.array(IPAMData))),
});
export type CreateNetworkRequest = Infer<typeof CreateNetworkRequest>;

export const EmptyResponse = s.object({});
export type EmptyResponse = Infer<typeof EmptyResponse>;

export const NetworkIdRequest = s.object({ NetworkID: str() });
export type NetworkIdRequest = Infer<typeof NetworkIdRequest>;

export const AllocateNetworkRequest = s.object({
  NetworkID: str(),
  Options: s.optional(strMap()),
  IPv4Data: s.optional(s.nullable(s.array(IPAMData))),
  IPv6Data: s.optional(s.nullable(s.array(IPAMData))),
});
export type AllocateNetworkRequest = Infer<typeof AllocateNetworkRequest>;

export const AllocateNetworkResponse = s.object({ Options: s.optional(strMap()) });
export type AllocateNetworkResponse = Infer<typeof AllocateNetworkResponse>;

export const EndpointInterface = s.object({
  Address: optStr(),
  AddressIPv6: optStr(),
  MacAddress: optStr(),
});
export type EndpointInterface = Infer<typeof EndpointInterface>;

export const CreateEndpointRequest = s.object({
  NetworkID: str(),
  EndpointID: str(),
  Interface: s.optional(s.nullable(EndpointInterface)),
  Options: s.optional(anyMap()),
});
export type CreateEndpointRequest = Infer<typeof CreateEndpointRequest>;

/** Reply interface: every field omitted when the driver has nothing to add. */
export const EndpointInterfaceReply = s.object({
  Address: s.optional(s.string(), { omitEmpty: true }),
  AddressIPv6: s.optional(s.string(), { omitEmpty: true }),
  MacAddress: s.optional(s.string(), { omitEmpty: true }),
});
export type EndpointInterfaceReply = Infer<typeof EndpointInterfaceReply>;

export const CreateEndpointResponse = s.object({
  Interface: s.optional(s.nullable(EndpointInterfaceReply), { omitEmpty: true }),
});
export type CreateEndpointResponse = Infer<typeof CreateEndpointResponse>;

export const EndpointRequest = s.object({ NetworkID: str(), EndpointID: str() });
export type EndpointRequest = Infer<typeof EndpointRequest>;

export const EndpointOperInfoResponse = s.object({ Value: s.optional(anyMap()) });
export type EndpointOperInfoResponse = Infer<typeof EndpointOperInfoResponse>;

export const JoinRequest = s.object({
  NetworkID: str(),
  EndpointID: str(),
  SandboxKey: str(),
  Options: s.optional(anyMap()),
});
export type JoinRequest = Infer<typeof JoinRequest>;

export const InterfaceName = s.object({
  SrcName: str(),
  DstPrefix: str(),
  /** Present in libnetwork's Go type but ignored by the daemon. */
  DstName: s.optional(s.string(), { omitEmpty: true }),
});
export type InterfaceName = Infer<typeof InterfaceName>;

export const StaticRoute = s.object({
  Destination: str(),
  /** 0 = via NextHop; any non-zero = connected route on the interface. */
  RouteType: s.integer(),
  NextHop: s.optional(s.string(), { omitEmpty: true }),
});
export type StaticRoute = Infer<typeof StaticRoute>;

export const JoinResponse = s.object({
  InterfaceName: s.optional(s.nullable(InterfaceName)),
  Gateway: s.optional(s.string(), { omitEmpty: true }),
  GatewayIPv6: s.optional(s.string(), { omitEmpty: true }),
  StaticRoutes: s.optional(s.nullable(s.array(StaticRoute)), { omitEmpty: true }),
  DisableGatewayService: s.optional(s.boolean(), { omitEmpty: true }),
});
export type JoinResponse = Infer<typeof JoinResponse>;

export const ProgramExternalConnectivityRequest = s.object({
  NetworkID: str(),
  EndpointID: str(),
  Options: s.optional(anyMap()),
});
export type ProgramExternalConnectivityRequest = Infer<typeof ProgramExternalConnectivityRequest>;

export const DiscoveryRequest = s.object({
  DiscoveryType: s.integer(),
  DiscoveryData: s.optional(s.unknown()),
});
export type DiscoveryRequest = Infer<typeof DiscoveryRequest>;

export const GwAllocCheckRequest = s.object({ Options: s.optional(anyMap()) });
export type GwAllocCheckRequest = Infer<typeof GwAllocCheckRequest>;

export const GwAllocCheckResponse = s.object({
  SkipIPv4: s.optional(s.boolean()),
  SkipIPv6: s.optional(s.boolean()),
});
export type GwAllocCheckResponse = Infer<typeof GwAllocCheckResponse>;

// --- IpamDriver ---------------------------------------------------------------

export const IpamCapabilitiesResponse = s.object({
  RequiresMACAddress: s.optional(s.boolean()),
  RequiresRequestReplay: s.optional(s.boolean()),
});
export type IpamCapabilitiesResponse = Infer<typeof IpamCapabilitiesResponse>;

export const AddressSpacesResponse = s.object({
  LocalDefaultAddressSpace: str(),
  GlobalDefaultAddressSpace: str(),
});
export type AddressSpacesResponse = Infer<typeof AddressSpacesResponse>;

export const RequestPoolRequest = s.object({
  AddressSpace: str(),
  Pool: optStr(),
  SubPool: optStr(),
  Options: s.optional(strMap()),
  V6: s.optional(s.boolean()),
});
export type RequestPoolRequest = Infer<typeof RequestPoolRequest>;

export const RequestPoolResponse = s.object({
  PoolID: str(),
  Pool: str(),
  Data: s.optional(strMap()),
});
export type RequestPoolResponse = Infer<typeof RequestPoolResponse>;

export const PoolIdRequest = s.object({ PoolID: str() });
export type PoolIdRequest = Infer<typeof PoolIdRequest>;

export const RequestAddressRequest = s.object({
  PoolID: str(),
  Address: optStr(),
  Options: s.optional(strMap()),
});
export type RequestAddressRequest = Infer<typeof RequestAddressRequest>;

export const RequestAddressResponse = s.object({
  Address: str(),
  Data: s.optional(strMap()),
});
export type RequestAddressResponse = Infer<typeof RequestAddressResponse>;

export const ReleaseAddressRequest = s.object({ PoolID: str(), Address: str() });
export type ReleaseAddressRequest = Infer<typeof ReleaseAddressRequest>;

/** Error bodies: non-200 replies carry `Err`; an IPAM 200 reply signals failure with `Error`. */
export const DriverErrorBody = s.object({ Err: s.optional(s.string()) });
export const IpamErrorBody = s.object({ Error: s.optional(s.string()) });
