/**
 * Containers (protocol.md §4.3-§4.5): `docker create` (no plugin calls),
 * start (connectToNetwork per network, then the OCI hook; a failed start is
 * cleaned up), stop / rm (the sandbox deleted), network connect / disconnect.
 */
import { canonicalGoMac, parseIp } from '../net/index.js';
import { DaemonUsageError } from './errors.js';
import { checkSubnetForIp, connectToNetwork, endpointDelete, portMapInfo, releaseNetwork } from './endpoints.js';
import { ociHook, sbLeave } from './join.js';
import type { AttachRec, ContainerRec } from './model.js';
import { needContainer, needNetwork, type Op } from './state.js';
import type { ContainerRunSpec, NetworkAttachSpec } from './types.js';

/** `docker create`: the container record with its first network; no plugin calls. */
export function containerCreate(op: Op, spec: ContainerRunSpec): ContainerRec {
  const d = op.d;
  if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string' || !Array.isArray(spec.networks)) throw new DaemonUsageError('containerRun: a spec with a name and networks is required');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(spec.name)) op.fail('validate', `Invalid container name (${spec.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, { status: 400 });
  const clash = d.containers.get(spec.name);
  if (clash !== undefined) op.fail('validate', `Conflict. The container name "/${spec.name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`, { status: 409 });
  if (spec.networks.length === 0) op.fail('validate', 'a container needs at least one network', { status: 400 });
  const first = spec.networks[0]!;
  const n = needNetwork(op, first.network);
  checkAttach(op, first);
  const c: ContainerRec = { id: d.ids.id(), name: spec.name, running: false, attachments: [{ ...first, networkId: n.id }], ports: [...(spec.ports ?? [])], sandbox: null };
  d.containers.set(c.name, c);
  return c;
}

/** Syntax checks of `--ip`, `--ip6`, `--mac-address` (docker create / connect). */
function checkAttach(op: Op, a: NetworkAttachSpec): void {
  if (a.ip !== undefined && a.ip !== '') {
    const ip = parseIp(a.ip);
    if (ip === null || ip.family !== 4) op.fail('validate', `invalid IPv4 address: ${a.ip}`, { status: 400 });
  }
  if (a.ip6 !== undefined && a.ip6 !== '') {
    const ip = parseIp(a.ip6);
    if (ip === null || ip.family !== 6) op.fail('validate', `invalid IPv6 address: ${a.ip6}`, { status: 400 });
  }
  if (a.mac !== undefined && a.mac !== '' && canonicalGoMac(a.mac) === null) op.fail('validate', `invalid MAC address: ${a.mac}`, { status: 400 });
}

/** Start: every configured network connected, then the OCI hook; on failure everything set up is released. */
export async function containerStart(op: Op, c: ContainerRec): Promise<void> {
  if (c.running) return;
  try {
    for (const a of c.attachments) await connectToNetwork(op, c, a);
    await ociHook(op, c);
    c.running = true;
  } catch (e) {
    // daemon.Cleanup: release everything the failed start set up.
    await releaseNetwork(op.d, c);
    throw e;
  }
}

export async function containerStop(op: Op, name: string): Promise<void> {
  const c = needContainer(op, name);
  if (!c.running) return;
  await releaseNetwork(op.d, c);
  c.running = false;
}

export async function containerRm(op: Op, name: string, force: boolean): Promise<void> {
  const c = needContainer(op, name);
  if (c.running) {
    if (!force) op.fail('validate', `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`, { status: 409 });
    await releaseNetwork(op.d, c);
    c.running = false;
  }
  op.d.containers.delete(c.name);
}

export async function networkConnect(op: Op, container: string, network: string, opts: Omit<NetworkAttachSpec, 'network'>): Promise<void> {
  const c = needContainer(op, container);
  const n = needNetwork(op, network);
  if (c.attachments.some((a) => a.networkId === n.id)) op.fail('validate', `endpoint with name ${c.name} already exists in network ${n.name}`, { status: 403 });
  const att: AttachRec = { ...opts, network, networkId: n.id };
  checkAttach(op, att);
  if (c.running) await connectToNetwork(op, c, att);
  else checkSubnetForIp(op, n, att);
  c.attachments.push(att);
}

export async function networkDisconnect(op: Op, container: string, network: string): Promise<void> {
  const d = op.d;
  const c = needContainer(op, container);
  const n = needNetwork(op, network);
  const i = c.attachments.findIndex((a) => a.networkId === n.id);
  if (i < 0) op.fail('validate', `container ${c.id} is not connected to network ${n.name}`, { status: 400 });
  const sb = c.sandbox;
  if (c.running && sb !== null) {
    const ep = sb.endpoints.find((e) => e.network === n);
    if (ep !== undefined) {
      await sbLeave(d, sb, ep);
      await portMapInfo(d, sb);
      await endpointDelete(d, ep);
    }
  }
  c.attachments.splice(i, 1);
}
