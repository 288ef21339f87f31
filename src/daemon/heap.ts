/**
 * Go's container/heap over a slice, used the way libnetwork keeps a sandbox's
 * endpoints (`epHeap`). dockerd iterates the *array* (not a sorted copy) to
 * pick the gateway endpoint and to tear endpoints down, so the exact sift
 * order matters for which endpoint gets ProgramExternalConnectivity.
 */

export type Less<T> = (a: T, b: T) => boolean;

function up<T>(h: T[], j: number, less: Less<T>): void {
  for (;;) {
    const i = Math.floor((j - 1) / 2);
    if (i === j || j <= 0 || !less(h[j]!, h[i]!)) break;
    [h[i], h[j]] = [h[j]!, h[i]!];
    j = i;
  }
}

function down<T>(h: T[], i0: number, n: number, less: Less<T>): boolean {
  let i = i0;
  for (;;) {
    const j1 = 2 * i + 1;
    if (j1 >= n || j1 < 0) break;
    let j = j1;
    const j2 = j1 + 1;
    if (j2 < n && less(h[j2]!, h[j1]!)) j = j2;
    if (!less(h[j]!, h[i]!)) break;
    [h[i], h[j]] = [h[j]!, h[i]!];
    i = j;
  }
  return i > i0;
}

/** heap.Push */
export function heapPush<T>(h: T[], x: T, less: Less<T>): void {
  h.push(x);
  up(h, h.length - 1, less);
}

/** heap.Remove(h, i): returns the removed element. */
export function heapRemove<T>(h: T[], i: number, less: Less<T>): T {
  const n = h.length - 1;
  if (n !== i) {
    [h[i], h[n]] = [h[n]!, h[i]!];
    if (!down(h, i, n, less)) up(h, i, less);
  }
  return h.pop()!;
}
