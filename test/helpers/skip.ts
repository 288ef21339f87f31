/**
 * The one opt-out for tests that need a system component:
 * `CNMKIT_SKIP=root,docker,etcd,browser` (any of them, or `all`).
 *
 * Gating code only looks (files, `--version` probes, a daemon's info); it never
 * installs or starts anything: that is scripts/setup-*.sh's job. A test that
 * needs a component skips with the printed reason when it is missing or opted out.
 */

export const COMPONENTS = ['root', 'docker', 'etcd', 'browser'] as const;
export type Component = (typeof COMPONENTS)[number];

function optedOutSet(): ReadonlySet<string> {
  const raw = process.env['CNMKIT_SKIP'] ?? '';
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const n of names) {
    if (n !== 'all' && !(COMPONENTS as readonly string[]).includes(n)) {
      // A typo would silently run what the user meant to skip.
      throw new Error(`CNMKIT_SKIP: unknown component "${n}" (use ${COMPONENTS.join(', ')} or all, comma-separated)`);
    }
  }
  return new Set(names);
}

/** `CNMKIT_SKIP=...` when the user opted out of tests needing `component`, else null. */
export function optedOut(component: Component): string | null {
  const set = optedOutSet();
  return set.has('all') || set.has(component) ? `CNMKIT_SKIP=${process.env['CNMKIT_SKIP']}` : null;
}
