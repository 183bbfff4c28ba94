import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What {@link startMetadataDocumentServer} returns. */
export interface MetadataDocumentServer {
  /** `http://127.0.0.1:<port><path>`: a client_id naming the document at `path`. */
  url(path: string): string;
  /** `127.0.0.1:<port>`: the host that vouches for every document here. */
  host: string;
  close(): Promise<void>;
}

/**
 * A loopback server publishing client-ID metadata documents: each path in
 * `documents` answers with that metadata plus `client_id` set to its own URL,
 * as a genuine document must. Backends that fetch from it need
 * `auth.oidcProvider.dangerouslyAllowInsecureClientIdMetadataDocuments`.
 */
export async function startMetadataDocumentServer(
  documents: Record<string, Record<string, unknown>>,
): Promise<MetadataDocumentServer> {
  const server = http.createServer((req, res) => {
    const path = req.url ?? '';
    if (!Object.hasOwn(documents, path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ ...documents[path], client_id: `http://${req.headers.host}${path}` }));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: path => `http://${host}${path}`,
    host,
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
  };
}
