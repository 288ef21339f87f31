/** The reference IPAM with its global address space shared through etcd (`cnmkit serve --store etcd://...`). */
export { openSharedIpam, type SharedIpam, type SharedIpamOptions } from './shared-ipam.js';
export { openEtcdStore, parseEtcdUrl, type EtcdStoreOptions } from './etcd.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export type { KvEntry, KvTxn, KvTxnResult, KvTxnStore } from './kv.js';
