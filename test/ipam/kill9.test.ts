/**
 * Crash test for real: the served IPAM (durable state) is SIGKILLed in the
 * middle of a stream of concurrent RequestAddress/ReleaseAddress calls,
 * restarted on the same state, and then every acknowledged address must still
 * be held and no new automatic address may collide with one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/serve-ipam.ts');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  line: string;
}

function start(socket: string, state: string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, socket, state], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, line: out.slice(0, nl) });
    });
    child.on('exit', (code) => reject(new Error(`serve-ipam exited (${code}) before ready: ${out}${err}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => child.once('exit', () => res()));
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

function call(agent: Agent, socket: string, method: string, body: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = request(
      { socketPath: socket, agent, method: 'POST', path: `/IpamDriver.${method}`, headers: { 'content-length': data.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> });
          } catch (e) {
            reject(e as Error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const POOL = 'LocalDefault/10.0.0.0/16';

describe('kill -9 of the served IPAM', () => {
  it('loses no acknowledged allocation and hands nothing out twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnmkit-kill9-'));
    dirs.push(dir);
    const socket = join(dir, 'ipam.sock');
    const state = join(dir, 'state');
    const first = await start(socket, state);
    expect(first.line).toMatch(/^ready \d+$/);

    // A second server on the same state refuses to start, naming the owner.
    const second = spawn(process.execPath, ['--import', 'tsx', entry, join(dir, 'other.sock'), state], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(second);
    let secondOut = '';
    second.stdout!.on('data', (d: Buffer) => (secondOut += d.toString()));
    await exited(second);
    expect(second.exitCode).toBe(2);
    expect(secondOut.trim()).toBe(`error E_STATE_LOCKED state directory ${state} is in use by pid ${first.child.pid}`);

    let agent = new Agent({ keepAlive: true, maxSockets: 16 });
    expect((await call(agent, socket, 'RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.0.0.0/16', SubPool: '', Options: {}, V6: false })).body).toMatchObject({ PoolID: POOL });

    const held = new Set<string>(); // acknowledged and not released
    const uncertain = new Set<string>(); // release sent, no answer: may or may not be free
    const everAcked: string[] = [];
    let killed = false;
    let acked = 0;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !killed; i++) {
        try {
          if (i % 4 === 3 && held.size > 0) {
            const victim = [...held][(w * 7 + i) % held.size];
            held.delete(victim);
            uncertain.add(victim);
            const r = await call(agent, socket, 'ReleaseAddress', { PoolID: POOL, Address: victim });
            if (r.status === 200) uncertain.delete(victim);
            continue;
          }
          const r = await call(agent, socket, 'RequestAddress', { PoolID: POOL, Address: '', Options: null });
          if (r.status !== 200) throw new Error(`RequestAddress: ${JSON.stringify(r.body)}`);
          const ip = String(r.body.Address).split('/')[0];
          expect(held.has(ip), `${ip} handed out twice before the crash`).toBe(false);
          held.add(ip);
          uncertain.delete(ip);
          everAcked.push(ip);
          acked++;
        } catch (e) {
          if (!killed) throw e;
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    // Kill at a moment of full load, after a first stretch of acknowledged work.
    await new Promise<void>((res) => {
      const t = setInterval(() => {
        if (acked >= 1500) {
          clearInterval(t);
          res();
        }
      }, 2);
    });
    first.child.kill('SIGKILL');
    killed = true;
    await exited(first.child);
    await Promise.all(workers);
    agent.destroy();
    expect(first.child.signalCode).toBe('SIGKILL');

    const again = await start(socket, state);
    expect(again.line).toMatch(/^ready \d+$/);
    agent = new Agent({ keepAlive: true, maxSockets: 16 });
    // Every acknowledged, unreleased address is still held.
    const heldList = [...held];
    const replies = await Promise.all(heldList.map((ip) => call(agent, socket, 'RequestAddress', { PoolID: POOL, Address: ip, Options: null })));
    const lost = heldList.filter((_, i) => !JSON.stringify(replies[i].body).includes('Address already in use'));
    expect(lost, 'acknowledged addresses lost by the crash').toEqual([]);
    // New automatic addresses never collide with held ones.
    const fresh = await Promise.all(Array.from({ length: 300 }, () => call(agent, socket, 'RequestAddress', { PoolID: POOL, Address: '', Options: null })));
    const freshIps = fresh.map((r) => String(r.body.Address).split('/')[0]);
    expect(new Set(freshIps).size).toBe(300);
    expect(freshIps.filter((ip) => held.has(ip))).toEqual([]);
    expect(everAcked.length).toBeGreaterThanOrEqual(1500);
    agent.destroy();
    again.child.kill('SIGTERM');
    await exited(again.child);
  }, 60_000);
});
