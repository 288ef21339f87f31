/**
 * Deterministic ids: the simulator's stand-in for Go's `stringid.GenerateRandomID`
 * and `netutils.GenerateRandomMAC`. Equal seeds give equal ids, so recorded
 * call logs can be compared byte for byte.
 */

export interface IdGenerator {
  /** 64 lower-case hex characters (network, endpoint, container and sandbox ids). */
  id(): string;
  /** A locally administered unicast MAC, `02:42:xx:xx:xx:xx`. */
  mac(): string;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** splitmix32-style generator: fast, good enough for ids, fully reproducible. */
export function createIdGenerator(seed = 1): IdGenerator {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const hex8 = (): string => {
    const v = next();
    return HEX[v >>> 24]! + HEX[(v >>> 16) & 255]! + HEX[(v >>> 8) & 255]! + HEX[v & 255]!;
  };
  return {
    id() {
      let s = '';
      for (let i = 0; i < 8; i++) s += hex8();
      return s;
    },
    mac() {
      const h = hex8();
      return `02:42:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}`;
    },
  };
}
