/**
 * Durable state for the reference IPAM: a snapshot plus an append-only
 * journal per generation (`snapshot.<g>`, `journal.<g>`).
 *
 * - Record frame: u32 LE payload length, u32 LE CRC-32 of the payload, UTF-8 payload.
 * - Group commit: records appended in the same turn, or while a write is in
 *   flight, share the next write; the journal is opened O_DSYNC, so a write
 *   returns only once it is on disk (like write+fdatasync, one thread-pool hop).
 *   `durable()` resolves once everything appended before the call is on disk.
 * - Recovery replays `journal.<g>` after `snapshot.<g>` (g = newest snapshot) and
 *   truncates a torn or corrupt tail at the last good frame.
 * - Compaction: when the journal passes `compactBytes`, the flusher takes a
 *   snapshot of the in-memory state (which already includes the buffered
 *   records), writes `snapshot.<g+1>` via a temporary file, fsync and rename,
 *   opens an empty `journal.<g+1>`, then deletes generation g. Records buffered
 *   at that moment are covered by the snapshot and acknowledged after the rename.
 * - A failed write or fsync stops the journal: that operation and every later
 *   one fail with E_STATE_IO (nothing is acknowledged that is not on disk).
 */
import { closeSync, constants as fsc, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, write } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { IpamStateError } from './errors.js';
import { StateLock } from './state-lock.js';

export interface JournalOptions {
  /** Compact when the journal grows past this many bytes (default 16 MiB). */
  compactBytes?: number;
}

export interface RecoveryReport {
  generation: number;
  snapshotLoaded: boolean;
  records: number;
  /** Bytes cut from a torn/corrupt journal tail. */
  truncatedBytes: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // callers that never wait must not crash the process
  return { promise, resolve, reject };
}

const RESOLVED = Promise.resolve();
const JOURNAL_FLAGS = fsc.O_RDWR | fsc.O_CREAT | fsc.O_APPEND | fsc.O_DSYNC;

export function encodeFrame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeUInt32LE(body.length, 0);
  out.writeUInt32LE(crc32(body), 4);
  body.copy(out, 8);
  return out;
}

