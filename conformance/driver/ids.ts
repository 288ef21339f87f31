/** Check ids of the driver suite (stable; see README). */
export const DriverIds = {
  accepted: 'driver.lifecycle-accepted',
  noEcho: 'driver.no-echo',
  endpointAddress: 'driver.endpoint-address',
  macValid: 'driver.mac-valid',
  macUnique: 'driver.mac-unique',
  ifName: 'driver.interface-name',
  ifNameUnique: 'driver.interface-name-unique',
  gateway: 'driver.join-gateway',
  routes: 'driver.static-routes',
  unknownIds: 'driver.unknown-ids',
  deleteUndoes: 'driver.delete-undoes',
  operInfo: 'driver.endpoint-oper-info',
  programRevoke: 'driver.program-revoke',
} as const;
export type DriverModelId = (typeof DriverIds)[keyof typeof DriverIds];
