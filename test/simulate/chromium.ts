/**
 * Test helper: a Chromium binary for the browser tests. Installs Debian's
 * package through scripts/setup-chromium.sh when missing and root; otherwise
 * returns null with the reason (the tests then skip and print it).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findChromium } from '../../src/simulate/browser.js';

const run = promisify(execFile);

export async function ensureChromium(): Promise<{ bin: string } | { skip: string }> {
  const found = findChromium();
  if (found !== null) return { bin: found };
  if (process.env['CNMKIT_NO_INSTALL']) return { skip: 'Chromium not installed (CNMKIT_NO_INSTALL set)' };
  if (process.getuid?.() !== 0) return { skip: 'Chromium not installed and not root: run scripts/setup-chromium.sh as root' };
  if (!existsSync('/usr/bin/apt-get')) return { skip: 'Chromium not installed and no apt-get on this system' };
  try {
    await run(join(import.meta.dirname, '../../scripts/setup-chromium.sh'), [], { timeout: 600_000 });
  } catch (e) {
    return { skip: `installing Chromium failed: ${(e as Error).message.split('\n')[0]}` };
  }
  const bin = findChromium();
  return bin === null ? { skip: 'Chromium still not found after scripts/setup-chromium.sh' } : { bin };
}
