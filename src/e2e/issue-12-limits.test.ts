import type { Knex } from 'knex';
import { createTestDatabases } from '../testUtils/databases';
import { authorizeUrl } from './fixtures/authorizeUrl';
import { guestUser } from './fixtures/guestUser';
import { requestFrom } from './fixtures/requestFrom';
import { approveAsGuest, CodeFlow } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

/**
 * Regression tests for issue 12, items 6 and 7: bounded growth and rate
 * limits that cannot be pointed at a victim. Requests come from several
 * loopback addresses (127.0.0.0/8), so each is its own client address.
 */
const databases = createTestDatabases();

const WEB_APP = { clientId: 'web-app', clientSecret: 'web-app-secret-value', redirectUri: 'https://app.example.com/cb' };
const NATIVE = { clientId: 'native-tool', redirectUri: 'http://127.0.0.1:7000/callback' };

describe.each(databases.eachSupportedId())('issue 12 limits on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: {
        auth: {
          oidcProvider: {
            rateLimits: {
              authorization: { requests: 3, window: { minutes: 1 } },
              token: { requests: 3, window: { minutes: 1 } },
            },
            deviceAuthorization: { enabled: true },
            clients: [
              {
                clientId: WEB_APP.clientId,
                clientSecret: WEB_APP.clientSecret,
                redirectUris: [WEB_APP.redirectUri],
                grantTypes: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
              },
              { clientId: NATIVE.clientId, public: true, redirectUris: [NATIVE.redirectUri] },
            ],
          },
        },
      },
    });
  });
  afterAll(() => backend?.stop());

  const authorizeFrom = (address: string, clientId = NATIVE.clientId, redirectUri = NATIVE.redirectUri) =>
    requestFrom(address, authorizeUrl(backend, clientId, redirectUri));

  describe('item 6: bounded growth under anonymous traffic', () => {
    it('leaves no row for an undecided request, and limits the work an address can ask for', async () => {
      const rows = () => knex('oauth_authorization_sessions').where({ client_id: NATIVE.clientId });
      const first = await authorizeFrom('127.0.0.21');
      expect(first.status).toBe(302);
      expect((await authorizeFrom('127.0.0.21')).status).toBe(302);
      expect((await authorizeFrom('127.0.0.21')).status).toBe(302);
      // Issue 25 item 1: requests wait for their decision in their handles.
      expect(await rows()).toEqual([]);
      const fourth = await authorizeFrom('127.0.0.21');
      expect(fourth.status).toBe(429);
      expect(fourth.body.error).toBe('too_many_requests');
      expect(Number(fourth.headers['retry-after'])).toBeGreaterThan(0);

      // A decision is what stores a request: one row, bound to the user.
      await approveAsGuest(backend, CodeFlow.sessionIdOf(first.headers.location));
      expect(await rows()).toEqual([expect.objectContaining({ status: 'approved', user_entity_ref: 'user:development/guest' })]);
      // Other addresses are not affected.
      expect((await authorizeFrom('127.0.0.22')).status).toBe(302);
    });
  });

  describe('item 7: rate limits an attacker cannot point at a victim', () => {
    const tokenFrom = (address: string, secret: string) =>
      requestFrom(address, `${backend.baseUrl}/api/auth/v1/token`, {
        headers: {
          authorization: `Basic ${Buffer.from(`${WEB_APP.clientId}:${secret}`).toString('base64')}`,
        },
        form: { grant_type: 'authorization_code', code: 'x', redirect_uri: WEB_APP.redirectUri, code_verifier: 'v'.repeat(43) },
      });

    it('charges wrong secrets to the sender, so the client itself keeps working', async () => {
      // 12 addresses × 3 = 36 failed attempts, more than the client's own budget (3 × 10).
      for (let host = 30; host < 42; host++) {
        const statuses = [];
        for (let i = 0; i < 5; i++) statuses.push((await tokenFrom(`127.0.0.${host}`, 'wrong')).status);
        expect(statuses).toEqual([401, 401, 401, 429, 429]);
      }
      // The real client, from its own address, gets past authentication (to the bogus code).
      const real = await tokenFrom('127.0.0.50', WEB_APP.clientSecret);
      expect(real.status).toBe(400);
      expect(real.body.error).toBe('invalid_grant');
    });

    it('tells a device that polls past the limit to slow down', async () => {
      const poll = () =>
        requestFrom('127.0.0.60', `${backend.baseUrl}/api/auth/v1/token`, {
          form: {
            grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
            device_code: 'unknown',
            client_id: NATIVE.clientId,
          },
        });
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push((await poll()).body.error);
      expect(answers.slice(3)).toEqual(['slow_down', 'slow_down']);
    });
  });
});
