/**
 * Namespace keys of the Backend contract -> netns files on this host.
 *
 * - `HOST_NAMESPACE` is the namespace the backend was configured with: the
 *   process's own (default) or a named netns (`hostNetns`, used by tests so
 *   they never touch the real host's links).
 * - A key without `/` is an `ip netns` name: `/run/netns/<key>`.
 * - A key with `/` is a netns file path, as dockerd's sandbox keys are
 *   (`/var/run/docker/netns/<id>`). Only absolute, normalised paths whose
 *   directory is one of the allowed sandbox roots are accepted, so no request
 *   can point the backend at an arbitrary file.
 */
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname, posix } from 'node:path';

export const NETNS_RUN_DIR = '/run/netns';

/** Directories whose files may be used as sandbox keys (besides `ip netns` names). */
export const DEFAULT_SANDBOX_ROOTS: readonly string[] = ['/var/run/docker/netns', '/run/docker/netns', '/var/run/netns', '/run/netns'];

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export type NetnsRef =
  | { readonly kind: 'name'; readonly name: string; readonly file: string }
  | { readonly kind: 'path'; readonly file: string };

/** Why `key` cannot name a namespace, or null. */
export function netnsKeyProblem(key: string, roots: readonly string[]): string | null {
  if (key === '') return 'empty namespace key';
  if (!key.includes('/')) return NAME.test(key) ? null : `"${key}" is not a valid netns name`;
  if (!key.startsWith('/') || posix.normalize(key) !== key || key.includes('\0')) return `"${key}" is not an absolute normalised path`;
  const base = posix.basename(key);
  if (!NAME.test(base)) return `"${base}" is not a valid netns file name`;
  if (!roots.includes(posix.dirname(key))) return `"${key}" is outside the allowed sandbox directories (${roots.join(', ')})`;
  return null;
}

export function netnsRef(key: string): NetnsRef {
  if (!key.includes('/')) return { kind: 'name', name: key, file: `${NETNS_RUN_DIR}/${key}` };
  return { kind: 'path', file: key };
}

function run(file: string, args: readonly string[]): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, [...args], (err, _out, stderr) => resolve({ ok: err === null, stderr: stderr.trim() || (err?.message ?? '') }));
  });
}

/** Creates the namespace file; resolves to ip's/unshare's error text on failure. */
export async function createNetnsFile(ref: NetnsRef): Promise<string | null> {
  if (ref.kind === 'name') {
    const r = await run('ip', ['netns', 'add', ref.name]);
    return r.ok ? null : r.stderr;
  }
  // `ip netns add` only knows /run/netns; for other paths bind a new netns onto the file.
  try {
    mkdirSync(dirname(ref.file), { recursive: true });
    closeSync(openSync(ref.file, 'wx'));
  } catch (e) {
    return (e as Error).message;
  }
  const r = await run('unshare', [`--net=${ref.file}`, 'true']);
  if (!r.ok) rmSync(ref.file, { force: true });
  return r.ok ? null : r.stderr;
}

/** Unmounts and removes the namespace file. */
export async function deleteNetnsFile(ref: NetnsRef): Promise<string | null> {
  if (ref.kind === 'name') {
    const r = await run('ip', ['netns', 'del', ref.name]);
    return r.ok ? null : r.stderr;
  }
  let r = await run('umount', [ref.file]);
  // Still open somewhere (a process inside it): detach now, the kernel frees it later.
  if (!r.ok && /busy/i.test(r.stderr)) r = await run('umount', ['--lazy', ref.file]);
  if (!r.ok) return r.stderr;
  rmSync(ref.file, { force: true });
  return null;
}
