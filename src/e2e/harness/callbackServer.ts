import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A loopback redirect target (RFC 8252 §7.3) that records where the browser landed. */
export interface CallbackServer {
  server: Server;
  /** `http://127.0.0.1:<port>/callback`. */
  url: string;
  /** The next URL the browser lands on. */
  next(): Promise<URL>;
}

export async function startCallbackServer(): Promise<CallbackServer> {
  let waiting: ((url: URL) => void) | undefined;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('You can close this window.');
    waiting?.(url);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}/callback`,
    next: () => new Promise<URL>(resolve => (waiting = resolve)),
  };
}
