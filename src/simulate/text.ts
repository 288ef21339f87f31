/**
 * The terminal view of a trace: each daemon action, the plugin calls it made
 * with the plugin's answers, and the state after it (pools with their
 * allocations and holders, the namespace/link tree).
 */
import { poolCounts } from './poolmap.js';
import type { NamespaceView, PoolView, SimState, Trace, TraceCall, TraceStep } from './trace.js';

export interface TextOptions {
  /** Longest request/reply body printed per call (characters). */
  readonly bodyWidth?: number;
  /** Holders listed per pool before "...". */
  readonly maxHolders?: number;
}

export function renderText(trace: Trace, opts: TextOptions = {}): string {
  const out: string[] = [];
  out.push(`# ${trace.title}`);
  out.push(...wrap(trace.explain, 88).map((l) => `  ${l}`));
  out.push(`  (${trace.source}; target ${trace.target}; profile ${trace.profile})`, '');
  for (const s of trace.steps) out.push(...renderStep(s, opts), '');
  if (trace.problems.length > 0) {
    out.push(`PROBLEMS (${trace.problems.length}):`);
    for (const p of trace.problems) out.push(`  - ${p}`);
  } else out.push('all expectations met');
  return `${out.join('\n')}\n`;
}

export function renderStep(s: TraceStep, opts: TextOptions = {}): string[] {
  const out: string[] = [];
  out.push(s.index === 0 ? '== step 0: initial state' : `== step ${s.index}: ${s.action}`);
  if (s.note) out.push(...wrap(s.note, 86).map((l) => `   ${l}`));
  for (const c of s.calls) out.push(...renderCall(c, opts.bodyWidth ?? 160));
  if (s.error !== null) out.push(`   ${s.expectedError !== undefined ? 'fails as expected' : 'ERROR'}: ${s.error}`);
  else if (s.expectedError !== undefined) out.push(`   UNEXPECTED SUCCESS: expected an error containing "${s.expectedError}"`);
  out.push(...renderState(s.state, opts).map((l) => `   ${l}`));
  return out;
}

function renderCall(c: TraceCall, width: number): string[] {
  const req = clip(shortIds(JSON.stringify(c.request) ?? ''), width);
  const rep = c.reply === null ? '(no reply)' : clip(shortIds(JSON.stringify(c.reply) ?? ''), width);
  const mark = c.outcome === 'ok' ? '->' : '!!';
  return [`   ${mark} ${c.path} ${req}`, `      <- ${rep}${c.outcome === 'ok' ? '' : `  [${c.outcome}${c.injected ? ', injected' : ''}${c.error ? `: ${c.error}` : ''}]`}`];
}

export function renderState(st: SimState, opts: TextOptions = {}): string[] {
  const out: string[] = [];
  if (st.pools.length === 0) out.push('pools: none');
  for (const p of st.pools) out.push(...renderPool(p, opts.maxHolders ?? 12));
  const running = st.containers.filter((c) => c.running).map((c) => c.name);
  const stopped = st.containers.filter((c) => !c.running).map((c) => c.name);
  if (st.containers.length > 0) out.push(`containers: ${running.length > 0 ? `running ${running.join(', ')}` : 'none running'}${stopped.length > 0 ? `; stopped ${stopped.join(', ')}` : ''}`);
  if (st.tree !== null) out.push(...renderTree(st.tree));
  return out;
}

function renderPool(p: PoolView, maxHolders: number): string[] {
  const c = poolCounts(p);
  const head = `pool ${p.pool}${p.range ? ` range ${p.range}` : ''} (${p.network === null ? `no network: ${p.leak ?? 'orphaned'}` : `network ${p.network}`}): ${c.allocated} allocated, ${c.free} free of ${c.size}`;
  const extra = [c.leaked > 0n ? `${c.leaked} leaked` : '', c.stale > 0 ? `${c.stale} held but free in the IPAM` : ''].filter(Boolean).join(', ');
  const out = [extra ? `${head} [${extra}]` : head];
  const byAddr = [...p.holders].sort((a, b) => cmpAddr(a.address, b.address));
  for (const h of byAddr.slice(0, maxHolders)) out.push(`  ${h.address.padEnd(p.family === 4 ? 15 : 24)} ${h.role === 'container' || h.role === 'leaked' ? h.who : `${h.role}${h.who !== h.role ? ` ${h.who}` : ''}`}`);
  if (byAddr.length > maxHolders) out.push(`  ... ${byAddr.length - maxHolders} more`);
  if (p.runs !== null && p.runs.length > 0 && c.leaked > 0n) out.push(`  IPAM runs: ${p.runs.slice(0, 6).map((r) => (r.first === r.last ? r.first : `${r.first}-${r.last}`)).join(', ')}${p.runs.length > 6 ? ', ...' : ''}`);
  return out;
}

export function renderTree(tree: readonly NamespaceView[]): string[] {
  const out: string[] = [];
  for (const ns of tree) {
    out.push(`netns ${ns.label}${ns.label !== ns.key ? ` (${ns.key})` : ''}`);
    const names = new Set(ns.links.map((l) => l.name));
    const line = (l: NamespaceView['links'][number], indent: string): string =>
      `${indent}${l.name} ${l.kind}${l.up ? '' : ' DOWN'}${l.addresses.length > 0 ? ` ${l.addresses.join(' ')}` : ''}${l.peer ? ` <-> ${l.peer.name}@${l.peer.namespace === ns.key ? 'same' : labelOf(tree, l.peer.namespace)}` : ''}`;
    for (const l of ns.links) {
      if (l.master !== null && names.has(l.master)) continue;
      out.push(line(l, '  '));
      for (const port of ns.links.filter((x) => x.master === l.name)) out.push(line(port, '    └ '));
    }
  }
  return out;
}

function labelOf(tree: readonly NamespaceView[], key: string): string {
  return tree.find((n) => n.key === key)?.label ?? key;
}

function cmpAddr(a: string, b: string): number {
  const pa = a.includes(':') ? a : a.split('.').map((x) => x.padStart(3, '0')).join('.');
  const pb = b.includes(':') ? b : b.split('.').map((x) => x.padStart(3, '0')).join('.');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/** 64-hex ids as docker prints them: the first 12 characters. */
function shortIds(s: string): string {
  return s.replace(/\b([0-9a-f]{12})[0-9a-f]{52}\b/g, '$1');
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split(/\n\s*\n/)) {
    let line = '';
    for (const w of para.split(/\s+/).filter(Boolean)) {
      if (line !== '' && line.length + 1 + w.length > width) {
        out.push(line);
        line = w;
      } else line = line === '' ? w : `${line} ${w}`;
    }
    if (line !== '') out.push(line);
  }
  return out;
}
