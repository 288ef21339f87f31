/**
 * The method table: every endpoint of the remote plugin protocol as data.
 * The SDK server, the client and the conformance suites are all driven from it.
 */
import type { Profile } from './constants.js';
import * as m from './messages.js';
import type { Schema } from './schema.js';

export type PluginApiName = 'Plugin' | 'NetworkDriver' | 'IpamDriver';

/** What the daemon does when a plugin answers this method with 404 (protocol.md §1.6). */
export type On404 = 'error' | 'ignored' | 'fatal-registration' | 'no-capabilities';

export interface MethodSpec<Req = unknown, Res = unknown> {
  readonly iface: PluginApiName;
  /** e.g. `CreateNetwork`. */
  readonly method: string;
  /** e.g. `/NetworkDriver.CreateNetwork`. */
  readonly path: string;
  /** Name of the handler on the SDK's driver / IPAM object, e.g. `createNetwork`. */
  readonly handler: string;
  /** null: argument-less call, dockerd sends an empty body. */
  readonly request: Schema<Req> | null;
  readonly response: Schema<Res>;
  /** Field a 200 reply uses to signal failure: `Err` for drivers, `Error` for IPAM. */
  readonly errorField: 'Err' | 'Error';
  readonly on404: On404;
  /** Profiles in which the daemon may call it. */
  readonly profiles: readonly Profile[];
}

const BOTH: readonly Profile[] = ['docker-20.10', 'moby'];

function def<RS extends Schema<unknown> | null, Res>(
  iface: PluginApiName,
  method: string,
  request: RS,
  response: Schema<Res>,
  opts: { on404?: On404; profiles?: readonly Profile[] } = {},
): MethodSpec<RS extends Schema<infer Req> ? Req : void, Res> & { readonly request: RS } {
  const spec: MethodSpec<unknown, Res> = {
    iface,
    method,
    path: `/${iface}.${method}`,
    handler: method.charAt(0).toLowerCase() + method.slice(1),
    request,
    response,
    errorField: iface === 'IpamDriver' ? 'Error' : 'Err',
    on404: opts.on404 ?? 'error',
    profiles: opts.profiles ?? BOTH,
  };
  return spec as MethodSpec<RS extends Schema<infer Req> ? Req : void, Res> & { readonly request: RS };
}

export const Methods = {
  Activate: def('Plugin', 'Activate', null, m.ActivateResponse),

  NetworkGetCapabilities: def('NetworkDriver', 'GetCapabilities', null, m.NetworkCapabilitiesResponse, { on404: 'fatal-registration' }),
  GwAllocCheck: def('NetworkDriver', 'GwAllocCheck', m.GwAllocCheckRequest, m.GwAllocCheckResponse, { profiles: ['moby'] }),
  CreateNetwork: def('NetworkDriver', 'CreateNetwork', m.CreateNetworkRequest, m.EmptyResponse),
  AllocateNetwork: def('NetworkDriver', 'AllocateNetwork', m.AllocateNetworkRequest, m.AllocateNetworkResponse),
  DeleteNetwork: def('NetworkDriver', 'DeleteNetwork', m.NetworkIdRequest, m.EmptyResponse),
  FreeNetwork: def('NetworkDriver', 'FreeNetwork', m.NetworkIdRequest, m.EmptyResponse),
  CreateEndpoint: def('NetworkDriver', 'CreateEndpoint', m.CreateEndpointRequest, m.CreateEndpointResponse),
  EndpointOperInfo: def('NetworkDriver', 'EndpointOperInfo', m.EndpointRequest, m.EndpointOperInfoResponse),
  DeleteEndpoint: def('NetworkDriver', 'DeleteEndpoint', m.EndpointRequest, m.EmptyResponse),
  Join: def('NetworkDriver', 'Join', m.JoinRequest, m.JoinResponse),
  Leave: def('NetworkDriver', 'Leave', m.EndpointRequest, m.EmptyResponse),
  DiscoverNew: def('NetworkDriver', 'DiscoverNew', m.DiscoveryRequest, m.EmptyResponse, { on404: 'ignored' }),
  DiscoverDelete: def('NetworkDriver', 'DiscoverDelete', m.DiscoveryRequest, m.EmptyResponse, { on404: 'ignored' }),
  ProgramExternalConnectivity: def('NetworkDriver', 'ProgramExternalConnectivity', m.ProgramExternalConnectivityRequest, m.EmptyResponse, { on404: 'ignored' }),
  RevokeExternalConnectivity: def('NetworkDriver', 'RevokeExternalConnectivity', m.EndpointRequest, m.EmptyResponse, { on404: 'ignored' }),

  IpamGetCapabilities: def('IpamDriver', 'GetCapabilities', null, m.IpamCapabilitiesResponse, { on404: 'no-capabilities' }),
  GetDefaultAddressSpaces: def('IpamDriver', 'GetDefaultAddressSpaces', null, m.AddressSpacesResponse, { on404: 'fatal-registration' }),
  RequestPool: def('IpamDriver', 'RequestPool', m.RequestPoolRequest, m.RequestPoolResponse),
  ReleasePool: def('IpamDriver', 'ReleasePool', m.PoolIdRequest, m.EmptyResponse),
  RequestAddress: def('IpamDriver', 'RequestAddress', m.RequestAddressRequest, m.RequestAddressResponse),
  ReleaseAddress: def('IpamDriver', 'ReleaseAddress', m.ReleaseAddressRequest, m.EmptyResponse),
} as const;

export type MethodKey = keyof typeof Methods;
export type RequestOf<K extends MethodKey> = (typeof Methods)[K] extends MethodSpec<infer Q, unknown> ? Q : never;
export type ResponseOf<K extends MethodKey> = (typeof Methods)[K] extends MethodSpec<unknown, infer R> ? R : never;

export const ALL_METHODS: readonly MethodSpec[] = Object.values(Methods) as readonly MethodSpec[];

const byPath = new Map<string, MethodSpec>(ALL_METHODS.map((spec) => [spec.path, spec]));

/** The method served at an HTTP path, if any. */
export function methodByPath(path: string): MethodSpec | undefined {
  return byPath.get(path);
}

export const DRIVER_METHODS = ALL_METHODS.filter((x) => x.iface === 'NetworkDriver');
export const IPAM_METHODS = ALL_METHODS.filter((x) => x.iface === 'IpamDriver');
