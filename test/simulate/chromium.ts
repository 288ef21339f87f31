/**
 * Test helper: the Chromium binary for the browser tests, or why they skip
 * (not installed: scripts/setup-chromium.sh installs Debian's package as root;
 * or opted out with CNMKIT_SKIP=browser). Only looks; installs nothing.
 */
import { findChromium } from '../../src/simulate/browser.js';
import { optedOut } from '../helpers/skip.js';

export function chromiumOrSkip(): { bin: string } | { skip: string } {
  const out = optedOut('browser');
  if (out !== null) return { skip: out };
  const bin = findChromium();
  return bin === null ? { skip: 'Chromium is not installed: run scripts/setup-chromium.sh as root' } : { bin };
}
