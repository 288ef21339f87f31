/**
 * The key-value contract the shared IPAM needs from its store: linearizable
 * multi-key reads and one transaction shape, "if every compared key still has
 * the modification revision I read, apply these writes; otherwise give me the
 * current values of the compared keys". etcd v3 is the implementation
 * (`etcd.ts`); keys here are relative to the store's prefix.
 */

/** A key's value and modification revision; `rev` '0' and `value` null = the key does not exist. */
export interface KvEntry {
  readonly value: Buffer | null;
  readonly rev: string;
}

export interface KvTxn {
  /** Keys whose modification revision must be unchanged ('0': must not exist). */
  readonly compares: readonly { key: string; rev: string }[];
  readonly puts: readonly { key: string; value: Buffer }[];
  readonly deletes: readonly string[];
  /** Every key starting with one of these is deleted. */
  readonly deletePrefixes: readonly string[];
}

export interface KvTxnResult {
  /** The compares held and the writes are applied. */
  readonly ok: boolean;
  /** Store revision after the transaction (the writes' modification revision when ok). */
  readonly revision: string;
  /** When not ok: the current entry of every compared key. */
  readonly current: ReadonlyMap<string, KvEntry>;
}

export interface KvTxnStore {
  /** Linearizable read of several keys at one revision. */
  get(keys: readonly string[], deadline: number): Promise<Map<string, KvEntry>>;
  txn(t: KvTxn, deadline: number): Promise<KvTxnResult>;
  close(): Promise<void>;
}