/** Valid frames from the start of `buf`; `end` is the offset after the last good one. */
export function decodeFrames(buf: Buffer): { payloads: string[]; end: number } {
  const payloads: string[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (off + 8 + len > buf.length) break;
    const body = buf.subarray(off + 8, off + 8 + len);
    if (crc32(body) !== buf.readUInt32LE(off + 4)) break;
    payloads.push(body.toString('utf8'));
    off += 8 + len;
  }
  return { payloads, end: off };
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function ioError(what: string, e: unknown): IpamStateError {
  return new IpamStateError('E_STATE_IO', `${what}: ${(e as Error).message}`, { cause: e });
}

export class Journal {
  private fd: number;
  private gen: number;
  private bytes: number;
  private buf: Buffer[] = [];
  private batch: Deferred | null = null;
  private inflight: Deferred | null = null;
  private running = false;
  private failed: IpamStateError | null = null;
  private closed = false;
  private readonly compactBytes: number;
  /** Serialises the whole in-memory state (for compaction). */
  snapshotSource: (() => string) | null = null;
  readonly recovery: RecoveryReport;
  /** Completed compactions (for tests and reports). */
  compactions = 0;
  /** Completed synchronous writes (group commits). */
  flushes = 0;
  /** Records appended since open. */
  appended = 0;

  private constructor(
    readonly dir: string,
    private readonly lock: StateLock,
    fd: number,
    gen: number,
    bytes: number,
    recovery: RecoveryReport,
    opts: JournalOptions,
  ) {
    this.fd = fd;
    this.gen = gen;
    this.bytes = bytes;
    this.recovery = recovery;
    this.compactBytes = opts.compactBytes ?? 16 * 1024 * 1024;
  }

  /**
   * Locks `dir`, loads the newest snapshot (`onSnapshot`) and replays the
   * journal (`onRecord`), truncating a torn tail. Synchronous by design: the
   * IPAM answers nothing before its state is back.
   */
  static open(dir: string, onSnapshot: (text: string) => void, onRecord: (payload: string) => void, opts: JournalOptions = {}): Journal {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw ioError(`cannot create state directory ${dir}`, e);
    }
    const lock = StateLock.acquire(dir);
    try {
      return Journal.recover(dir, lock, onSnapshot, onRecord, opts);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  private static recover(dir: string, lock: StateLock, onSnapshot: (text: string) => void, onRecord: (payload: string) => void, opts: JournalOptions): Journal {
    const names = readdirSync(dir);
    let gen = 0;
    for (const n of names) {
      const mm = /^snapshot\.(\d+)$/.exec(n);
      if (mm) gen = Math.max(gen, Number(mm[1]));
    }
    let snapshotLoaded = false;
    if (names.includes(`snapshot.${gen}`)) {
      const path = join(dir, `snapshot.${gen}`);
      const buf = readFileSync(path);
      const { payloads, end } = decodeFrames(buf);
      if (payloads.length !== 1 || end !== buf.length) {
        throw new IpamStateError('E_STATE_CORRUPT', `snapshot ${path} is damaged (bad length or checksum); refusing to start with partial state`);
      }
      try {
        onSnapshot(payloads[0]);
      } catch (e) {
        throw new IpamStateError('E_STATE_CORRUPT', `snapshot ${path} does not load: ${(e as Error).message}`, { cause: e });
      }
      snapshotLoaded = true;
    }
    // Older generations and interrupted compactions are leftovers.
    for (const n of names) {
      const mm = /^(snapshot|journal)\.(\d+)(\.tmp)?$/.exec(n);
      if (mm && (Number(mm[2]) < gen || mm[3] !== undefined)) {
        try {
          unlinkSync(join(dir, n));
        } catch {
          // best effort
        }
      }
    }
    const jpath = join(dir, `journal.${gen}`);
    let fd: number;
    try {
      fd = openSync(jpath, JOURNAL_FLAGS, 0o644);
    } catch (e) {
      throw ioError(`cannot open journal ${jpath}`, e);
    }
    const buf = readFileSync(jpath);
    const { payloads, end } = decodeFrames(buf);
    let n = 0;
    for (const p of payloads) {
      try {
        onRecord(p);
      } catch (e) {
        closeSync(fd);
        throw new IpamStateError('E_STATE_CORRUPT', `journal ${jpath} record ${n + 1} does not apply: ${(e as Error).message}`, { cause: e });
      }
      n++;
    }
    if (end < buf.length) {
      ftruncateSync(fd, end);
      fsyncSync(fd);
    }
    fsyncDir(dir);
    return new Journal(dir, lock, fd, gen, end, { generation: gen, snapshotLoaded, records: n, truncatedBytes: buf.length - end }, opts);
  }

  /** Queues a record; it is on disk when a later `durable()` resolves. */
  append(payload: string): void {
    if (this.failed !== null) throw this.failed;
    this.buf.push(encodeFrame(payload));
    this.appended++;
    if (this.batch === null) this.batch = deferred();
    if (!this.running) {
      this.running = true;
      queueMicrotask(() => void this.run());
    }
  }

  /** Resolves when every record appended so far is durable. */
  durable(): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (this.batch !== null) return this.batch.promise;
    if (this.inflight !== null) return this.inflight.promise;
    return RESOLVED;
  }

  get generation(): number {
    return this.gen;
  }

  private async run(): Promise<void> {
    while (this.batch !== null) {
      const d = this.batch;
      const bufs = this.buf;
      this.batch = null;
      this.buf = [];
      this.inflight = d;
      try {
        if (this.bytes >= this.compactBytes && this.snapshotSource !== null) await this.compact();
        else {
          const data = bufs.length === 1 ? bufs[0] : Buffer.concat(bufs);
          // O_DSYNC: the write returns once data and size are on disk (one thread-pool hop, not two).
          await writeAll(this.fd, data);
          this.bytes += data.length;
          this.flushes++;
        }
        d.resolve();
      } catch (e) {
        this.failed = e instanceof IpamStateError ? e : ioError(`journal write in ${this.dir} failed`, e);
        d.reject(this.failed);
        if (this.batch !== null) (this.batch as Deferred).reject(this.failed);
        this.batch = null;
        this.buf = [];
      }
      this.inflight = null;
    }
    this.running = false;
  }

  /** Snapshot of the current state replaces generation g with g+1. */
  private async compact(): Promise<void> {
    const text = this.snapshotSource!();
    const next = this.gen + 1;
    const snap = join(this.dir, `snapshot.${next}`);
    const tmp = `${snap}.tmp`;
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(encodeFrame(text));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, snap);
    fsyncDir(this.dir);
    const fd = openSync(join(this.dir, `journal.${next}`), JOURNAL_FLAGS, 0o644);
    fsyncDir(this.dir);
    const oldFd = this.fd;
    const oldGen = this.gen;
    this.fd = fd;
    this.gen = next;
    this.bytes = 0;
    this.compactions++;
    closeSync(oldFd);
    await unlink(join(this.dir, `journal.${oldGen}`)).catch(() => undefined);
    await unlink(join(this.dir, `snapshot.${oldGen}`)).catch(() => undefined);
  }

  /** Forces a compaction at the next flush (tests, shutdown). */
  async compactNow(): Promise<void> {
    if (this.failed !== null) throw this.failed;
    const saved = this.bytes;
    this.bytes = Math.max(this.bytes, this.compactBytes);
    this.append('["N"]');
    try {
      await this.durable();
    } finally {
      if (this.bytes === Math.max(saved, this.compactBytes)) this.bytes = saved;
    }
  }

  /** Waits for pending records, closes the journal and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.durable();
    } finally {
      this.closed = true;
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.lock.release();
    }
  }
}

function writeAll(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number): void => {
      write(fd, data, off, data.length - off, null, (err, n) => {
        if (err) reject(err);
        else if (off + n < data.length) step(off + n);
        else resolve();
      });
    };
    step(0);
  });
}
