/**
 * Plugin resolution as dockerd does it (protocol.md §1.7): activation on first
 * use, cached for the daemon's lifetime, forgotten when it fails; the driver
 * and IPAM registered only when their handlers succeeded.
 */
import { activate, type Activation } from '../client/activate.js';
import { PluginCallError, type PluginCaller } from '../client/types.js';
import { opOf, warn, type DaemonState, type Op } from './state.js';

async function activation(op: Op, caller: PluginCaller): Promise<Activation> {
  const d = op.d;
  const cached = d.activations.get(caller);
  if (cached !== undefined) return cached;
  let act: Activation;
  try {
    const types = d.managed.get(caller);
    act = await activate(caller, types !== undefined ? { managed: true, implements: types } : {});
  } catch (e) {
    // A failed Plugin.Activate is forgotten: the next use tries again.
    if (e instanceof PluginCallError) op.fail('activate', `legacy plugin: ${e.message}`, { callError: e });
    throw e;
  }
  d.activations.set(caller, act);
  return act;
}

export async function resolveDriver(op: Op): Promise<Activation> {
  const act = await activation(op, op.d.driver);
  if (!act.implements.includes('NetworkDriver')) op.fail('activate', 'legacy plugin: Plugin does not implement the requested driver', { status: 404 });
  if (!act.networkDriver) op.fail('activate', `could not resolve driver ${op.d.driverName} in registry`);
  return act;
}

export async function resolveIpam(op: Op): Promise<Activation> {
  const act = await activation(op, op.d.ipam);
  if (!act.implements.includes('IpamDriver')) op.fail('activate', 'legacy plugin: Plugin does not implement the requested driver', { status: 404 });
  if (!act.ipamDriver) op.fail('activate', `invalid ipam driver: ${JSON.stringify(op.d.ipamName)}`, { status: 400 });
  return act;
}

/** Resolution where dockerd only logs a failure (teardown paths). */
export async function quietResolve(d: DaemonState, kind: 'driver' | 'ipam'): Promise<boolean> {
  try {
    const op = opOf(d, 'daemonRestart');
    if (kind === 'driver') await resolveDriver(op);
    else await resolveIpam(op);
    return true;
  } catch (e) {
    warn(d, `failed to resolve ${kind}: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

/** The IPAM's capabilities as activation read them (none before activation). */
export function ipamCaps(d: DaemonState): { mac: boolean; replay: boolean } {
  const caps = d.activations.get(d.ipam)?.ipamCapabilities;
  return { mac: caps?.RequiresMACAddress === true, replay: caps?.RequiresRequestReplay === true };
}
