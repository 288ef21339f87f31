/**
 * v1 plugin discovery by name, exactly as dockerd's local registry
 * (protocol.md §1.1): sockets first (`N.sock`, `N/N.sock`), then per spec
 * directory `N.spec`, `N/N.spec`, `N.json`, `N/N.json`; the first existing
 * file wins. Directories are overridable so tests never touch /run or /etc.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { PLUGIN_SOCKET_DIR, PLUGIN_SPEC_DIRS } from '../protocol/constants.js';
import { goDecode, s } from '../protocol/schema.js';
import { PluginNotFoundError, PluginSpecError } from './errors.js';
import { goDecodeFirst } from './gojson.js';
import { nextDelay, realClock, type RetryOptions } from './retry.js';
import type { SocketAddress, TlsSettings } from './socket-transport.js';

export interface DiscoveryDirs {
  /** Default `/run/docker/plugins`. */
  readonly socketDir?: string;
  /** Default `/etc/docker/plugins`, `/usr/lib/docker/plugins`. */
  readonly specDirs?: readonly string[];
}

/** A plugin found by name. */
export interface PluginEndpoint {
  readonly name: string;
  readonly source: 'sock' | 'spec' | 'json';
  /** The file that matched. */
  readonly file: string;
  /** The address as dockerd stores it, e.g. `unix:///run/docker/plugins/p.sock`. */
  readonly addr: string;
  /** TLS settings dockerd would use for an `https` address. */
  readonly tls?: TlsSettings;
}

interface Candidate {
  readonly file: string;
  readonly source: PluginEndpoint['source'];
}

/** Every path dockerd looks at for `name`, in order. */
export function discoveryCandidates(name: string, dirs: DiscoveryDirs = {}): Candidate[] {
  checkName(name);
  const socketDir = dirs.socketDir ?? PLUGIN_SOCKET_DIR;
  const specDirs = dirs.specDirs ?? PLUGIN_SPEC_DIRS;
  const pair = (base: string, ext: string): string[] => [path.join(base, name + ext), path.join(base, name, name + ext)];
  const out: Candidate[] = pair(socketDir, '.sock').map((file) => ({ file, source: 'sock' as const }));
  for (const d of specDirs) {
    for (const file of pair(d, '.spec')) out.push({ file, source: 'spec' });
    for (const file of pair(d, '.json')) out.push({ file, source: 'json' });
  }
  return out;
}

function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new UsageError(`invalid plugin name ${JSON.stringify(name)}: a name is a file name without extension`);
  }
}

/** `.json` spec file: Go decodes it case-insensitively into {Name, Addr, TLSConfig}. */
const PluginJson = s.object({
  Name: s.optional(s.string()),
  Addr: s.optional(s.string()),
  TLSConfig: s.optional(
    s.nullable(
      s.object({
        CAFile: s.optional(s.string()),
        CertFile: s.optional(s.string()),
        KeyFile: s.optional(s.string()),
        InsecureSkipVerify: s.optional(s.boolean()),
        Passphrase: s.optional(s.string()),
        ExclusiveRootPools: s.optional(s.boolean()),
        MinVersion: s.optional(s.integer()),
      }),
    ),
  ),
});

/** Parse a `.spec` text: one URL, scheme mandatory; TLS always skips verification. */
export function parseSpecText(file: string, name: string, text: string): PluginEndpoint {
  const addr = text.trim();
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(addr)) throw new PluginSpecError(file, 'Unknown protocol');
  return { name, source: 'spec', file, addr, tls: { insecureSkipVerify: true } };
}

/** Parse a `.json` text (`Addr`, `TLSConfig`); TLSConfig without CAFile forces InsecureSkipVerify. */
export function parseJsonText(file: string, name: string, text: string): PluginEndpoint {
  const first = goDecodeFirst(text);
  if (!first.ok) throw new PluginSpecError(file, first.message);
  if (first.trailing !== '') throw new PluginSpecError(file, `invalid character ${JSON.stringify(first.trailing[0])} after top-level value`);
  const decoded = goDecode(PluginJson, first.value);
  if (!decoded.ok) throw new PluginSpecError(file, decoded.message);
  const v = decoded.value;
  const addr = v.Addr ?? '';
  const t = v.TLSConfig;
  let tls: TlsSettings | undefined;
  // A missing or null TLSConfig leaves Go's pointer nil: default verification for https.
  if (t !== null && t !== undefined) {
    const ca = t.CAFile ?? '';
    tls = {
      ...(ca !== '' ? { caFile: ca } : {}),
      ...(t.CertFile ? { certFile: t.CertFile } : {}),
      ...(t.KeyFile ? { keyFile: t.KeyFile } : {}),
      insecureSkipVerify: ca === '' ? true : (t.InsecureSkipVerify ?? false),
    };
  }
  return { name, source: 'json', file, addr, ...(tls ? { tls } : {}) };
}

