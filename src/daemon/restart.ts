/**
 * Daemon restart (protocol.md §4.7): a clean stop tears running containers
 * down first, a crash after the restart; the new process has nothing
 * activated; with RequiresRequestReplay the IPAM gets every pool, gateway,
 * aux and endpoint address requested again (reservePools).
 */
import { ipamCaps, quietResolve } from './activation.js';
import { addressPart, formatIp, netContains } from '../net/index.js';
import { releaseNetwork } from './endpoints.js';
import { ipamAllocate } from './networks.js';
import { opOf, warn, type DaemonState } from './state.js';
import type { DaemonRestartSpec } from './types.js';

export async function daemonRestart(d: DaemonState, spec: DaemonRestartSpec): Promise<void> {
  const crash = spec.crash === true;
  const live = spec.liveRestore === true;
  const running = [...d.containers.values()].filter((c) => c.running);
  if (!crash && !live) {
    for (const c of running) {
      await releaseNetwork(d, c);
      c.running = false;
    }
  }
  // A new daemon process: nothing is activated any more.
  d.activations.clear();
  await replay(d);
  if (crash && !live) {
    for (const c of running) {
      await releaseNetwork(d, c);
      c.running = false;
    }
  }
}

/** reservePools: with RequiresRequestReplay, pools, gateways, aux and endpoint addresses are requested again. */
async function replay(d: DaemonState): Promise<void> {
  const nets = [...d.networks.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const n of nets) {
    if (!(await quietResolve(d, 'ipam'))) continue;
    if (!ipamCaps(d).replay) continue;
    // An automatic pool is replayed as an explicit subnet, the old gateway as an explicit gateway.
    const v4Conf = n.v4Conf.length === 0 || (n.v4Conf.length === 1 && (n.v4Conf[0]!.subnet ?? '') === '') ? (n.v4.length > 0 ? [{ ...(n.v4Conf[0] ?? {}), subnet: n.v4[0]!.pool.text }] : n.v4Conf) : n.v4Conf.map((c) => ({ ...c }));
    const v6Conf = n.v6Conf.length === 0 || (n.v6Conf.length === 1 && (n.v6Conf[0]!.subnet ?? '') === '') ? (n.v6.length > 0 ? [{ ...(n.v6Conf[0] ?? {}), subnet: n.v6[0]!.pool.text }] : n.v6Conf) : n.v6Conf.map((c) => ({ ...c }));
    v4Conf.forEach((c, i) => {
      const gw = n.v4[i]?.gateway;
      if ((c.gateway ?? '') === '' && gw) (c as { gateway?: string }).gateway = formatIp(gw.ip);
    });
    v6Conf.forEach((c, i) => {
      const gw = n.v6[i]?.gateway;
      if ((c.gateway ?? '') === '' && gw) (c as { gateway?: string }).gateway = formatIp(gw.ip);
    });
    n.v4Conf = v4Conf;
    n.v6Conf = v6Conf;
    const old4 = n.v4;
    const old6 = n.v6;
    try {
      await ipamAllocate(opOf(d, 'daemonRestart'), n);
    } catch (e) {
      // dockerd logs and carries on; the network keeps what it had (cnmkit keeps the old pool records).
      warn(d, `Failed to allocate ipam pool(s) for network ${JSON.stringify(n.name)} (${n.id}): ${e instanceof Error ? e.message : String(e)}`);
      n.v4 = old4;
      n.v6 = old6;
    }
    const eps = [...n.endpoints.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const ep of eps) {
      for (const v of [4, 6] as const) {
        const cur = v === 4 ? ep.v4 : ep.v6;
        if (cur === null) continue;
        const pools = v === 4 ? n.v4 : n.v6;
        const p = pools.find((x) => netContains(x.pool.net, cur.addr.ip));
        if (p === undefined) continue;
        const r = await d.ipam.tryCall('RequestAddress', { PoolID: p.poolId, Address: addressPart(cur.addr.text), Options: null });
        if (r.ok && r.value.Address !== '') cur.poolId = p.poolId;
        else warn(d, `failed to reserve current address for endpoint ${JSON.stringify(ep.name)} (${ep.id}) on network ${JSON.stringify(n.name)} (${n.id})`);
      }
    }
  }
}
