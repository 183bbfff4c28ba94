import { ConfigReader } from '@backstage/config';
import { readOidcProviderConfig } from './readOidcProviderConfig';

const read = (auth: object) => readOidcProviderConfig(new ConfigReader({ auth })).clients;
const withRefresh = (auth: object) => read({ experimentalRefreshToken: { enabled: true }, ...auth });

describe('pre-registered clients from auth.staticClients and auth.oidcProvider.clients', () => {
  it("reads upstream 0.31's auth.staticClients: a secret makes a client confidential, none public", () => {
    expect(
      withRefresh({
        staticClients: [
          { clientId: 'grafana', clientName: 'Grafana', clientSecret: 's3cret', redirectUris: ['https://g.test/cb'] },
          { clientId: 'cli', redirectUris: ['http://127.0.0.1:8123/callback'] },
        ],
      }),
    ).toEqual([
      {
        clientId: 'grafana',
        clientSecret: 's3cret',
        clientName: 'Grafana',
        redirectUris: ['https://g.test/cb'],
        grantTypes: ['authorization_code', 'refresh_token'],
        public: false,
      },
      {
        clientId: 'cli',
        clientName: 'cli',
        redirectUris: ['http://127.0.0.1:8123/callback'],
        grantTypes: ['authorization_code', 'refresh_token'],
        public: true,
      },
    ]);
  });

  it('grants only authorization_code while refresh tokens are off', () => {
    const [client] = read({ staticClients: [{ clientId: 'cli', redirectUris: ['https://c.test/cb'] }] });
    expect(client.grantTypes).toEqual(['authorization_code']);
  });

  it('reads both keys as one set of clients', () => {
    const clients = read({
      staticClients: [{ clientId: 'from-upstream-key', redirectUris: ['https://a.test/cb'] }],
      oidcProvider: {
        clients: [{ clientId: 'from-our-key', public: true, redirectUris: ['https://b.test/cb'] }],
      },
    });
    expect(clients.map(c => c.clientId)).toEqual(['from-upstream-key', 'from-our-key']);
  });

  it('refuses a client id configured under both keys, naming both', () => {
    expect(() =>
      read({
        staticClients: [
          { clientId: 'other', redirectUris: ['https://o.test/cb'] },
          { clientId: 'grafana', clientSecret: 'a', redirectUris: ['https://g.test/cb'] },
        ],
        oidcProvider: {
          clients: [{ clientId: 'grafana', clientSecret: 'b', redirectUris: ['https://g.test/cb'] }],
        },
      }),
    ).toThrow(
      "auth.oidcProvider.clients[0].clientId: 'grafana' is also configured in auth.staticClients[1]; " +
        'configure each client under one of the two keys',
    );
  });

  it.each([
    [
      'a duplicate id',
      [
        { clientId: 'a', redirectUris: ['https://a.test/cb'] },
        { clientId: 'a', redirectUris: ['https://a.test/cb'] },
      ],
      "auth.staticClients[1].clientId: 'a' is configured twice",
    ],
    [
      'a URL id',
      [{ clientId: 'https://a.test/client.json', redirectUris: ['https://a.test/cb'] }],
      'auth.staticClients[0].clientId: must not be a URL',
    ],
    [
      'a missing id',
      [{ redirectUris: ['https://a.test/cb'] }],
      /'auth\.staticClients\[0\]\.clientId'/,
    ],
    [
      'no redirect URI',
      [{ clientId: 'a', redirectUris: [] }],
      'auth.staticClients[0].redirectUris: must list at least one redirect URI',
    ],
    [
      'http off loopback',
      [{ clientId: 'a', redirectUris: ['https://a.test/cb', 'http://a.test/cb'] }],
      "auth.staticClients[0].redirectUris[1]: 'http://a.test/cb' may use http only on a loopback host",
    ],
    [
      'a javascript: redirect',
      // eslint-disable-next-line no-script-url -- the value being refused
      [{ clientId: 'a', redirectUris: ['javascript:alert(1)'] }],
      /^auth\.staticClients\[0\]\.redirectUris\[0\]: 'javascript:alert\(1\)' must not use the 'javascript:' scheme/,
    ],
    [
      'a fragment',
      [{ clientId: 'a', redirectUris: ['https://a.test/cb#x'] }],
      "auth.staticClients[0].redirectUris[0]: 'https://a.test/cb#x' must not contain a fragment",
    ],
    [
      'an empty secret',
      [{ clientId: 'a', clientSecret: '', redirectUris: ['https://a.test/cb'] }],
      /'auth\.staticClients\[0\]\.clientSecret'.*empty-string/,
    ],
  ])('refuses %s under auth.staticClients, naming the key', (_what, staticClients, message) => {
    expect(() => read({ staticClients })).toThrow(message);
  });

  it('refuses auth.staticClients that is not a list, naming the key', () => {
    expect(() => read({ staticClients: { clientId: 'a' } })).toThrow(/auth\.staticClients/);
  });
});
