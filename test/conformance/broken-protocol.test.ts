/** Deliberately broken plugins at the wire level are caught by the right protocol check. */
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenOn } from './plugins/listen.js';
import { type Flaw, startMiniIpam } from './plugins/mini-ipam.js';
import { type DriverFlaw, startMiniDriver } from './plugins/mini-driver.js';
import { serveFixture } from './designs/serve.js';
import { failedIds, quickConfig, result, runOn, tempDir, type TempDir } from './support.js';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

const ipamCases: { flaw: Flaw; check: string; extra?: Record<string, unknown> }[] = [
  { flaw: 'err-field-200', check: 'protocol.ipam-error-field' },
  { flaw: 'crash-on-bad-json', check: 'protocol.survives-bad-input' },
  { flaw: 'needs-content-type', check: 'protocol.dockerd-framing' },
  { flaw: 'empty-body-allocates', check: 'protocol.empty-body' },
  { flaw: 'unknown-method-500', check: 'protocol.unknown-method-404' },
];

describe('broken plugins are caught by the right protocol check', () => {
  for (const c of ipamCases) {
    it(`${c.flaw} -> ${c.check}`, async () => {
      const plugin = await startMiniIpam(dir.socket(c.flaw), [c.flaw]);
      try {
        const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['protocol'], checks: [c.check], ...c.extra }));
        const r = result(report, c.check);
        expect(r.status, r.message).toBe('failed');
        expect(r.counterexample!.calls.length).toBeGreaterThan(0);
      } finally {
        await plugin.close();
      }
    });
  }

  const driverCases: { flaw: DriverFlaw; check: string }[] = [
    { flaw: 'bad-scope', check: 'protocol.network-capabilities' },
    { flaw: 'error-field-200', check: 'protocol.driver-error-field' },
  ];
  for (const c of driverCases) {
    it(`driver ${c.flaw} -> ${c.check}`, async () => {
      const plugin = await startMiniDriver(dir.socket(`drv-${c.flaw}`), [c.flaw]);
      try {
        const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['protocol'], checks: [c.check] }));
        expect(result(report, c.check).status).toBe('failed');
      } finally {
        await plugin.close();
      }
    });
  }

  it('a call beyond --timeout (a managed plugin\'s request timeout) fails protocol.timely-replies; the plugin is not taken for dead', async () => {
    const methods = {
      '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'l', GlobalDefaultAddressSpace: 'g' }),
      '/IpamDriver.GetCapabilities': () => ({}),
    };
    const plugin = await serveFixture(dir.socket('slow-caps'), methods, { implements: ['IpamDriver'], delayMs: (path) => (path === '/IpamDriver.GetCapabilities' ? 1500 : 0) });
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['protocol'], checks: ['protocol.timely-replies'], timeoutMs: 1000 }));
      const r = result(report, 'protocol.timely-replies');
      expect(r.status, r.message).toBe('failed');
      expect(r.level).toBe('should');
      expect(r.message).toMatch(/IpamDriver\.GetCapabilities got no reply within 1000 ms/);
      expect(report.deaths).toEqual([]);
    } finally {
      await plugin.close();
    }
  });

  it('a slow but correct plugin passes timely-replies with a note', async () => {
    const plugin = await startMiniIpam(dir.socket('slow-note'), ['slow']);
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['protocol'], checks: ['protocol.timely-replies'], capabilities: ['ipam'], timeoutMs: 3000 }));
      const r = result(report, 'protocol.timely-replies');
      expect(r.status, r.message).toBe('passed');
      expect(r.notes.join(' ')).toMatch(/took 1\d\d\d ms/);
    } finally {
      await plugin.close();
    }
  });

  it('a slow but correct plugin gets fewer model runs within the budget, not a failure', async () => {
    const plugin = await startMiniIpam(dir.socket('slow-model'), ['slow']);
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['ipam'], checks: ['ipam.no-duplicate-address'], capabilities: ['ipam'], checkBudgetMs: 4000, timeoutMs: 3000 }));
      const r = result(report, 'ipam.no-duplicate-address');
      // Not a failure; with 1.2 s calls the budget ends before any address is handed out: nothing checked is skipped, not passed.
      expect(r.status, r.message).toBe('skipped');
      expect(r.message).toMatch(/nothing to judge: no address was handed out/);
      expect(r.notes.join(' ')).toMatch(/time budget: stopped after \d+ of 30 runs/);
    } finally {
      await plugin.close();
    }
  }, 20_000);

  it('--bail stops after the first failing check; the rest are reported as not run', async () => {
    const plugin = await startMiniIpam(dir.socket('bail'), ['needs-content-type']);
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['protocol'], bail: true }));
      const i = report.checks.findIndex((c) => c.id === 'protocol.dockerd-framing');
      expect(report.checks[i]!.status).toBe('failed');
      expect(report.checks.slice(i + 1).every((c) => c.status === 'not-run' && c.message.includes('--bail'))).toBe(true);
      expect(report.summary.notRun).toBe(report.checks.length - i - 1);
      expect(report.checks.slice(i + 1).length).toBeGreaterThan(0);
    } finally {
      await plugin.close();
    }
  });

  it('the correct independent plugins pass the whole protocol suite at the default level', async () => {
    const ipam = await startMiniIpam(dir.socket('ok-ipam'));
    const driver = await startMiniDriver(dir.socket('ok-driver'));
    try {
      for (const socket of [ipam.socketPath, driver.socketPath]) {
        const report = await runOn(socket, quickConfig(dir, { suites: ['protocol'], level: 'should' }));
        expect(failedIds(report).filter((id) => id !== 'protocol.error-status-compat')).toEqual([]);
      }
    } finally {
      await ipam.close();
      await driver.close();
    }
  });
});

describe("Go's json.Decoder reads the first value and stops", () => {
  it('a plugin that acts on `{"a":1}{` as Go does (trailing bytes ignored) is not failed', async () => {
    // go-plugins-helpers decodes with json.NewDecoder(r.Body).Decode(&req): `{"a":1}{` is a request with zero values.
    const firstValue = (text: string): unknown => {
      let depth = 0;
      for (let i = 0; i < text.length; i++) {
        if (text[i] === '{') depth++;
        else if (text[i] === '}' && --depth === 0) return JSON.parse(text.slice(0, i + 1));
      }
      return JSON.parse(text);
    };
    let pools = 0;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const send = (status: number, value: unknown): void => void res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(value));
        if (req.url === '/Plugin.Activate') return send(200, { Implements: ['IpamDriver'] });
        if (req.url === '/IpamDriver.GetDefaultAddressSpaces') return send(200, { LocalDefaultAddressSpace: 'l', GlobalDefaultAddressSpace: 'g' });
        if (req.url !== '/IpamDriver.RequestPool') return send(404, { Err: 'not found' });
        try {
          firstValue(body);
        } catch (e) {
          return send(400, { Err: (e as Error).message });
        }
        // Any space, any request: an automatic pool (a lenient but working IPAM).
        pools++;
        return send(200, { PoolID: `p${pools}`, Pool: `10.77.${pools}.0/24`, Data: {} });
      });
    });
    const plugin = await listenOn(server, dir.socket('go-decoder'));
    try {
      const report = await runOn(plugin.socketPath, quickConfig(dir, { suites: ['protocol'], checks: ['protocol.malformed-json'], capabilities: ['ipam'] }));
      const r = result(report, 'protocol.malformed-json');
      expect(r.status, r.message).toBe('passed');
    } finally {
      await plugin.close();
    }
  });
});
