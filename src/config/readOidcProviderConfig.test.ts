import { ConfigReader } from '@backstage/config';
import {
  DEFAULT_CONSENT_SESSION_LIFETIME_SECONDS,
  readOidcProviderConfig,
} from './readOidcProviderConfig';

const read = (auth: object) => readOidcProviderConfig(new ConfigReader({ auth }));

describe('readOidcProviderConfig', () => {
  it('has safe defaults: everything optional off, lifetimes at their defaults', () => {
    const config = read({});
    expect(config.dynamicClientRegistration.enabled).toBe(false);
    expect(config.clientIdMetadataDocuments.enabled).toBe(false);
    expect(config.refreshToken.enabled).toBe(false);
    expect(config.deviceAuthorization.enabled).toBe(false);
    expect(config.dangerouslyAllowInsecureClientIdMetadataDocuments).toBe(false);
    expect(config.authorizationCodeLifetimeSeconds).toBe(60);
    expect(config.consentSessionLifetimeSeconds).toBe(DEFAULT_CONSENT_SESSION_LIFETIME_SECONDS);
    expect(config.consentPage).toBe('app');
    expect(config.clients).toEqual([]);
    // upstream default: any redirect URI
    expect(config.dynamicClientRegistration.isRedirectUriAllowed('https://x.test/cb')).toBe(true);
  });

  it('reads the device page wrong-code budget from rateLimits.verification (5 per 5 minutes by default)', () => {
    expect(read({}).rateLimits.verification).toEqual({ requests: 5, windowSeconds: 300 });
    const configured = read({ oidcProvider: { rateLimits: { verification: { requests: 3, window: '2m' } } } });
    expect(configured.rateLimits.verification).toEqual({ requests: 3, windowSeconds: 120 });
    // The old meaning's values (a per-minute page budget) still parse.
    expect(read({ oidcProvider: { rateLimits: { verification: { requests: 10 } } } }).rateLimits.verification).toEqual({
      requests: 10,
      windowSeconds: 300,
    });
  });

  it('reads the acr values sign-ins can carry (issue 14): none by default', () => {
    expect(read({}).acrValuesSupported).toEqual([]);
    expect(read({ oidcProvider: { acrValuesSupported: ['urn:loa:1', 'urn:loa:2', 'urn:loa:1'] } }).acrValuesSupported).toEqual([
      'urn:loa:1',
      'urn:loa:2',
    ]);
  });

  it('clamps lifetimes to their maxima', () => {
    const config = read({
      oidcProvider: {
        authorizationCodeLifetime: '10m',
        consentSessionLifetime: { hours: 2 },
        deviceAuthorization: { enabled: true, lifetime: '1h', interval: '1s' },
      },
    });
    expect(config.authorizationCodeLifetimeSeconds).toBe(60);
    expect(config.consentSessionLifetimeSeconds).toBe(600);
    expect(config.deviceAuthorization).toMatchObject({ lifetimeSeconds: 600, intervalSeconds: 1 });
  });

  it('reads allow-lists and the deprecated CIMD alias', () => {
    const config = read({
      experimentalDynamicClientRegistration: {
        enabled: true,
        allowedRedirectUriPatterns: ['http://127.0.0.1:*/callback'],
      },
      experimentalClientIdMetadataDocuments: {
        enabled: true,
        allowedClientIdPatterns: ['https://*.example.com/**'],
      },
    });
    const dcr = config.dynamicClientRegistration;
    expect(dcr.isRedirectUriAllowed('http://127.0.0.1:9999/callback')).toBe(true);
    expect(dcr.isRedirectUriAllowed('https://evil.test/callback')).toBe(false);
    const cimd = config.clientIdMetadataDocuments;
    expect(cimd.enabled).toBe(true);
    expect(cimd.isClientIdAllowed('https://tools.example.com/client.json')).toBe(true);
    expect(cimd.isClientIdAllowed('https://evil.test/client.json')).toBe(false);
  });

  it("defaults metadata-document allow-lists to upstream's: known MCP clients, loopback redirects", () => {
    const cimd = read({ clientIdMetadataDocuments: { enabled: true } }).clientIdMetadataDocuments;
    expect(cimd.isClientIdAllowed('https://claude.ai/oauth/mcp-oauth-client-metadata')).toBe(true);
    expect(cimd.isClientIdAllowed('https://vscode.dev/oauth/client-metadata.json')).toBe(true);
    expect(cimd.isClientIdAllowed('https://chatgpt.com/oauth/codex/abc/client.json')).toBe(true);
    expect(cimd.isClientIdAllowed('https://cursor.com/oauth/mcp-client.json')).toBe(true);
    expect(cimd.isClientIdAllowed('https://evil.example/client.json')).toBe(false);
    expect(cimd.isRedirectUriAllowed('http://127.0.0.1:33418/callback')).toBe(true);
    expect(cimd.isRedirectUriAllowed('http://localhost/oauth/callback')).toBe(true);
    expect(cimd.isRedirectUriAllowed('http://[::1]:8080/cb')).toBe(true);
    expect(cimd.isRedirectUriAllowed('https://claude.ai/api/mcp/auth_callback')).toBe(false);
    expect(cimd.isRedirectUriAllowed('https://evil.example/cb')).toBe(false);
  });

  it('reads static clients with refresh enabled', () => {
    const config = read({
      experimentalRefreshToken: { enabled: true },
      oidcProvider: {
        clients: [
          { clientId: 'grafana', clientSecret: 's3cret', redirectUris: ['https://g.test/cb'] },
          { clientId: 'cli', public: true, clientName: 'CLI', redirectUris: ['http://127.0.0.1/cb'] },
        ],
      },
    });
    expect(config.clients).toEqual([
      {
        clientId: 'grafana',
        clientSecret: 's3cret',
        clientName: 'grafana',
        redirectUris: ['https://g.test/cb'],
        grantTypes: ['authorization_code', 'refresh_token'],
        public: false,
      },
      {
        clientId: 'cli',
        clientName: 'CLI',
        redirectUris: ['http://127.0.0.1/cb'],
        grantTypes: ['authorization_code', 'refresh_token'],
        public: true,
      },
    ]);
  });

  it.each([
    [{ experimentalDynamicClientRegistration: { enabled: 'maybe' } }, /'auth\.experimentalDynamicClientRegistration\.enabled'/],
    [{ experimentalDynamicClientRegistration: { allowedRedirectUriPatterns: ['nope'] } }, /^auth\.experimentalDynamicClientRegistration\.allowedRedirectUriPatterns\[0\]: /],
    [{ experimentalRefreshToken: { tokenLifetime: 'soon' } }, /^auth\.experimentalRefreshToken\.tokenLifetime: /],
    [{ experimentalRefreshToken: { maxTokensPerUser: 0 } }, /^auth\.experimentalRefreshToken\.maxTokensPerUser: /],
    [{ oidcProvider: { consentPage: 'mine' } }, /^auth\.oidcProvider\.consentPage: /],
    [{ oidcProvider: { acrValuesSupported: ['urn:a urn:b'] } }, /^auth\.oidcProvider\.acrValuesSupported\[0\]: must be 1 to 255 printable/],
    [{ oidcProvider: { acrValuesSupported: 'urn:a' } }, /'auth\.oidcProvider\.acrValuesSupported'/],
    [{ oidcProvider: { rateLimits: { token: { requests: -1 } } } }, /^auth\.oidcProvider\.rateLimits\.token\.requests: /],
    [{ oidcProvider: { clients: [{ clientId: 'a', redirectUris: ['https://a.test/cb'] }] } }, /^auth\.oidcProvider\.clients\[0\]\.clientSecret: required/],
    [{ oidcProvider: { clients: [{ clientId: 'a', public: true, clientSecret: 'x', redirectUris: ['https://a.test/cb'] }] } }, /^auth\.oidcProvider\.clients\[0\]\.clientSecret: a public/],
    [{ oidcProvider: { clients: [{ clientId: 'https://a.test/c.json', public: true, redirectUris: ['https://a.test/cb'] }] } }, /^auth\.oidcProvider\.clients\[0\]\.clientId: must not be a URL/],
    [{ oidcProvider: { clients: [{ clientId: 'a', public: true, redirectUris: ['https://a.test/cb#x'] }] } }, /^auth\.oidcProvider\.clients\[0\]\.redirectUris\[0\]: /],
    [{ oidcProvider: { clients: [{ clientId: 'a', public: true, redirectUris: ['https://a.test/cb'], grantTypes: ['refresh_token'] }] } }, /^auth\.oidcProvider\.clients\[0\]\.grantTypes: 'refresh_token' is not enabled/],
    [{ oidcProvider: { clients: [{ clientId: 'a', public: true, redirectUris: ['https://a.test/cb'], scopes: ['admin'] }] } }, /^auth\.oidcProvider\.clients\[0\]\.scopes: 'admin'/],
    [{ oidcProvider: { clients: [{ clientId: 'a', public: true, redirectUris: ['https://a.test/cb'] }, { clientId: 'a', public: true, redirectUris: ['https://a.test/cb'] }] } }, /^auth\.oidcProvider\.clients\[1\]\.clientId: 'a' is configured twice/],
  ])('refuses a wrong value naming the key (%#)', (auth, message) => {
    expect(() => read(auth)).toThrow(message);
  });
});
