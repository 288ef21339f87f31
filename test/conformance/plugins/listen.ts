/** The plumbing the independent test plugins share: serving an http.Server on a unix socket, Go-style body decoding and reply framing. */
import type { Server, ServerResponse } from 'node:http';

export interface ListeningPlugin {
  readonly socketPath: string;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

export async function listenOn(server: Server, socketPath: string): Promise<ListeningPlugin> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      }),
  };
}

/** go-plugins-helpers' reply framing: the v1.1 content type and a trailing newline. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/vnd.docker.plugins.v1.1+json' });
  res.end(`${JSON.stringify(body)}\n`);
}

/**
 * A request body as a Go plugin decodes it: argument-less calls have none, the
 * others must be a JSON object; otherwise the text of the 400 (`EOF` when empty).
 */
export function decodeRequest(path: string, text: string): { readonly body: Record<string, unknown> } | { readonly error: string } {
  if (/Activate|GetCapabilities|GetDefaultAddressSpaces/.test(path)) return { body: {} };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { error: 'body is not a JSON object' };
    return { body: parsed as Record<string, unknown> };
  } catch (e) {
    return { error: text === '' ? 'EOF' : (e as Error).message };
  }
}
