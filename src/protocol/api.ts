/**
 * The two plugin contracts as TypeScript interfaces: one method per wire
 * endpoint (go-plugins-helpers' shape). Implementations: the reference driver
 * and IPAM, test doubles, and anything a user serves with the SDK.
 * Optional methods left out are answered with 404 by the SDK.
 */
import type * as m from './messages.js';

export type MaybePromise<T> = T | Promise<T>;

/** Per-call information the server passes to handlers. */
export interface CallContext {
  /** `/NetworkDriver.Join` etc. */
  readonly path: string;
  /** Aborted when the connection closes or the server shuts down. */
  readonly signal: AbortSignal;
}

export interface NetworkDriverApi {
  getCapabilities(ctx: CallContext): MaybePromise<m.NetworkCapabilitiesResponse>;
  createNetwork(req: m.CreateNetworkRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
  deleteNetwork(req: m.NetworkIdRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
  createEndpoint(req: m.CreateEndpointRequest, ctx: CallContext): MaybePromise<m.CreateEndpointResponse>;
  deleteEndpoint(req: m.EndpointRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
  /** Optional on the wire but fatal to 20.10 when missing: always implement it. */
  endpointOperInfo(req: m.EndpointRequest, ctx: CallContext): MaybePromise<m.EndpointOperInfoResponse>;
  join(req: m.JoinRequest, ctx: CallContext): MaybePromise<m.JoinResponse>;
  leave(req: m.EndpointRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
  gwAllocCheck?(req: m.GwAllocCheckRequest, ctx: CallContext): MaybePromise<m.GwAllocCheckResponse>;
  allocateNetwork?(req: m.AllocateNetworkRequest, ctx: CallContext): MaybePromise<m.AllocateNetworkResponse>;
  freeNetwork?(req: m.NetworkIdRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
  discoverNew?(req: m.DiscoveryRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
  discoverDelete?(req: m.DiscoveryRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
  programExternalConnectivity?(req: m.ProgramExternalConnectivityRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
  revokeExternalConnectivity?(req: m.EndpointRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
}

export interface IpamApi {
  getCapabilities?(ctx: CallContext): MaybePromise<m.IpamCapabilitiesResponse>;
  getDefaultAddressSpaces(ctx: CallContext): MaybePromise<m.AddressSpacesResponse>;
  requestPool(req: m.RequestPoolRequest, ctx: CallContext): MaybePromise<m.RequestPoolResponse>;
  releasePool(req: m.PoolIdRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
  requestAddress(req: m.RequestAddressRequest, ctx: CallContext): MaybePromise<m.RequestAddressResponse>;
  releaseAddress(req: m.ReleaseAddressRequest, ctx: CallContext): MaybePromise<m.EmptyResponse | void>;
}
