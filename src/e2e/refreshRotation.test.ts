import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { CodeFlow } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);
const databases = createTestDatabases();

const APP = { clientId: 'app', clientSecret: 'app-secret-value-0123456789', redirectUri: 'https://app.example.com/cb' };
const OTHER = { clientId: 'other', clientSecret: 'other-secret-value-0123456789', redirectUri: 'https://other.example.com/cb' };

function clientsConfig() {
  return [APP, OTHER].map(c => ({
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    redirectUris: [c.redirectUri],
    grantTypes: ['authorization_code', 'refresh_token'],
  }));
}

describe.each(databases.eachSupportedId())('refresh tokens on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let app: CodeFlow;
  let other: CodeFlow;
  const refresh = (flow: CodeFlow, token: string, extra: Record<string, string> = {}) =>
    flow.token({ grant_type: 'refresh_token', refresh_token: token, ...extra });

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: {
        auth: {
          experimentalRefreshToken: { enabled: true, maxTokensPerUser: 3 },
          oidcProvider: { clients: clientsConfig() },
        },
      },
    });
    app = new CodeFlow(backend, APP);
    other = new CodeFlow(backend, OTHER);
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it('rotates the refresh token on every use', async () => {
    const first = await app.tokens();
    const second = await refresh(app, first.refresh_token!);
    expect(second.status).toBe(200);
    expect(second.headers['cache-control']).toBe('no-store');
    expect(second.body).toMatchObject({ token_type: 'Bearer', scope: 'openid profile email offline_access' });
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect(second.body.id_token).toEqual(expect.any(String));
    const me = await request(backend.server).get('/api/whoami/me').auth(second.body.access_token, { type: 'bearer' });
    expect(me.body.userEntityRef).toBe('user:development/guest');
    const third = await refresh(app, second.body.refresh_token);
    expect(third.status).toBe(200);
  });

  it('revokes the whole family when a rotated token is reused', async () => {
    const first = await app.tokens();
    const second = (await refresh(app, first.refresh_token!)).body;
    const reuse = await refresh(app, first.refresh_token!);
    expect(reuse.status).toBe(400);
    expect(reuse.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token was already used' });
    const latest = await refresh(app, second.refresh_token);
    expect(latest.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token was revoked' });
  });

  it('binds a refresh token to its client', async () => {
    const tokens = await app.tokens();
    const stolen = await refresh(other, tokens.refresh_token!);
    expect(stolen.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token is invalid' });
    expect((await refresh(app, tokens.refresh_token!)).status).toBe(200);
  });

  it('lets a refresh narrow the scope but never widen it', async () => {
    const tokens = await app.tokens({ scope: 'openid offline_access' });
    const wider = await refresh(app, tokens.refresh_token!, { scope: 'openid email offline_access' });
    expect(wider.body).toEqual({ error: 'invalid_scope', error_description: "scope 'email' was not granted to this refresh token" });
    const narrower = await refresh(app, tokens.refresh_token!, { scope: 'offline_access' });
    expect(narrower.status).toBe(200);
    expect(narrower.body.scope).toBe('offline_access');
    expect(narrower.body.id_token).toBeUndefined();
  });

  it('issues no refresh token without offline_access', async () => {
    const tokens = await app.tokens({ scope: 'openid' });
    expect(tokens.refresh_token).toBeUndefined();
  });

  it.each([
    ['idle', { expires_at: new Date(Date.now() - 1000) }],
    ['absolute', { family_expires_at: new Date(Date.now() - 1000) }],
  ])('refuses a token past its %s lifetime', async (_name, update) => {
    const tokens = await app.tokens();
    await knex('oidc_refresh_tokens').where({ client_id: APP.clientId, status: 'active' }).update(update);
    const res = await refresh(app, tokens.refresh_token!);
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token has expired' });
  });

  it("revokes the user's oldest grant beyond maxTokensPerUser", async () => {
    const all = [];
    for (let i = 0; i < 4; i++) all.push(await app.tokens());
    expect((await refresh(app, all[0].refresh_token!)).body.error).toBe('invalid_grant');
    for (const tokens of all.slice(1)) {
      expect((await refresh(app, tokens.refresh_token!)).status).toBe(200);
    }
  });

  describe('revocation (RFC 7009)', () => {
    it('revokes a refresh token and its family', async () => {
      const first = await app.tokens();
      const second = (await refresh(app, first.refresh_token!)).body;
      const res = await app.revoke({ token: second.refresh_token, token_type_hint: 'refresh_token' });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect((await refresh(app, second.refresh_token)).body).toEqual({
        error: 'invalid_grant',
        error_description: 'refresh token was revoked',
      });
    });

    it('answers 200 for unknown tokens and tokens of other clients, changing nothing', async () => {
      expect((await app.revoke({ token: 'no-such-token' })).status).toBe(200);
      const tokens = await app.tokens();
      expect((await other.revoke({ token: tokens.refresh_token! })).status).toBe(200);
      expect((await refresh(app, tokens.refresh_token!)).status).toBe(200);
    });

    it('authenticates the client as the token endpoint does', async () => {
      const tokens = await app.tokens();
      const impostor = new CodeFlow(backend, { ...APP, clientSecret: 'wrong-secret' });
      const res = await impostor.revoke({ token: tokens.refresh_token! });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
      const missing = await app.revoke({});
      expect(missing.body).toEqual({ error: 'invalid_request', error_description: "missing required parameter 'token'" });
      expect((await refresh(app, tokens.refresh_token!)).status).toBe(200);
    });
  });
});

describe.each(databases.eachSupportedId())('refresh for users gone from the catalog on %s', databaseId => {
  let backend: AuthBackend;

  beforeAll(async () => {
    const knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      entities: [],
      config: {
        auth: {
          // The guest provider falls back to a token for a user the catalog does not know.
          providers: { guest: { dangerouslyAllowOutsideDevelopment: true, userEntityRef: 'user:default/ghost' } },
          experimentalRefreshToken: { enabled: true },
          oidcProvider: { clients: clientsConfig() },
        },
      },
    });
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it('refuses to refresh and revokes the family', async () => {
    const app = new CodeFlow(backend, APP);
    const tokens = await app.tokens();
    const res = await app.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'the user no longer exists in the catalog' });
  });
});
