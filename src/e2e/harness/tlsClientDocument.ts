import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

/** A self-signed certificate for 127.0.0.1, made by the openssl CLI. */
function loopbackCertificate(): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cimd-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore', timeout: 30_000 });
    return {
      key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'),
      cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Publishes an MCP client's client-ID metadata document over TLS on loopback
 * (the MCP SDK insists the URL is https) with a throw-away certificate, which
 * the portal's document fetches are made to trust, as NODE_EXTRA_CA_CERTS
 * would; certificate verification stays on. Call `close()` in afterAll.
 */
export async function startTlsClientDocument(options: {
  clientName: string;
  redirectUri: string;
}): Promise<{ url: string; close(): Promise<void> }> {
  const tls = loopbackCertificate();
  let url = '';
  const server = https.createServer(tls, (req, res) => {
    if (req.url !== '/mcp-client.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        client_id: url,
        client_name: options.clientName,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }),
    );
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/mcp-client.json`;
  const realGet = https.get;
  const spy = jest
    .spyOn(https, 'get')
    .mockImplementation(((target: unknown, requestOptions: https.RequestOptions, callback: never) =>
      realGet(target as URL, { ...requestOptions, ca: [tls.cert] }, callback)) as unknown as typeof https.get);
  return {
    url,
    close: async () => {
      spy.mockRestore();
      await new Promise(resolve => server.close(resolve));
    },
  };
}
