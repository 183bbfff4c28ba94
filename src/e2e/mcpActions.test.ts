import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import mcpActionsPlugin from '@backstage/plugin-mcp-actions-backend';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { approveInBrowser } from './harness/codeFlow';
import { InMemoryMcpClientProvider } from './harness/mcpClientProvider';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';
import { startTlsClientDocument } from './harness/tlsClientDocument';

jest.setTimeout(120_000);

/**
 * Backstage's own MCP server, `@backstage/plugin-mcp-actions-backend`, next
 * to this plugin in one backend, in either order: it starts, and an MCP SDK
 * client goes from a bare 401 at the MCP endpoint through the protected
 * resource metadata to this plugin, signs in (DCR and, separately, a client
 * ID metadata document), and lists and calls `auth.who-am-i` with its token.
 */
const databases = createTestDatabases();
const REDIRECT_URL = 'http://127.0.0.1:33419/oauth/callback';

describe.each(
  databases.eachSupportedId().flatMap(([id]) => [
    [id, 'after'],
    [id, 'before'],
  ]),
)('mcp-actions on %s, added %s this plugin', (databaseId, order) => {
  let backend: AuthBackend;
  let document: Awaited<ReturnType<typeof startTlsClientDocument>>;

  beforeAll(async () => {
    document = await startTlsClientDocument({ clientName: 'MCP client (CIMD)', redirectUri: REDIRECT_URL });
    backend = await startAuthBackend({
      knex: await databases.init(databaseId as Parameters<typeof databases.init>[0]),
      entities: [guestUser()],
      features: [mcpActionsPlugin],
      featuresFirst: order === 'before',
      config: {
        backend: { actions: { pluginSources: ['auth'] } },
        auth: {
          experimentalDynamicClientRegistration: { enabled: true },
          clientIdMetadataDocuments: { enabled: true, allowedClientIdPatterns: [document.url] },
          experimentalRefreshToken: { enabled: true },
          oidcProvider: { dangerouslyAllowInsecureClientIdMetadataDocuments: true },
        },
      },
    });
  });
  afterAll(async () => {
    await backend?.stop();
    await document?.close();
  });

  const mcpUrl = () => new URL(`${backend.baseUrl}/api/mcp-actions/v1`);

  it('serves one set of root discovery documents, and they agree with the plugin', async () => {
    const own = await (await fetch(`${backend.issuer}/.well-known/openid-configuration`)).json();
    for (const path of ['/.well-known/oauth-authorization-server/api/auth', '/.well-known/openid-configuration/api/auth']) {
      const res = await fetch(`${backend.baseUrl}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(own);
    }
    const resource = await (await fetch(`${backend.baseUrl}/.well-known/oauth-protected-resource/api/mcp-actions/v1`)).json();
    expect(resource.authorization_servers).toEqual([backend.issuer]);
  });

  async function signIn(provider: InMemoryMcpClientProvider): Promise<string> {
    // Start where an MCP client starts: a bare 401, with nothing to follow but the URL.
    const challenge = await fetch(mcpUrl(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(challenge.status).toBe(401);
    expect(await auth(provider, { serverUrl: mcpUrl() })).toBe('REDIRECT');
    const authorizationUrl = provider.authorizationUrl!;
    expect(authorizationUrl.toString().startsWith(`${backend.issuer}/v1/authorize?`)).toBe(true);
    const callback = await approveInBrowser(backend, authorizationUrl);
    expect(
      await auth(provider, { serverUrl: mcpUrl(), authorizationCode: callback.searchParams.get('code')! }),
    ).toBe('AUTHORIZED');
    return provider.savedTokens!.access_token;
  }

  async function connect(provider?: InMemoryMcpClientProvider): Promise<Client> {
    const client = new Client({ name: 'portal-oidc-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(mcpUrl(), provider ? { authProvider: provider } : {}));
    return client;
  }

  it.each([
    ['dynamic client registration', () => new InMemoryMcpClientProvider(REDIRECT_URL)],
    ['a client ID metadata document', () => new InMemoryMcpClientProvider(REDIRECT_URL, document.url)],
  ])('lists and calls auth.who-am-i after signing in through %s', async (_path, makeProvider) => {
    const provider = makeProvider();
    await signIn(provider);
    const client = await connect(provider);
    try {
      const { tools } = await client.listTools();
      expect(tools.map(t => t.name)).toContain('auth.who-am-i');
      const result = await client.callTool({ name: 'auth.who-am-i', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({
        entity: { kind: 'User', metadata: { name: 'guest', namespace: 'development' } },
        userInfo: { userEntityRef: 'user:development/guest', ownershipEntityRefs: ['user:development/guest'] },
      });
    } finally {
      await client.close();
    }
  });

  it('refuses tools/list and tools/call without a token', async () => {
    await expect(connect()).rejects.toThrow(/401/);
    const call = await fetch(mcpUrl(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'auth.who-am-i', arguments: {} },
      }),
    });
    expect(call.status).toBe(401);
  });
});
