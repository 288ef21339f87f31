/**
 * `KvTxnStore` on etcd v3 through the `etcd3` client (gRPC). Every call has a
 * deadline; the client's own retry is off (a retried transaction could apply
 * twice behind our back: the caller decides, see shared-space.ts), and a
 * per-member circuit breaker skips a dead member for one second.
 */
import { circuitBreaker, ConsecutiveBreaker, handleWhen, noop } from 'cockatiel';
import { CompareResult, CompareTarget, Etcd3, isRecoverableError, type IRequestOp, type ITxnResponse } from 'etcd3';
import { StoreError } from './errors.js';
import type { KvEntry, KvTxn, KvTxnResult, KvTxnStore } from './kv.js';

export interface EtcdStoreOptions {
  /** Key prefix of this IPAM's data (default `/cnmkit/ipam/`). */
  prefix?: string;
}

/** `etcd://HOST:PORT[,HOST:PORT...]` → `['HOST:PORT', ...]`. */
export function parseEtcdUrl(url: string): string[] {
  const m = /^etcd:\/\/(.+)$/.exec(url);
  if (m === null) throw new StoreError('E_STORE_URL', `store must look like etcd://HOST:PORT[,HOST:PORT...], got "${url}"`);
  const hosts = m[1]!.split(',');
  for (const h of hosts) {
    const hm = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(h);
    if (hm === null || Number(hm[2]) < 1 || Number(hm[2]) > 65535) {
      throw new StoreError('E_STORE_URL', `store endpoint must be HOST:PORT, got "${h}" in "${url}"`);
    }
  }
  return hosts;
}

export function openEtcdStore(url: string, opts: EtcdStoreOptions = {}): KvTxnStore {
  return new EtcdStore(parseEtcdUrl(url), opts.prefix ?? '/cnmkit/ipam/');
}

/** Smallest key greater than every key starting with `prefix`. */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

class EtcdStore implements KvTxnStore {
  private readonly client: Etcd3;
  private readonly prefix: string;

  constructor(hosts: string[], prefix: string) {
    this.prefix = prefix;
    this.client = new Etcd3({
      hosts: hosts.map((h) => `http://${h}`),
      dialTimeout: 2000,
      faultHandling: {
        global: noop,
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(2) }),
      },
    });
  }

  private key(k: string): Buffer {
    return Buffer.from(this.prefix + k);
  }

  private async call(req: Parameters<Etcd3['kv']['txn']>[0], deadline: number): Promise<ITxnResponse> {
    if (Date.now() >= deadline) throw new StoreError('E_STORE_UNAVAILABLE', 'etcd: deadline passed');
    try {
      return await this.client.kv.txn(req, { deadline: new Date(deadline) });
    } catch (e) {
      throw new StoreError('E_STORE_UNAVAILABLE', `etcd: ${(e as Error).message}`, { cause: e });
    }
  }

  private entries(keys: readonly string[], res: ITxnResponse): Map<string, KvEntry> {
    const out = new Map<string, KvEntry>();
    keys.forEach((k, i) => {
      const kv = res.responses[i]?.response_range?.kvs[0];
      out.set(k, kv === undefined ? { value: null, rev: '0' } : { value: kv.value, rev: String(kv.mod_revision) });
    });
    return out;
  }

  async get(keys: readonly string[], deadline: number): Promise<Map<string, KvEntry>> {
    // A read-only transaction: one linearizable read of all keys at one revision.
    const res = await this.call({ success: keys.map((k) => ({ request_range: { key: this.key(k) } })) }, deadline);
    return this.entries(keys, res);
  }

  async txn(t: KvTxn, deadline: number): Promise<KvTxnResult> {
    const success: IRequestOp[] = [];
    for (const p of t.puts) success.push({ request_put: { key: this.key(p.key), value: p.value } });
    for (const d of t.deletes) success.push({ request_delete_range: { key: this.key(d) } });
    for (const d of t.deletePrefixes) {
      const k = this.key(d);
      success.push({ request_delete_range: { key: k, range_end: prefixEnd(k) } });
    }
    const keys = t.compares.map((c) => c.key);
    const res = await this.call(
      {
        compare: t.compares.map((c) => ({ key: this.key(c.key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: c.rev })),
        success,
        failure: keys.map((k) => ({ request_range: { key: this.key(k) } })),
      },
      deadline,
    );
    const revision = String(res.header.revision);
    if (res.succeeded) return { ok: true, revision, current: new Map() };
    return { ok: false, revision, current: this.entries(keys, res) };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
