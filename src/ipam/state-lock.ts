/**
 * One owner per state directory: a `lock` file created with O_EXCL holding
 * the owner's pid and its start time. A lock left by a dead process (kill -9)
 * is taken over; a live owner (including another opener in this very process)
 * makes the second opener fail. A pid that now names another process (pids
 * are reused: in a container the plugin is always pid 1, also after a restart)
 * is told apart by its start time, or, for our own pid, by what this process holds.
 */
import { openSync, writeSync, closeSync, readFileSync, unlinkSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { IpamStateError } from './errors.js';

/** Lock files this process holds (its own pid in a lock it does not hold is a previous incarnation's). */
const held = new Set<string>();

/** Kernel start time of a process (jiffies since boot), or '' where /proc cannot tell. */
function startTimeOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces, so count from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

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
          writeSync(fd, `${process.pid} ${startTimeOf(process.pid)}\n`);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        held.add(path);
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
      const [pidText = '', started = ''] = text.trim().split(/\s+/);
      const pid = Number(pidText);
      const owner = Number.isInteger(pid) && pid > 0;
      const stillThatProcess = owner && (pid === process.pid ? held.has(path) : isAlive(pid) && (started === '' || startTimeOf(pid) === '' || startTimeOf(pid) === started));
      if (stillThatProcess) {
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
    held.delete(this.path);
    try {
      if (readFileSync(this.path, 'utf8').trim().split(/\s+/)[0] === String(process.pid)) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