async function isSocket(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isSocket();
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** One lookup pass. Throws PluginNotFoundError (with the paths tried) or PluginSpecError. */
export async function findPlugin(name: string, dirs: DiscoveryDirs = {}): Promise<PluginEndpoint> {
  const candidates = discoveryCandidates(name, dirs);
  for (const c of candidates) {
    if (c.source === 'sock') {
      if (await isSocket(c.file)) return { name, source: 'sock', file: c.file, addr: `unix://${c.file}`, tls: { insecureSkipVerify: true } };
      continue;
    }
    if (!(await exists(c.file))) continue;
    let text: string;
    try {
      text = await readFile(c.file, 'utf8');
    } catch (e) {
      throw new PluginSpecError(c.file, (e as Error).message);
    }
    return c.source === 'spec' ? parseSpecText(c.file, name, text) : parseJsonText(c.file, name, text);
  }
  throw new PluginNotFoundError(name, candidates.map((c) => c.file));
}

/**
 * Lookup with dockerd's retry (same backoff as calls, ≈15 s until "not
 * found") when `retry.mode` is `dockerd`; one pass otherwise.
 */
export async function lookupPlugin(name: string, dirs: DiscoveryDirs = {}, retry: RetryOptions = {}): Promise<PluginEndpoint> {
  const clock = retry.clock ?? realClock;
  const scale = retry.scale ?? 1;
  const start = clock.now();
  for (let retries = 0; ; retries++) {
    try {
      return await findPlugin(name, dirs);
    } catch (e) {
      if (!(e instanceof PluginNotFoundError) || retry.mode !== 'dockerd') throw e;
      const delay = nextDelay(retries, start, clock, scale);
      if (delay === undefined) throw e;
      await clock.sleep(delay);
    }
  }
}

/**
 * The address a plugin URL names, as pkg/plugins' transport dials it:
 * `unix://` paths, `tcp://` and `http://` plain HTTP, `https://` TLS.
 */
export function parsePluginAddr(addr: string, tls?: TlsSettings): SocketAddress {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(addr.trim());
  if (m === null) throw new UsageError(`invalid plugin address ${JSON.stringify(addr)}: expected unix://, tcp://, http:// or https://`);
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (scheme === 'unix') {
    if (rest === '') throw new UsageError(`invalid plugin address ${JSON.stringify(addr)}: empty socket path`);
    return { kind: 'unix', path: rest };
  }
  if (scheme !== 'tcp' && scheme !== 'http' && scheme !== 'https') {
    throw new UsageError(`invalid plugin address ${JSON.stringify(addr)}: unsupported scheme ${scheme}`);
  }
  const hostport = rest.split('/')[0]!;
  const hm = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(hostport);
  if (hm === null) throw new UsageError(`invalid plugin address ${JSON.stringify(addr)}: bad host:port`);
  const host = hm[1] ?? hm[2]!;
  const port = hm[3] !== undefined ? Number(hm[3]) : scheme === 'https' ? 443 : 80;
  if (port < 1 || port > 65535) throw new UsageError(`invalid plugin address ${JSON.stringify(addr)}: bad port`);
  // TLS only for https; tcp:// always means plain HTTP (protocol.md §1.1).
  if (scheme === 'https') return { kind: 'tls', host, port, tls: tls ?? {}, authority: hostport };
  return { kind: 'tcp', host, port, authority: hostport };
}

/** Socket of a managed (v2) plugin as the daemon dials it (protocol.md §1.2). */
export function managedPluginSocket(pluginId: string, socket: string, root = PLUGIN_SOCKET_DIR): string {
  if (!/^[0-9a-f]{64}$/.test(pluginId)) throw new UsageError(`invalid plugin id ${JSON.stringify(pluginId)}: expected 64 hex digits`);
  if (socket === '' || socket.includes('/') || socket.includes('\0')) throw new UsageError(`invalid socket name ${JSON.stringify(socket)}`);
  return path.join(root, pluginId, socket);
}
