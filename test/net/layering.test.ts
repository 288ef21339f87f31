/**
 * The address math is a leaf everyone may use: src/net imports nothing from
 * cnmkit, the driver, the backends and the daemon simulator do not reach into
 * the IPAM for it, and the conformance suites stay off the reference.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Module specifiers of every import and re-export in a source text. */
function specifiersIn(text: string): string[] {
  const statics = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/gms)].map((m) => m[1]!);
  const dynamics = [...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
  return [...statics, ...dynamics];
}

/** Files under `dir` with an import that `bad` rejects, as `file: specifier`. */
function offenders(dir: string, bad: (spec: string) => boolean): string[] {
  return sources(join(ROOT, dir)).flatMap((f) => specifiersIn(readFileSync(f, 'utf8')).filter(bad).map((s) => `${relative(ROOT, f)}: ${s}`));
}

describe('layering of the address math', () => {
  it('src/net imports only node:, ipaddr.js and itself', () => {
    expect(sources(join(ROOT, 'src/net')).length).toBeGreaterThan(0);
    expect(offenders('src/net', (s) => !(s.startsWith('node:') || s === 'ipaddr.js' || (s.startsWith('./') && !s.includes('..'))))).toEqual([]);
  });

  it('the driver, the backends and the daemon simulator do not import the IPAM', () => {
    for (const dir of ['src/driver', 'src/backend', 'src/daemon']) {
      expect(offenders(dir, (s) => /(^|\/)ipam\//.test(s))).toEqual([]);
    }
  });

  it('the conformance suites import neither the reference IPAM, nor the reference driver, nor the reference plugin', () => {
    // Except where the lifecycle harness lets them play a part of dockerd (its built-in default IPAM, a
    // driver for an IPAM-only plugin), loaded on demand: stand-ins for the daemon, never the models that judge.
    const standIns = ['conformance/lifecycle/harness.ts: ../../src/driver/index.js', 'conformance/lifecycle/harness.ts: ../../src/ipam/index.js'];
    expect(offenders('conformance', (s) => /(^|\/)src\/(ipam|driver|reference)\//.test(s)).filter((o) => !standIns.includes(o))).toEqual([]);
  });

  it('the library (src/) does not reach up into the conformance suites; only the CLI binds them', () => {
    const library = sources(join(ROOT, 'src'))
      .map((f) => relative(ROOT, f))
      .filter((f) => !f.startsWith('src/cli/'))
      .map((f) => f.split('/')[1]!);
    for (const dir of [...new Set(library)].filter((d) => !d.endsWith('.ts'))) {
      expect(offenders(`src/${dir}`, (s) => /(^|\/)conformance\//.test(s))).toEqual([]);
    }
  });

  it('the check itself sees every form of import (so that an empty list means something)', () => {
    const text = [
      "import { a } from '../ipam/a.js';",
      'import type { B } from "x";',
      "import {\n  c,\n  type D,\n} from '../../src/ipam/index.js';",
      "export { e } from './e.js';",
      "export * from 'node:fs';",
      "const s = 'import nothing from here';",
      "const m = await import('../ipam/late.js');",
    ].join('\n');
    expect(specifiersIn(text)).toEqual(['../ipam/a.js', 'x', '../../src/ipam/index.js', './e.js', 'node:fs', '../ipam/late.js']);
  });
});
