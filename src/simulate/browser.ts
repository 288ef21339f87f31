/**
 * A tiny headless Chromium driver for checking simulate's HTML page: the
 * DevTools protocol over `--remote-debugging-pipe` (fd 3 = commands to the
 * browser, fd 4 = its answers, NUL-terminated JSON). No npm dependency, no
 * TCP port, no network access (the page is a local file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { CnmkitError } from '../errors.js';

export class BrowserError extends CnmkitError {
  constructor(message: string) {
    super('E_BROWSER', message);
  }
}

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** Path of a Chromium binary (`CNMKIT_CHROMIUM` wins), or null. */
export function findChromium(): string | null {
  const env = process.env['CNMKIT_CHROMIUM'];
  if (env) return existsSync(env) ? env : null;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    for (const name of CANDIDATES) {
      const p = join(dir, name);
      if (dir !== '' && existsSync(p)) return p;
    }
  }
  return null;
}

interface Pending {
  resolve(v: Record<string, unknown>): void;
  reject(e: Error): void;
}

export interface BrowserPage {
  /** Evaluates an expression in the page; returns its JSON value (awaits promises). */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** PNG of the whole page (or the viewport when `fullPage` is false). */
  screenshot(fullPage?: boolean): Promise<Buffer>;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly width?: number;
  readonly height?: number;
  /** ms for the whole page load (default 20 s). */
  readonly timeoutMs?: number;
  readonly chromium?: string;
}

/** Opens a local HTML file in a fresh headless Chromium. */
export async function openPage(file: string, opts: OpenOptions = {}): Promise<BrowserPage> {
  const bin = opts.chromium ?? findChromium();
  if (bin === null) throw new BrowserError('Chromium not found (install Debian\'s chromium package or set CNMKIT_CHROMIUM)');
  const profile = mkdtempSync(join(tmpdir(), 'cnmkit-chromium-'));
  const width = opts.width ?? 1280;
  const height = opts.height ?? 900;
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-extensions',
    '--disable-dev-shm-usage',
    '--hide-scrollbars',
    '--mute-audio',
    `--user-data-dir=${profile}`,
    `--window-size=${width},${height}`,
    '--remote-debugging-pipe',
    'about:blank',
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });
  const pending = new Map<number, Pending>();
  const events: { method: string; sessionId?: string }[] = [];
  let nextId = 1;
  let buf = '';
  let dead: Error | null = null;
  const die = (e: Error): void => {
    dead ??= e;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };
  child.on('error', (e) => die(new BrowserError(`cannot start ${bin}: ${e.message}`)));
  child.on('exit', (code, sig) => die(new BrowserError(`Chromium exited (${sig ?? code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`)));
  fromBrowser.on('error', () => undefined);
  toBrowser.on('error', () => undefined);
  fromBrowser.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nul: number;
    while ((nul = buf.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buf.slice(0, nul)) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; sessionId?: string };
      buf = buf.slice(nul + 1);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new BrowserError(`DevTools: ${msg.error.message}`));
        else p?.resolve(msg.result ?? {});
      } else if (msg.method) events.push({ method: msg.method, ...(msg.sessionId ? { sessionId: msg.sessionId } : {}) });
    }
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> => {
    if (dead) return Promise.reject(dead);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  const timed = async <T>(p: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new BrowserError(`timed out: ${what}`)), Math.max(1, deadline - Date.now()));
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      await Promise.race([send('Browser.close').catch(() => undefined), exited]);
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const { targetId } = (await timed(send('Target.createTarget', { url: 'about:blank' }), 'create target')) as { targetId: string };
    const { sessionId } = (await timed(send('Target.attachToTarget', { targetId, flatten: true }), 'attach')) as { sessionId: string };
    await timed(send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, sessionId), 'viewport');
    await timed(send('Page.enable', {}, sessionId), 'page enable');
    await timed(send('Page.navigate', { url: pathToFileURL(file).href }, sessionId), 'navigate');
    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = (await timed(send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId), `evaluate ${expression.slice(0, 40)}`)) as {
        result: { value?: unknown };
        exceptionDetails?: { text: string; exception?: { description?: string } };
      };
      if (r.exceptionDetails) throw new BrowserError(`page error: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      return r.result.value as T;
    };
    // Wait for the load and for the page script to have drawn once.
    for (;;) {
      const ready = await evaluate<boolean>("document.readyState === 'complete' && typeof window.cnmkitPage === 'object'").catch(() => false);
      if (ready) break;
      if (Date.now() > deadline) throw new BrowserError('timed out waiting for the page to load');
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      evaluate,
      async screenshot(fullPage = true) {
        let clip: Record<string, number> | undefined;
        if (fullPage) {
          const size = await evaluate<{ w: number; h: number }>('({ w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight })');
          clip = { x: 0, y: 0, width: Math.max(width, size.w), height: Math.min(size.h, 8000), scale: 1 };
        }
        const r = (await timed(send('Page.captureScreenshot', { format: 'png', ...(clip ? { clip, captureBeyondViewport: true } : {}) }, sessionId), 'screenshot')) as { data: string };
        return Buffer.from(r.data, 'base64');
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
