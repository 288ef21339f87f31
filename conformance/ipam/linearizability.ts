/**
 * Linearizability of an address history: every address is a register that is
 * free or allocated. A concurrent history is linearizable when each address's
 * operations can be ordered, respecting real time, so that every successful
 * allocation finds the address free and every successful release finds it
 * allocated (Wing & Gong search; per address the histories are tiny).
 */
export interface AddressOp {
  readonly kind: 'allocate' | 'release';
  readonly address: string;
  /** Invocation and response times (ms, same clock). */
  readonly start: number;
  readonly end: number;
  /** Whether the plugin answered success (failed releases may or may not have taken effect). */
  readonly ok: boolean;
  /** Index into the caller's call list, for the counterexample. */
  readonly ref: number;
}

export interface NonLinearizable {
  readonly address: string;
  readonly ops: readonly AddressOp[];
}

/** Returns the first address whose history cannot be linearized, or null. */
export function findNonLinearizable(ops: readonly AddressOp[], initiallyHeld: ReadonlySet<string>): NonLinearizable | null {
  const byAddress = new Map<string, AddressOp[]>();
  for (const op of ops) {
    if (op.kind === 'allocate' && !op.ok) continue;
    let list = byAddress.get(op.address);
    if (!list) byAddress.set(op.address, (list = []));
    list.push(op);
  }
  for (const [address, list] of byAddress) {
    if (list.length > 16) continue; // keep the search bounded; storms give a few ops per address
    if (!linearizable(list, initiallyHeld.has(address))) return { address, ops: list };
  }
  return null;
}

function linearizable(ops: readonly AddressOp[], held: boolean): boolean {
  const n = ops.length;
  const seen = new Set<string>();
  const search = (done: number, state: boolean): boolean => {
    if (done === (1 << n) - 1) return true;
    const key = `${done}:${state}`;
    if (seen.has(key)) return false;
    seen.add(key);
    // An op can go next only if it started before every other pending op ended.
    let minEnd = Infinity;
    for (let i = 0; i < n; i++) if (!(done & (1 << i))) minEnd = Math.min(minEnd, ops[i]!.end);
    for (let i = 0; i < n; i++) {
      if (done & (1 << i)) continue;
      const op = ops[i]!;
      if (op.start > minEnd) continue;
      if (op.kind === 'allocate') {
        if (!state && search(done | (1 << i), true)) return true;
      } else if (op.ok) {
        if (state && search(done | (1 << i), false)) return true;
      } else {
        // A failed release: took effect or not.
        if (search(done | (1 << i), state)) return true;
        if (state && search(done | (1 << i), false)) return true;
      }
    }
    return false;
  };
  return search(0, held);
}
