/**
 * The plumbing the design fixtures share: a method table served over node:http
 * on a unix socket the way go-plugins-helpers frames it (protocol.md §6):
 * 200 + JSON on success, 500 {"Err"} for a refusal, 400 for a body that does
 * not decode, 404 text for unknown paths. Each fixture is a table of handlers
 * (written from protocol.md and the public behaviour of the plugin it models,
 * never from src/); a plugin that is both driver and IPAM merges two tables.
 */
import { createServer } from 'node:http';
import { rm } from 'node:fs/promises';
import { listenOn, type ListeningPlugin } from '../plugins/listen.js';

/** A refusal the plugin means: answered 500 {"Err": message}. */
export class FixtureRefusal extends Error {}

export type FixtureHandler = (body: Record<string, unknown>) => unknown;
export type FixtureMethods = Record<string, FixtureHandler>;

export interface ServeOptions {
  /** Activate manifest; null = no /Plugin.Activate (managed plugins never get one). */
  readonly implements?: readonly string[] | null;
  /** Delay (ms) before answering a path, e.g. a DHCP lease or a cloud API call. */
  readonly delayMs?: (path: string) => number;
  /** How refusals look: go-plugins-helpers' 500 {"Err"} (default), or a bare status with an empty body. */
  readonly refusal?: { readonly status: number; readonly emptyBody: boolean };
  /** Status for paths the plugin does not serve (default 404; some frameworks answer 501 or 400). */
  readonly unknownStatus?: number;
}

/** Paths whose requests carry no body (dockerd sends Content-Length: 0). */
const NO_BODY = /\/(Plugin\.Activate|NetworkDriver\.GetCapabilities|IpamDriver\.GetCapabilities|IpamDriver\.GetDefaultAddressSpaces)$/;

export function refuse(message: string): never {
  throw new FixtureRefusal(message);
}

/** A string field of a request body (missing = ''); another type is a refusal, as Go's decoder would report it. */
export function field(b: Record<string, unknown>, key: string): string {
  const v = b[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') refuse(`json: cannot unmarshal ${typeof v} into field ${key} of type string`);
  return v;
}

export async function serveFixture(socketPath: string, methods: FixtureMethods, opts: ServeOptions = {}): Promise<ListeningPlugin> {
  const table: FixtureMethods = { ...methods };
  if (opts.implements !== null) table['/Plugin.Activate'] = () => ({ Implements: [...(opts.implements ?? [])] });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const send = (status: number, body: string, type = 'application/vnd.docker.plugins.v1.1+json'): void => {
        res.writeHead(status, { 'Content-Type': type }).end(body);
      };
      const handler = table[path];
      if (!handler) return send(opts.unknownStatus ?? 404, `${opts.unknownStatus ?? 404} no such method\n`, 'text/plain; charset=utf-8');
      let body: Record<string, unknown> = {};
      if (!NO_BODY.test(path)) {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          const parsed: unknown = JSON.parse(text);
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('json: cannot unmarshal into a request struct');
          body = parsed as Record<string, unknown>;
        } catch (e) {
          return send(400, text === '' ? 'EOF\n' : `${(e as Error).message}\n`, 'text/plain; charset=utf-8');
        }
      }
      const answer = (): void => {
        try {
          send(200, `${JSON.stringify(handler(body) ?? {})}\n`);
        } catch (e) {
          if (e instanceof FixtureRefusal) send(opts.refusal?.status ?? 500, opts.refusal?.emptyBody === true ? '' : `${JSON.stringify({ Err: e.message })}\n`);
          // Anything else is a fixture bug: drop the connection like a panicking Go handler.
          else res.destroy();
        }
      };
      const delay = opts.delayMs?.(path) ?? 0;
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
  });
  await rm(socketPath, { force: true });
  return listenOn(server, socketPath);
}
