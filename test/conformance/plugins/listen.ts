/** The one piece of plumbing the independent test plugins share: serve an http.Server on a unix socket and close it. */
import type { Server } from 'node:http';

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
