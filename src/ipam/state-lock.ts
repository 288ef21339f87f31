/**
 * One owner per state directory: a `lock` file created with O_EXCL holding
 * the owner's pid. A lock left by a dead process (kill -9) is taken over; a
 * live owner (including this very process) makes the second opener fail.
 */
import { openSync, writeSync, closeSync, readFileSync, unlinkSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { IpamStateError } from './errors.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class StateLock {
  private constructor(readonly path: string) {}

  static acquire(dir: string): StateLock {
    const path = join(dir, 'lock');
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o644);
        try {
          writeSync(fd, `${process.pid}\n`);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        return new StateLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new IpamStateError('E_STATE_IO', `cannot create lock file ${path}: ${(e as Error).message}`, { cause: e });
        }
      }
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue; // removed meanwhile: try again
      }
      const pid = Number(text.trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new IpamStateError('E_STATE_LOCKED', `state directory ${dir} is in use by pid ${pid}`);
      }
      // Stale: its owner is gone (or the file is garbage). Take it over.
      try {
        unlinkSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new IpamStateError('E_STATE_IO', `cannot remove stale lock ${path}: ${(e as Error).message}`);
      }
    }
    throw new IpamStateError('E_STATE_LOCKED', `state directory ${dir} is in use (lock ${path} keeps changing)`);
  }

  release(): void {
    try {
      if (readFileSync(this.path, 'utf8').trim() === String(process.pid)) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
