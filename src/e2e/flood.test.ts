import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { createTestDatabases } from '../testUtils/databases';
import { authorizeUrl } from './fixtures/authorizeUrl';
import { guestUser } from './fixtures/guestUser';
import { requestFrom } from './fixtures/requestFrom';
import { CodeFlow } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

/**
 * Issue 12 item 6: anonymous requests at full speed, from many addresses, for
 * a fixed time (FLOOD_SECONDS, default 8), while a legitimate client signs a
 * user in. The tables must stay under the caps the README documents: none
 * at all for authorization requests, which wait for their decision in their
 * handles (issue 25 item 1).
 */
const FLOOD_SECONDS = Number(process.env.FLOOD_SECONDS ?? 8);
const ATTACKER_ADDRESSES = 40;
const WORKERS = 16;
const CAPS = { registrationsPerAddress: 2 };

jest.setTimeout(60_000 + FLOOD_SECONDS * 4_000);
const databases = createTestDatabases();
const WEB_APP = { clientId: 'web-app', clientSecret: 'web-app-secret-value', redirectUri: 'https://app.example.com/cb' };
const LOOPBACK = 'http://127.0.0.1:6000/callback';

/** Any `/<name>.json` is a valid metadata document: an attacker's endless supply of clients. */
async function startDocumentServer() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ client_id: `http://${req.headers.host}${req.url}`, redirect_uris: [LOOPBACK] }));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (name: string) => `http://127.0.0.1:${port}/${name}.json`,
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
  };
}

describe.each(databases.eachSupportedId())('a flood of anonymous requests on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let documents: Awaited<ReturnType<typeof startDocumentServer>>;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    documents = await startDocumentServer();
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: {
        auth: {
          experimentalDynamicClientRegistration: { enabled: true },
          clientIdMetadataDocuments: { enabled: true, allowedClientIdPatterns: ['http://127.0.0.1:*/*.json'] },
          oidcProvider: {
            dangerouslyAllowInsecureClientIdMetadataDocuments: true,
            rateLimits: {
              // High enough that no rate limit, only the design, keeps the table empty.
              authorization: { requests: 100_000 },
              registration: { requests: CAPS.registrationsPerAddress, window: { hours: 1 } },
            },
            clients: [
              { clientId: WEB_APP.clientId, clientSecret: WEB_APP.clientSecret, redirectUris: [WEB_APP.redirectUri] },
            ],
          },
        },
      },
    });
  });
  afterAll(async () => {
    await backend?.stop();
    await documents?.close();
  });

  it('keeps the tables under the caps while a legitimate client signs in', async () => {
    const statuses: Record<string, number> = {};
    const count = (kind: string, status: number) => {
      statuses[`${kind} ${status}`] = (statuses[`${kind} ${status}`] ?? 0) + 1;
    };
    const dcrClients: string[] = [];

    const deadline = Date.now() + FLOOD_SECONDS * 1000;
    let n = 0;
    const worker = async () => {
      while (Date.now() < deadline) {
        const i = n++;
        const address = `127.0.1.${1 + (i % ATTACKER_ADDRESSES)}`;
        const kind = ['register', 'authorize-dcr', 'authorize-cimd'][i % 3];
        if (kind === 'register') {
          const res = await requestFrom(address, `${backend.baseUrl}/api/auth/v1/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ redirect_uris: [LOOPBACK], token_endpoint_auth_method: 'none' }),
          });
          if (res.status === 201) dcrClients.push(res.body.client_id);
          count(kind, res.status);
        } else if (kind === 'authorize-dcr' && dcrClients.length > 0) {
          count(kind, (await requestFrom(address, authorizeUrl(backend, dcrClients[i % dcrClients.length], LOOPBACK))).status);
        } else {
          count(kind, (await requestFrom(address, authorizeUrl(backend, documents.url(`tool-${i}`), LOOPBACK))).status);
        }
      }
    };

    const legitimate = async () => {
      // Starts once the flood is under way, and must finish during it.
      await new Promise(resolve => setTimeout(resolve, (FLOOD_SECONDS * 1000) / 3));
      const tokens = await new CodeFlow(backend, WEB_APP).tokens({ scope: 'openid' });
      expect(Date.now()).toBeLessThan(deadline);
      return tokens;
    };

    const [tokens] = await Promise.all([legitimate(), ...Array.from({ length: WORKERS }, worker)]);
    expect(tokens.access_token).toEqual(expect.any(String));

    const sessions = Number((await knex('oauth_authorization_sessions').count({ n: '*' }))[0].n);
    const clients = Number((await knex('oidc_clients').count({ n: '*' }))[0].n);
    // eslint-disable-next-line no-console
    console.info(`flood on ${databaseId}: ${n} requests in ${FLOOD_SECONDS}s; ${sessions} sessions, ${clients} clients; ${JSON.stringify(statuses)}`);
    // The flood was served and did push against the registration cap...
    expect(statuses['authorize-dcr 302']).toBeGreaterThan(0);
    expect(statuses['authorize-cimd 302']).toBeGreaterThan(0);
    expect(statuses['register 429']).toBeGreaterThan(0);
    // ...and the tables stayed under the caps: no session but the legitimate
    // flow's decided one, per address for registrations, and no rows at all
    // for metadata-document clients.
    expect(sessions).toBe(1);
    expect(clients).toBeLessThanOrEqual(ATTACKER_ADDRESSES * CAPS.registrationsPerAddress);
    expect(await knex('oidc_clients').where('client_id', 'like', 'http%')).toEqual([]);
  });
});
