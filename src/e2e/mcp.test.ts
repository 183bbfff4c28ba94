import { auth, extractResourceMetadataUrl } from '@modelcontextprotocol/sdk/client/auth.js';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { approveInBrowser } from './harness/codeFlow';
import { InMemoryMcpClientProvider } from './harness/mcpClientProvider';
import { mcpResourcePlugin } from './harness/mcpResourcePlugin';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';
import { startTlsClientDocument } from './harness/tlsClientDocument';

jest.setTimeout(120_000);
const databases = createTestDatabases();

const REDIRECT_URL = 'http://127.0.0.1:33418/oauth/callback';

describe.each(databases.eachSupportedId())('an MCP client signs in through the portal on %s', databaseId => {
  let backend: AuthBackend;
  let document: Awaited<ReturnType<typeof startTlsClientDocument>>;
  let clientMetadataUrl: string;

  beforeAll(async () => {
    document = await startTlsClientDocument({ clientName: 'Test MCP client (CIMD)', redirectUri: REDIRECT_URL });
    clientMetadataUrl = document.url;
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
    await backend?.stop();
    await document?.close();
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
