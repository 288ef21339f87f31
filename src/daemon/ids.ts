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
  const hex8 = (): string => next().toString(16).padStart(8, '0');
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
