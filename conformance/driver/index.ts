/**
 * The `driver` suite: NetworkDriver plugins checked against a model of
 * dockerd's lifecycles (model-based, shrinking), parallel lifecycles,
 * reply times, the real kernel with `--netns linux`, and compat notes.
 */
import type { Suite } from '../types.js';
import { concurrentLifecycles } from './concurrency-check.js';
import { deleteUnknownCompat, dstPrefixCompat, externalConnectivityCompat, timelyLifecycle } from './deterministic-checks.js';
import { DriverIds } from './ids.js';
import { driverModelCheck } from './model-check.js';
import { ipv6Endpoint } from './ipv6-check.js';
import { netnsLinux } from './netns-check.js';
import { driverBlindSpotChecks } from './blind-spot-checks.js';
import { globalAllocate, globalCreateAllocated, globalFree, globalFreeUnknownCompat, globalReallocate, globalSwarmLifecycle } from './global-scope-checks.js';

const MODEL = 'model-based';

export const driverModelChecks = [
  driverModelCheck({
    id: DriverIds.accepted,
    title: 'Valid lifecycle calls are accepted',
    level: 'must',
    reason: `protocol.md §4.2-§4.4: CreateNetwork, CreateEndpoint (with the Options dockerd really sends: exposed ports, port mappings, DNS servers), Join, Leave, DeleteEndpoint of objects dockerd created, addressed by the IPAM the driver is used with (default, the plugin's own, or null), must succeed; a refusal or a dropped connection fails docker network create / docker run. A driver refusing every CreateNetwork while no --driver-opt is given is skipped (it may need options) (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.noEcho,
    title: 'CreateEndpoint does not echo supplied Interface fields',
    level: 'must',
    reason: `protocol.md §2.2 (CreateEndpoint): a non-empty Address/AddressIPv6/MacAddress in the reply for a field the request supplied, even the same value, fails with "driver modified interface address" and rolls the start back (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.endpointAddress,
    title: 'Driver-supplied addresses are CIDRs, distinct per network',
    level: 'must',
    reason: `protocol.md §2.2 (CreateEndpoint): with the null IPAM (--ipam-driver null, as docker-net-dhcp needs) Interface.Address is empty and the driver supplies Address; dockerd parses it as a CIDR (a parse error fails the call) and puts it on the container, so two live endpoints of one network with one address clash. Skipped when an IPAM supplies the addresses (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.macValid,
    title: 'Returned MAC addresses are valid unicast MACs',
    level: 'must',
    reason: `protocol.md §2.2 (CreateEndpoint): a returned MacAddress is parsed (parse errors fail the call) and set on the container interface; the kernel refuses multicast MACs (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.macUnique,
    title: 'Live endpoints of a network have distinct MACs',
    level: 'must',
    reason: `protocol.md §2.2 (CreateEndpoint): the returned MAC is applied to the container; two live endpoints with the same MAC on one shared L2 segment break traffic on it. Routed designs (point-to-point links: /32 addresses, or a gateway reached link-local / through a connected route, like Calico's fixed EE:EE:EE:EE:EE:EE) are exempt: the design is worked out from a probe Join (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.ifName,
    title: 'Join names a valid interface',
    level: 'must',
    reason: `protocol.md §2.2 (Join): SrcName is moved and renamed to DstPrefix+index by the daemon; Linux names have 1-15 bytes without '/', ':' or whitespace, anything else fails the container start (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.ifNameUnique,
    title: 'Joined endpoints have distinct host links',
    level: 'must',
    reason: `protocol.md §2.2 (Join): SrcName is the host link the daemon moves into the sandbox; one link cannot go to two containers. Endpoint ids sharing their first 5 or 7 characters (as random ids do on a busy host) must still get distinct links (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.gateway,
    title: 'Join gateways are bare addresses the container can reach',
    level: 'must',
    reason: `protocol.md §2.2 (Join): Gateway/GatewayIPv6 are IPs without mask (an unparsable value is an error) and the kernel must find a direct route to them or container start fails ("route for the gateway ... could not be found"): on the endpoint's subnet, link-local (169.254/16, fe80::/10), or covered by a connected static route of the same reply (Calico: 169.254.1.1 + 169.254.1.1/32) (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.routes,
    title: 'Join static routes are well-formed',
    level: 'must',
    reason: `protocol.md §2.2 (Join): StaticRoutes Destination is a CIDR; RouteType 0 needs a NextHop the container reaches (on the subnet, link-local or behind a connected route of the reply), non-zero types are connected routes without NextHop; bad routes fail the container start (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.deleteUndoes,
    title: 'Leave, DeleteEndpoint and DeleteNetwork undo everything',
    level: 'must',
    reason: `protocol.md §4.4/§4.6: teardown errors are only logged and dockerd forgets the object; the plugin must really release it so the same endpoint id/address or network id can be created again (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.unknownIds,
    title: 'Unknown networks and endpoints are refused',
    level: 'should',
    reason: `protocol.md §4.7: after a plugin restart without state dockerd still uses its old ids; CreateEndpoint on an unknown (or successfully deleted) network or Join of an unknown endpoint must answer an error, not create something half-made (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.operInfo,
    title: 'EndpointOperInfo answers right after Join',
    level: 'must',
    reason: `protocol.md §1.6 / §2.2 (EndpointOperInfo): dockerd 20.10 calls EndpointOperInfo twice right after every successful Join and rolls the start back on any error, 404 included (with --profile moby a 404 is accepted); its other call sites ignore errors, so only the calls after Join are judged (${MODEL}).`,
  }),
  driverModelCheck({
    id: DriverIds.programRevoke,
    title: 'ProgramExternalConnectivity answers {} or 404',
    level: 'must',
    reason: `protocol.md §2.2 (ProgramExternalConnectivity) / §4.3: ProgramExternalConnectivity errors other than 404 roll the container start back (${MODEL}).`,
  }),
] as const;

export const driverSuite: Suite = {
  id: 'driver',
  title: 'Network driver',
  checks: [...driverModelChecks, ipv6Endpoint, concurrentLifecycles, ...driverBlindSpotChecks, globalAllocate, globalCreateAllocated, globalReallocate, globalFree, globalSwarmLifecycle, timelyLifecycle, netnsLinux, dstPrefixCompat, externalConnectivityCompat, deleteUnknownCompat, globalFreeUnknownCompat],
};
