/**
 * Random scenarios for `cnmkit simulate --seed N --steps K` (fast-check with
 * the seed), and the shrinker that cuts a failing scenario down to the steps
 * that matter. Names, subnets and fixed IPs come from small fixed sets so
 * that steps collide: the same address asked twice, overlapping pools, a
 * network removed under its containers, restarts between stop and start.
 */
import fc from 'fast-check';
import type { FaultSpec, Scenario, ScenarioAction, ScenarioStep, SubnetSpec } from './scenario.js';

const NETWORKS = ['n1', 'n2', 'n3'];
const CONTAINERS = ['c1', 'c2', 'c3', 'c4'];

const SUBNETS: readonly { readonly subnets: readonly SubnetSpec[]; readonly ipv6: boolean }[] = [
  { subnets: [], ipv6: false },
  { subnets: [{ subnet: '10.7.0.0/29' }], ipv6: false },
  { subnets: [{ subnet: '10.7.0.0/28' }], ipv6: false },
  { subnets: [{ subnet: '10.7.1.0/24', ipRange: '10.7.1.8/29', gateway: '10.7.1.254', aux: { r: '10.7.1.3' } }], ipv6: false },
  { subnets: [{ subnet: '10.7.2.0/28' }, { subnet: 'fd00:7::/125' }], ipv6: true },
];
const FIXED_IPS = ['10.7.0.2', '10.7.0.5', '10.7.1.3', '10.7.1.9', '10.7.2.2'];
const FAULT_CALLS = [
  'IpamDriver.RequestPool',
  'IpamDriver.RequestAddress',
  'IpamDriver.ReleaseAddress',
  'IpamDriver.ReleasePool',
  'NetworkDriver.CreateNetwork',
  'NetworkDriver.CreateEndpoint',
  'NetworkDriver.Join',
  'NetworkDriver.ProgramExternalConnectivity',
  'NetworkDriver.Leave',
  'NetworkDriver.DeleteEndpoint',
];

/** Dockerd's default-address-pools for generated scenarios: four /24s, soon exhausted. */
export const FUZZ_POOLS = [{ base: '10.8.0.0/22', size: 24 }] as const;

const network = fc.constantFrom(...NETWORKS);
const container = fc.constantFrom(...CONTAINERS);
/** A fixed --ip one time in four. */
const fixedIp: fc.Arbitrary<string | undefined> = fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...FIXED_IPS) });

const actionArb: fc.Arbitrary<ScenarioAction> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ name: network, cfg: fc.constantFrom(...SUBNETS) }).map(({ name, cfg }): ScenarioAction => ({ kind: 'network-create', name, subnets: cfg.subnets, ipv6: cfg.ipv6, internal: false, ipamOptions: {} })) },
  { weight: 1, arbitrary: network.map((name): ScenarioAction => ({ kind: 'network-rm', name })) },
  {
    weight: 4,
    arbitrary: fc.record({ name: container, networks: fc.uniqueArray(network, { minLength: 1, maxLength: 2 }), ip: fixedIp }).map(
      ({ name, networks, ip }): ScenarioAction => ({ kind: 'run', name, networks, ...(ip !== undefined ? { ip } : {}) }),
    ),
  },
  { weight: 3, arbitrary: container.map((name): ScenarioAction => ({ kind: 'stop', name })) },
  { weight: 3, arbitrary: container.map((name): ScenarioAction => ({ kind: 'start', name })) },
  {
    weight: 1,
    arbitrary: fc.record({ container, network, ip: fixedIp }).map(({ container: c, network: n, ip }): ScenarioAction => ({ kind: 'network-connect', container: c, network: n, ...(ip !== undefined ? { ip } : {}) })),
  },
  { weight: 1, arbitrary: fc.record({ container, network }).map(({ container: c, network: n }): ScenarioAction => ({ kind: 'network-disconnect', container: c, network: n })) },
  { weight: 1, arbitrary: fc.uniqueArray(container, { maxLength: 4 }).map((startOrder): ScenarioAction => ({ kind: 'daemon-restart', startOrder })) },
);

/** A plugin failure in one step of eight. */
const faultArb: fc.Arbitrary<FaultSpec | undefined> = fc.oneof(
  { weight: 7, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.record({ call: fc.constantFrom(...FAULT_CALLS), nth: fc.integer({ min: 1, max: 2 }) }).map(({ call, nth }) => ({ call, nth, error: `injected failure of ${call}` })) },
);

export const stepArbitrary: fc.Arbitrary<ScenarioStep> = fc.record({ action: actionArb, fault: faultArb }).map(({ action, fault }) => ({ action, line: 0, ...(fault ? { fault } : {}) }));

/** Configurations that do not overlap each other, for the networks made up front. */
const DISJOINT = [0, 1, 3, 4];

const setupArb: fc.Arbitrary<ScenarioStep[]> = fc
  .shuffledSubarray(DISJOINT, { minLength: NETWORKS.length, maxLength: NETWORKS.length })
  .map((cfgs) => cfgs.map((c, i): ScenarioStep => ({ action: { kind: 'network-create', name: NETWORKS[i], subnets: SUBNETS[c].subnets, ipv6: SUBNETS[c].ipv6, internal: false, ipamOptions: {} }, line: 0 })));

/**
 * The random scenario of a seed: the same seed and step count give the same
 * steps. The first steps create the networks (so that most later steps have
 * something to act on), the rest are random.
 */
export function generateScenario(seed: number, steps: number): Scenario {
  const setupCount = Math.min(NETWORKS.length, Math.max(0, steps - 1));
  const [[setup, rest]] = fc.sample(fc.tuple(setupArb, fc.array(stepArbitrary, { minLength: steps - setupCount, maxLength: steps - setupCount })), { seed, numRuns: 1 });
  return {
    title: `Random scenario (seed ${seed}, ${steps} steps)`,
    explain: `Generated by cnmkit simulate --seed ${seed} --steps ${steps}: random docker commands and plugin failures; the invariants are checked after every step.`,
    file: `seed ${seed}`,
    defaultAddressPools: FUZZ_POOLS,
    steps: [...setup.slice(0, setupCount), ...rest],
  };
}

/**
 * Cuts `steps` down while `fails` keeps failing: drop chunks (halves, quarters,
 * ... single steps), then drop faults. Deterministic; at most `budget` runs.
 */
export async function shrinkSteps(steps: readonly ScenarioStep[], fails: (steps: readonly ScenarioStep[]) => Promise<boolean>, budget = 400): Promise<ScenarioStep[]> {
  let cur = [...steps];
  let runs = 0;
  const tryRun = async (cand: ScenarioStep[]): Promise<boolean> => {
    if (runs >= budget) return false;
    runs++;
    return fails(cand);
  };
  for (let chunk = Math.max(1, cur.length >> 1); chunk >= 1; chunk = chunk === 1 ? 0 : chunk >> 1) {
    let changed = true;
    while (changed) {
      changed = false;
      for (let i = 0; i + chunk <= cur.length; ) {
        const cand = [...cur.slice(0, i), ...cur.slice(i + chunk)];
        if (cand.length > 0 && (await tryRun(cand))) {
          cur = cand;
          changed = true;
        } else i += chunk;
      }
    }
  }
  for (let i = 0; i < cur.length; i++) {
    if (!cur[i].fault) continue;
    const { fault: _drop, ...rest } = cur[i];
    const cand = [...cur.slice(0, i), rest, ...cur.slice(i + 1)];
    if (await tryRun(cand)) cur = cand;
  }
  return cur;
}
