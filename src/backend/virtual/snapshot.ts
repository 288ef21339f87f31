/**
 * Snapshots of the virtual backend: plain immutable data that can be compared
 * (`diffSnapshots`), stored as JSON, and printed as a tree (`renderSnapshot`).
 * A snapshot holds only what a user could observe with `ip`, not internal
 * counters, so "set up then tear down" compares equal to "never touched".
 */
import type { LinkInfo, NamespaceKey, RouteInfo } from '../backend.js';

export interface LinkSnapshot extends LinkInfo {
  /** CIDRs in the kernel's order. */
  readonly addresses: readonly string[];
}

export interface NamespaceSnapshot {
  readonly key: NamespaceKey;
  /** By ifindex. */
  readonly links: readonly LinkSnapshot[];
  /** Main table, sorted. */
  readonly routes: readonly RouteInfo[];
}

export interface VirtualSnapshot {
  /** Host namespace first, then in creation order. */
  readonly namespaces: readonly NamespaceSnapshot[];
}

/** `10.0.0.0/24 via 10.0.0.1 dev eth0 proto static metric 0` (iproute2 order). */
export function formatRoute(r: RouteInfo): string {
  const parts = [r.destination];
  if (r.gateway !== null) parts.push(`via ${r.gateway}`);
  parts.push(`dev ${r.dev}`, `proto ${r.protocol}`, `scope ${r.scope}`);
  if (r.source !== null) parts.push(`src ${r.source}`);
  parts.push(`metric ${r.metric}`);
  if (r.onlink) parts.push('onlink');
  return parts.join(' ');
}

function formatLink(l: LinkSnapshot): string {
  const parts = [`${l.index}: ${l.name}`, l.kind, l.up ? 'UP' : 'DOWN', `mtu ${l.mtu}`, l.mac];
  if (l.master !== null) parts.push(`master ${l.master}`);
  if (l.peer !== null) parts.push(`peer ${l.peer.namespace}/${l.peer.name}`);
  return parts.join(' ');
}

/**
 * A readable tree:
 * ```
 * host
 * ├─ 1: lo loopback UP mtu 65536 00:00:00:00:00:00
 * │  ├─ 127.0.0.1/8
 * │  └─ ::1/128
 * └─ routes
 *    └─ 10.0.0.0/24 dev cnm-0a1b2c3d4e5 proto kernel scope link src 10.0.0.1 metric 0
 * ```
 */
export function renderSnapshot(snap: VirtualSnapshot): string {
  const out: string[] = [];
  for (const ns of snap.namespaces) {
    out.push(ns.key);
    const children: { head: string; items: readonly string[] }[] = ns.links.map((l) => ({ head: formatLink(l), items: l.addresses }));
    if (ns.routes.length > 0) children.push({ head: 'routes', items: ns.routes.map(formatRoute) });
    children.forEach((c, i) => {
      const last = i === children.length - 1;
      out.push(`${last ? '└─' : '├─'} ${c.head}`);
      c.items.forEach((item, j) => {
        out.push(`${last ? '   ' : '│  '}${j === c.items.length - 1 ? '└─' : '├─'} ${item}`);
      });
    });
  }
  return `${out.join('\n')}\n`;
}

/**
 * What changed from `a` to `b`, one line per change, stable order:
 * `+ ns X`, `- ns X`, `+ link X/eth0 ...`, `- link ...`, `~ link X/eth0: mtu 1500 -> 1450`,
 * `+ addr X/eth0 10.0.0.2/24`, `- addr ...`, `+ route X ...`, `- route X ...`.
 * Links are matched by name (a rename shows as - and +). Empty when equal.
 */
export function diffSnapshots(a: VirtualSnapshot, b: VirtualSnapshot): string[] {
  const out: string[] = [];
  const nsA = new Map(a.namespaces.map((n) => [n.key, n]));
  const nsB = new Map(b.namespaces.map((n) => [n.key, n]));
  for (const [key, n] of nsA) {
    if (!nsB.has(key)) out.push(`- ns ${key} (${n.links.length} links)`);
  }
  for (const [key, n] of nsB) {
    if (!nsA.has(key)) out.push(`+ ns ${key}`);
    diffNamespace(nsA.get(key), n, out);
  }
  return out;
}

function diffNamespace(a: NamespaceSnapshot | undefined, b: NamespaceSnapshot, out: string[]): void {
  const key = b.key;
  const linksA = new Map((a?.links ?? []).map((l) => [l.name, l]));
  const linksB = new Map(b.links.map((l) => [l.name, l]));
  for (const [name] of linksA) if (!linksB.has(name)) out.push(`- link ${key}/${name}`);
  for (const [name, lb] of linksB) {
    const la = linksA.get(name);
    if (la === undefined) {
      out.push(`+ link ${key}/${formatLink(lb)}`);
      for (const c of lb.addresses) out.push(`+ addr ${key}/${name} ${c}`);
      continue;
    }
    const changes: string[] = [];
    const field = (label: string, x: unknown, y: unknown): void => {
      if (x !== y) changes.push(`${label} ${String(x)} -> ${String(y)}`);
    };
    field('kind', la.kind, lb.kind);
    field('index', la.index, lb.index);
    field('up', la.up, lb.up);
    field('mtu', la.mtu, lb.mtu);
    field('mac', la.mac, lb.mac);
    field('master', la.master, lb.master);
    field('peer', la.peer === null ? null : `${la.peer.namespace}/${la.peer.name}`, lb.peer === null ? null : `${lb.peer.namespace}/${lb.peer.name}`);
    if (changes.length > 0) out.push(`~ link ${key}/${name}: ${changes.join(', ')}`);
    for (const c of la.addresses) if (!lb.addresses.includes(c)) out.push(`- addr ${key}/${name} ${c}`);
    for (const c of lb.addresses) if (!la.addresses.includes(c)) out.push(`+ addr ${key}/${name} ${c}`);
  }
  const routesA = (a?.routes ?? []).map(formatRoute);
  const routesB = b.routes.map(formatRoute);
  for (const r of routesA) if (!routesB.includes(r)) out.push(`- route ${key} ${r}`);
  for (const r of routesB) if (!routesA.includes(r)) out.push(`+ route ${key} ${r}`);
}
