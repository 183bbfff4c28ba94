import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { auth, extractResourceMetadataUrl } from '@modelcontextprotocol/sdk/client/auth.js';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { approveInBrowser } from './harness/codeFlow';
import { InMemoryMcpClientProvider } from './harness/mcpClientProvider';
import { mcpResourcePlugin } from './harness/mcpResourcePlugin';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);
const databases = createTestDatabases();

const REDIRECT_URL = 'http://127.0.0.1:33418/oauth/callback';

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

describe.each(databases.eachSupportedId())('an MCP client signs in through the portal on %s', databaseId => {
  let backend: AuthBackend;
  let documentServer: https.Server;
  let clientMetadataUrl: string;

  beforeAll(async () => {
    // The SDK insists that a client-ID metadata document URL is https, so the
    // document is served over TLS on loopback with a throw-away certificate.
    const tls = loopbackCertificate();
    documentServer = https.createServer(tls, (req, res) => {
      if (req.url !== '/mcp-client.json') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          client_id: clientMetadataUrl,
          client_name: 'Test MCP client (CIMD)',
          redirect_uris: [REDIRECT_URL],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        }),
      );
    });
    await new Promise<void>(resolve => documentServer.listen(0, '127.0.0.1', resolve));
    clientMetadataUrl = `https://127.0.0.1:${(documentServer.address() as AddressInfo).port}/mcp-client.json`;
    // Trust that certificate for the portal's document fetches, like NODE_EXTRA_CA_CERTS would;
    // verification stays on.
    const realGet = https.get;
    jest.spyOn(https, 'get').mockImplementation(((url: unknown, options: https.RequestOptions, callback: never) =>
      realGet(url as URL, { ...options, ca: [tls.cert] }, callback)) as unknown as typeof https.get);

    const knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      features: [mcpResourcePlugin],
      config: {
        auth: {
          experimentalDynamicClientRegistration: { enabled: true },
          clientIdMetadataDocuments: {
            enabled: true,
            // The defaults allow only the well-known MCP clients' documents.
            allowedClientIdPatterns: ['https://127.0.0.1:*/mcp-client.json'],
          },
          experimentalRefreshToken: { enabled: true },
          // Development/test only: lets the portal fetch a metadata document from loopback.
          oidcProvider: { dangerouslyAllowInsecureClientIdMetadataDocuments: true },
        },
      },
    });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await backend?.stop();
    await new Promise(resolve => documentServer?.close(resolve));
  });

  async function signIn(provider: InMemoryMcpClientProvider) {
    const serverUrl = new URL(`${backend.baseUrl}/api/mcp-test/mcp`);
    // Start where an MCP client starts: the resource answers 401 and names its metadata.
    const challenge = await fetch(serverUrl, { method: 'POST' });
    expect(challenge.status).toBe(401);
    const resourceMetadataUrl = extractResourceMetadataUrl(challenge);
    expect(resourceMetadataUrl).toBeDefined();

    expect(await auth(provider, { serverUrl, resourceMetadataUrl })).toBe('REDIRECT');
    const authorizationUrl = provider.authorizationUrl!;
    expect(authorizationUrl.toString().startsWith(`${backend.issuer}/v1/authorize?`)).toBe(true);
    expect(authorizationUrl.searchParams.get('resource')).toBe(serverUrl.toString());

    const callback = await approveInBrowser(backend, authorizationUrl);
    expect(callback.searchParams.get('iss')).toBe(backend.issuer);

    expect(
      await auth(provider, {
        serverUrl,
        resourceMetadataUrl,
        authorizationCode: callback.searchParams.get('code')!,
      }),
    ).toBe('AUTHORIZED');
    const tokens = provider.savedTokens!;
    expect(tokens.refresh_token).toEqual(expect.any(String));

    const call = await fetch(serverUrl, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.access_token}` },
    });
    expect(call.status).toBe(200);
    expect(await call.json()).toEqual({ userEntityRef: 'user:development/guest' });

    // A later auth() with a stored refresh token rotates it without the user.
    expect(await auth(provider, { serverUrl, resourceMetadataUrl })).toBe('AUTHORIZED');
    expect(provider.savedTokens!.refresh_token).not.toBe(tokens.refresh_token);
  }

  it('signs in through dynamic client registration', async () => {
    const provider = new InMemoryMcpClientProvider(REDIRECT_URL);
    await signIn(provider);
    expect(provider.clientInformation()?.client_id).not.toBe(clientMetadataUrl);
  });

  it('signs in with a client ID metadata document', async () => {
    const provider = new InMemoryMcpClientProvider(REDIRECT_URL, clientMetadataUrl);
    await signIn(provider);
    expect(provider.clientInformation()?.client_id).toBe(clientMetadataUrl);
  });
});
