/**
 * Runs a scenario step by step on a simulation host (the daemon simulator
 * with its plugin, see host.ts) and records the trace: the action, the plugin
 * calls it caused, the error the user saw, and the state after it. Checks the
 * scenario's expectations and, optionally, invariants after every step.
 */
import type { CallRecord } from '../client/types.js';
import { addressPart, parseIp } from '../net/index.js';
import { actionText, type FaultSpec, type Scenario, type ScenarioAction, type ScenarioExpect } from './scenario.js';
import { poolCounts } from './poolmap.js';
import { TRACE_VERSION, traceCall, type SimState, type Trace, type TraceCall, type TraceStep } from './trace.js';

/** What the runner needs from a daemon + plugin. */
export interface SimHost {
  /** `reference` or the socket path. */
  readonly target: string;
  readonly profile: string;
  /** Performs one docker action; rejects with the daemon's error (message = what the user sees). */
  perform(action: ScenarioAction): Promise<void>;
  state(): Promise<SimState>;
  /** Invariant violations right now (empty = fine). */
  invariants(state: SimState): Promise<string[]>;
  /** Fail the nth matching call from now on; returns a function telling whether a record was injected. */
  injectFault(fault: FaultSpec): void;
  clearFaults(): void;
  /** Whether the record was a failure the host injected. */
  wasInjected(record: CallRecord): boolean;
  onCall(listener: (r: CallRecord) => void): () => void;
  close(): Promise<void>;
}

export interface RunOptions {
  /** Check invariants after every step; a violation is a problem and stops the run. */
  readonly invariants?: boolean;
  /** Stop at the first problem (fuzzing). */
  readonly stopOnProblem?: boolean;
  /** Steps may fail without `expect-error` (generated scenarios). */
  readonly allowErrors?: boolean;
}

export interface RunResult {
  readonly trace: Trace;
  /** Index of the step at which an invariant broke, or null. */
  readonly violationAt: number | null;
}

export async function runOnHost(scenario: Scenario, host: SimHost, opts: RunOptions = {}): Promise<RunResult> {
  const steps: TraceStep[] = [];
  const problems: string[] = [];
  let violationAt: number | null = null;
  let calls: TraceCall[] = [];
  const off = host.onCall((r) => calls.push(traceCall(r, host.wasInjected(r))));
  try {
    const initial = await host.state();
    steps.push({ index: 0, action: '', error: null, calls: [], state: initial });
    for (const [i, step] of scenario.steps.entries()) {
      const index = i + 1;
      calls = [];
      if (step.fault) host.injectFault(step.fault);
      let error: string | null = null;
      try {
        await host.perform(step.action);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      } finally {
        host.clearFaults();
      }
      const state = await host.state();
      const where = `step ${index} (${actionText(step.action)}${step.line > 0 ? `, line ${step.line}` : ''})`;
      if (step.expectError !== undefined) {
        if (error === null) problems.push(`${where}: expected an error containing "${step.expectError}", but it succeeded`);
        else if (!error.includes(step.expectError)) problems.push(`${where}: expected an error containing "${step.expectError}", got: ${error}`);
      } else if (error !== null && !opts.allowErrors) problems.push(`${where}: unexpected error: ${error}`);
      steps.push({
        index,
        action: actionText(step.action),
        ...(step.note !== undefined ? { note: step.note } : {}),
        error,
        ...(step.expectError !== undefined ? { expectedError: step.expectError } : {}),
        calls,
        state,
      });
      if (opts.invariants) {
        const broken = await host.invariants(state);
        if (broken.length > 0) {
          violationAt = index;
          for (const b of broken) problems.push(`${where}: invariant: ${b}`);
          break;
        }
      }
      if (opts.stopOnProblem && problems.length > 0) break;
    }
  } finally {
    off();
  }
  if (scenario.expect && violationAt === null) problems.push(...checkExpect(scenario.expect, steps[steps.length - 1].state));
  return {
    trace: { version: TRACE_VERSION, title: scenario.title, explain: scenario.explain, source: scenario.file, target: host.target, profile: host.profile, steps, problems },
    violationAt,
  };
}

const sameIp = (a: string, b: string): boolean => {
  const x = parseIp(addressPart(a));
  const y = parseIp(addressPart(b));
  return x !== null && y !== null && x.family === y.family && BigInt(x.value) === BigInt(y.value);
};

/** The final-state expectations that do not hold (empty = all hold). */
export function checkExpect(exp: ScenarioExpect, st: SimState): string[] {
  const out: string[] = [];
  for (const [name, want] of Object.entries(exp.networks ?? {})) {
    const net = st.networks.find((n) => n.name === name);
    if (want === null) {
      if (net) out.push(`expect: network ${name} should not exist`);
      continue;
    }
    if (!net) {
      out.push(`expect: network ${name} does not exist`);
      continue;
    }
    const got = net.subnets.map((s) => s.subnet);
    if (want.subnets && (got.length !== want.subnets.length || want.subnets.some((s, i) => s !== got[i]))) out.push(`expect: network ${name} subnets: want ${want.subnets.join(', ')}, got ${got.join(', ') || 'none'}`);
    if (want.gateway !== undefined && !net.subnets.some((s) => s.gateway !== null && sameIp(s.gateway, want.gateway!))) out.push(`expect: network ${name} gateway: want ${want.gateway}, got ${net.subnets.map((s) => s.gateway ?? '-').join(', ')}`);
  }
  for (const [name, nets] of Object.entries(exp.containers ?? {})) {
    const c = st.containers.find((x) => x.name === name);
    for (const [net, want] of Object.entries(nets)) {
      const got = c?.addresses[net] ?? [];
      if (want === null) {
        if (got.length > 0) out.push(`expect: container ${name} should have no address on ${net}, has ${got.join(', ')}`);
      } else if (!got.some((a) => sameIp(a, want))) out.push(`expect: container ${name} on ${net}: want ${want}, got ${got.join(', ') || (c ? 'no endpoint' : 'no such container')}`);
    }
  }
  for (const [net, want] of Object.entries(exp.allocated ?? {})) {
    const pools = st.pools.filter((p) => p.network === net);
    const got = pools.reduce((n, p) => n + poolCounts(p).allocated, 0n);
    if (pools.length === 0 || got !== BigInt(want)) out.push(`expect: network ${net}: want ${want} allocated addresses, got ${pools.length === 0 ? 'no pools' : got}`);
  }
  if (exp.pools !== undefined) {
    const inspectable = st.pools.every((p) => p.runs !== null);
    if (inspectable && st.pools.length !== exp.pools) out.push(`expect: want ${exp.pools} pools in the IPAM, got ${st.pools.length}`);
  }
  return out;
}
