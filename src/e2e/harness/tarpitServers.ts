import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What {@link startTarpitServers} returns. */
export interface TarpitServers {
  /** `http://<host>:<port><path>` on the `index`th host. */
  url(index: number, path: string): string;
  /** Resolves once a request for `path` (on any host) has arrived and is being held. */
  arrival(path: string): Promise<void>;
  /** How many requests have arrived in all. */
  readonly arrived: number;
  /** Cuts every held connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Hostile hosts for client-ID metadata documents: one HTTP server on each of
 * `hosts` (loopback addresses) that accepts every request and never answers,
 * holding the connection until {@link TarpitServers.close}.
 */
export async function startTarpitServers(hosts: string[]): Promise<TarpitServers> {
  const waiting = new Map<string, () => void>();
  const seen = new Set<string>();
  let arrived = 0;
  const hold = (req: http.IncomingMessage) => {
    const path = req.url ?? '';
    arrived++;
    seen.add(path);
    waiting.get(path)?.();
    waiting.delete(path);
  };
  const servers = await Promise.all(
    hosts.map(async host => {
      const server = http.createServer(hold);
      await new Promise<void>(resolve => server.listen(0, host, resolve));
      return { server, base: `http://${host}:${(server.address() as AddressInfo).port}` };
    }),
  );
  return {
    url: (index, path) => `${servers[index].base}${path}`,
    arrival: path =>
      seen.has(path) ? Promise.resolve() : new Promise<void>(resolve => waiting.set(path, resolve)),
    get arrived() {
      return arrived;
    },
    close: async () => {
      await Promise.all(
        servers.map(
          ({ server }) =>
            new Promise<void>(resolve => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}
