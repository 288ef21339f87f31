/**
 * Scenario -> scenario file text (YAML), for replay files written by the
 * fuzzer: reading the text back with `parseScenario` gives the same steps.
 */
import { stringify } from 'yaml';
import type { Scenario, ScenarioAction, ScenarioExpect, ScenarioStep } from './scenario.js';

function actionEntry(a: ScenarioAction): [string, unknown] {
  switch (a.kind) {
    case 'network-create': {
      const o: Record<string, unknown> = { name: a.name };
      if (a.subnets.length === 1) {
        const s = a.subnets[0];
        if (s.subnet) o.subnet = s.subnet;
        if (s.ipRange) o['ip-range'] = s.ipRange;
        if (s.gateway) o.gateway = s.gateway;
        if (s.aux) o['aux-address'] = { ...s.aux };
      } else if (a.subnets.length > 1) {
        o.subnets = a.subnets.map((s) => ({
          ...(s.subnet ? { subnet: s.subnet } : {}),
          ...(s.ipRange ? { 'ip-range': s.ipRange } : {}),
          ...(s.gateway ? { gateway: s.gateway } : {}),
          ...(s.aux ? { 'aux-address': { ...s.aux } } : {}),
        }));
      }
      if (a.ipv6) o.ipv6 = true;
      if (a.internal) o.internal = true;
      if (Object.keys(a.ipamOptions).length > 0) o['ipam-opt'] = { ...a.ipamOptions };
      return ['network create', o];
    }
    case 'network-rm':
      return ['network rm', a.name];
    case 'run':
      return ['run', { name: a.name, ...(a.networks.length === 1 ? { network: a.networks[0] } : { networks: [...a.networks] }), ...(a.ip ? { ip: a.ip } : {}), ...(a.ip6 ? { ip6: a.ip6 } : {}) }];
    case 'stop':
      return ['stop', a.name];
    case 'start':
      return ['start', a.name];
    case 'network-connect':
      return ['network connect', { container: a.container, network: a.network, ...(a.ip ? { ip: a.ip } : {}), ...(a.ip6 ? { ip6: a.ip6 } : {}) }];
    case 'network-disconnect':
      return ['network disconnect', { container: a.container, network: a.network }];
    case 'daemon-restart':
      return ['daemon restart', a.startOrder.length > 0 ? { start: [...a.startOrder] } : null];
  }
}

function stepObject(s: ScenarioStep): Record<string, unknown> {
  const [k, v] = actionEntry(s.action);
  return {
    [k]: v,
    ...(s.fault ? { fail: { call: s.fault.call, error: s.fault.error, ...(s.fault.nth !== 1 ? { nth: s.fault.nth } : {}) } } : {}),
    ...(s.expectError !== undefined ? { 'expect-error': s.expectError } : {}),
    ...(s.note !== undefined ? { note: s.note } : {}),
  };
}

function expectObject(e: ScenarioExpect): Record<string, unknown> {
  return { ...e };
}

export function scenarioToYaml(s: Omit<Scenario, 'file'>, header?: string): string {
  const doc: Record<string, unknown> = { title: s.title, explain: s.explain };
  if (s.profile) doc.profile = s.profile;
  if (s.defaultAddressPools) doc['default-address-pools'] = s.defaultAddressPools.map((p) => ({ ...p }));
  doc.steps = s.steps.map(stepObject);
  if (s.expect) doc.expect = expectObject(s.expect);
  const body = stringify(doc, { lineWidth: 0, flowCollectionPadding: false });
  return header ? `${header.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n')}\n${body}` : body;
}
