/** The in-memory Firewall (virtual backend): keeps what was asked, validates it like the iptables one. Unit tier. */
import { describe, expect, it } from 'vitest';
import { RecordingFirewall } from '../../src/backend/virtual/index.js';

describe('RecordingFirewall', () => {
  it('keeps what was asked and validates it', async () => {
    const f = new RecordingFirewall();
    await f.allowNetwork({ network: 'n1', bridge: 'cnm-br1', internal: false });
    await f.allowNetwork({ network: 'n1', bridge: 'cnm-br1', internal: true });
    expect(await f.listNetworks()).toEqual([{ network: 'n1', bridge: 'cnm-br1', internal: true }]);
    await expect(f.allowNetwork({ network: 'n 2', bridge: 'cnm-br2', internal: false })).rejects.toMatchObject({ code: 'E_FIREWALL' });
    await expect(f.allowNetwork({ network: 'n2', bridge: 'eth0', internal: false })).rejects.toMatchObject({ code: 'E_FIREWALL' });
    await f.removeNetwork('n1');
    expect(await f.listNetworks()).toEqual([]);
  });
});
