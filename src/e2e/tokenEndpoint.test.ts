import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { Knex } from 'knex';
import request from 'supertest';
import { requestIdOf } from '../oauth/authorizationRequests';
import { createTestDatabases } from '../testUtils/databases';
import { CONFIDENTIAL, PUBLIC } from './fixtures/codeFlowClients';
import { CodeFlow } from './harness/codeFlow';
import { useCodeFlowBackend } from './harness/useCodeFlowBackend';

jest.setTimeout(120_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('authorization code flow on %s', databaseId => {
  const suite = useCodeFlowBackend(databases, databaseId);

  it('issues tokens another plugin accepts and a verifiable ID token', async () => {
    const { res } = await suite.confidential.authorize();
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(/^http:\/\/localhost:3000\/oauth2\/authorize\/[^/]+$/);
    const sessionId = CodeFlow.sessionIdOf(res.headers.location);

    const session = await request(suite.backend.server).get(`/api/auth/v1/sessions/${sessionId}`);
    expect(session.status).toBe(200);
    expect(session.body).toEqual({
      id: sessionId,
      clientId: CONFIDENTIAL.clientId,
      clientName: 'Internal Web App',
      scope: 'openid profile email offline_access',
      redirectUri: CONFIDENTIAL.redirectUri,
    });

    const { token: userToken } = await suite.backend.signInAsGuest();
    const approval = await request(suite.backend.server)
      .post(`/api/auth/v1/sessions/${sessionId}/approve`)
      .auth(userToken, { type: 'bearer' })
      .set('Content-Type', 'application/json');
    expect(approval.status).toBe(200);
    const redirect = new URL(approval.body.redirectUrl);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(CONFIDENTIAL.redirectUri);
    expect(redirect.searchParams.get('state')).toBe('state-123');
    expect(redirect.searchParams.get('iss')).toBe(suite.backend.issuer);

    const res2 = await suite.confidential.redeem(redirect.searchParams.get('code')!, '');
    // An empty verifier is an omitted one: refused, and the code is now spent.
    expect(res2.status).toBe(400);
    expect(res2.body.error).toBe('invalid_grant');

    const tokens = await suite.confidential.tokens();
    expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'openid profile email offline_access' });
    expect(tokens.expires_in).toBeGreaterThan(0);
    expect(tokens.refresh_token).toEqual(expect.any(String));

    const me = await request(suite.backend.server).get('/api/whoami/me').auth(tokens.access_token, { type: 'bearer' });
    expect(me.status).toBe(200);
    expect(me.body.userEntityRef).toBe('user:development/guest');

    const jwks = await request(suite.backend.server).get('/api/auth/.well-known/jwks.json');
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, createLocalJWKSet(jwks.body), {
      issuer: suite.backend.issuer,
      audience: CONFIDENTIAL.clientId,
    });
    expect(protectedHeader.typ).toBe('JWT');
    expect(payload).toMatchObject({
      sub: 'user:development/guest',
      azp: CONFIDENTIAL.clientId,
      nonce: 'nonce-456',
      name: 'Guest User',
      email: 'guest@example.com',
    });
    expect(payload.auth_time).toEqual(expect.any(Number));
    expect(payload.exp! - payload.iat!).toBe(tokens.expires_in);
  });

  it("leaves the custom claims saved at the user's sign-in out of the access token, and as they were", async () => {
    const { code, verifier } = await suite.publicClient.approvedCode();
    // As a sign-in resolver with custom claims would have saved them.
    const claims = { sub: 'user:development/guest', ent: ['user:development/guest'], team: 'platform' };
    await suite.knex('user_info')
      .where({ user_entity_ref: 'user:development/guest' })
      .update({ user_info: JSON.stringify({ claims }) });
    const before = await suite.knex('user_info').where({ user_entity_ref: 'user:development/guest' }).first();

    const res = await suite.publicClient.redeem(code, verifier);
    expect(res.status).toBe(200);
    // Issue 25 item 8: a resolver's custom claims are the portal's, not a client's.
    const payload = decodeJwt(res.body.access_token);
    expect(payload).toMatchObject({ sub: 'user:development/guest', client_id: PUBLIC.clientId });
    expect(payload).not.toHaveProperty('team');
    expect(await suite.knex('user_info').where({ user_entity_ref: 'user:development/guest' }).first()).toEqual(before);
  });

  it('answers the token endpoint with no-store headers', async () => {
    const { code, verifier } = await suite.publicClient.approvedCode();
    const res = await suite.publicClient.redeem(code, verifier);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    const bad = await suite.publicClient.redeem(code, verifier);
    expect(bad.headers['cache-control']).toBe('no-store');
  });

  it('redeems a code once when twenty requests race', async () => {
    const { code, verifier } = await suite.publicClient.approvedCode();
    const results = await Promise.all(Array.from({ length: 20 }, () => suite.publicClient.redeem(code, verifier)));
    expect(results.filter(r => r.status === 200)).toHaveLength(1);
    const failures = results.filter(r => r.status !== 200);
    expect(failures).toHaveLength(19);
    for (const failure of failures) {
      expect(failure.status).toBe(400);
      expect(failure.body.error).toBe('invalid_grant');
    }
  });

  it('revokes the refresh token issued from a code when the code is replayed', async () => {
    const { code, verifier } = await suite.confidential.approvedCode();
    const first = await suite.confidential.redeem(code, verifier);
    expect(first.status).toBe(200);
    const replay = await suite.confidential.redeem(code, verifier);
    expect(replay.status).toBe(400);
    expect(replay.body).toEqual({ error: 'invalid_grant', error_description: 'authorization code was already used' });
    const refresh = await suite.confidential.token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe('invalid_grant');
  });

  describe('PKCE', () => {

    it('refuses a wrong or missing verifier', async () => {
      const wrong = await suite.publicClient.approvedCode();
      const res = await suite.publicClient.redeem(wrong.code, `${wrong.verifier.slice(0, -2)}xx`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'code_verifier does not match the code_challenge' });

      const missing = await suite.publicClient.approvedCode();
      const res2 = await suite.publicClient.token({ grant_type: 'authorization_code', code: missing.code, redirect_uri: PUBLIC.redirectUri });
      expect(res2.status).toBe(400);
      expect(res2.body).toEqual({ error: 'invalid_grant', error_description: 'code_verifier is required' });
    });

    it('refuses a verifier for a code issued without a challenge (downgrade)', async () => {
      // Such codes cannot be made through the API; plant one as an older release might have left it.
      const { code, verifier, sessionId } = await suite.publicClient.approvedCode();
      await suite.knex('oauth_authorization_sessions')
        .where({ id: requestIdOf(sessionId) })
        .update({ code_challenge: null, code_challenge_method: null });
      const res = await suite.publicClient.redeem(code, verifier);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'invalid_grant',
        error_description: 'code_verifier sent for a code issued without a code_challenge',
      });
    });
  });

  it('answers a wrong client secret with 401 invalid_client and WWW-Authenticate', async () => {
    const { code, verifier } = await suite.confidential.approvedCode();
    const wrong = new CodeFlow(suite.backend, { ...CONFIDENTIAL, clientSecret: 'not-the-secret' });
    const res = await wrong.redeem(code, verifier);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    // The code was not touched by the unauthenticated request.
    expect((await suite.confidential.redeem(code, verifier)).status).toBe(200);
  });

  it("refuses another client's code and a different redirect_uri", async () => {
    const { code, verifier } = await suite.confidential.approvedCode();
    const res = await suite.publicClient.token({ grant_type: 'authorization_code', code, redirect_uri: CONFIDENTIAL.redirectUri, code_verifier: verifier });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');

    const second = await suite.confidential.approvedCode();
    const res2 = await suite.confidential.redeem(second.code, second.verifier, { redirect_uri: `${CONFIDENTIAL.redirectUri}/x` });
    expect(res2.body).toEqual({ error: 'invalid_grant', error_description: 'redirect_uri does not match the authorization request' });
  });

  it.each([
    ['malformed JSON', 'application/json', '{"grant_type":', 400, 'invalid_request'],
    ['an unsupported content type', 'text/plain', 'grant_type=authorization_code', 400, 'invalid_request'],
    ['an oversized form', 'application/x-www-form-urlencoded', `grant_type=${'a'.repeat(70 * 1024)}`, 413, 'invalid_request'],
  ])('answers %s with a 4xx JSON error', async (_name, type, body, status, error) => {
    const res = await request(suite.backend.server).post('/api/auth/v1/token').set('Content-Type', type).send(body);
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(error);
    expect(res.headers['content-type']).toMatch(/application\/json/);
  });

  it('refuses an unknown grant type and a client not registered for a grant', async () => {
    const res = await suite.publicClient.token({ grant_type: 'password', username: 'u', password: 'p' });
    expect(res.body).toEqual({ error: 'unsupported_grant_type', error_description: "grant_type 'password' is not supported" });
  });

  describe('requests that name no client, as the Backstage CLI sends them (JSON bodies)', () => {
    const json = (path: string, body: Record<string, string>) =>
      request(suite.backend.server).post(`/api/auth/v1/${path}`).set('Content-Type', 'application/json').send(body);

    it('lets a public client redeem, refresh and revoke, identified by its grant', async () => {
      const { code, verifier } = await suite.publicClient.approvedCode();
      const tokens = await json('token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: PUBLIC.redirectUri,
        code_verifier: verifier,
      });
      expect(tokens.status).toBe(200);
      const refreshed = await json('token', { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
      expect(refreshed.status).toBe(200);
      expect(decodeJwt(refreshed.body.access_token).client_id).toBe(PUBLIC.clientId);

      expect((await json('revoke', { token: refreshed.body.refresh_token, token_type_hint: 'refresh_token' })).status).toBe(200);
      const afterRevoke = await json('token', { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token });
      expect(afterRevoke.status).toBe(400);
      expect(afterRevoke.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token was revoked' });
    });

    it('still requires a confidential client to authenticate', async () => {
      const { code, verifier } = await suite.confidential.approvedCode();
      const nameless = await json('token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: CONFIDENTIAL.redirectUri,
        code_verifier: verifier,
      });
      expect(nameless.status).toBe(401);
      expect(nameless.body).toEqual({ error: 'invalid_client', error_description: 'client authentication is required' });
      // The code was not spent by the refused request.
      const tokens = await suite.confidential.redeem(code, verifier);
      expect(tokens.status).toBe(200);

      const refresh = await json('token', { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
      expect(refresh.status).toBe(401);
      const revoke = await json('revoke', { token: tokens.body.refresh_token });
      expect(revoke.status).toBe(401);
      const stillLive = await suite.confidential.token({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
      expect(stillLive.status).toBe(200);
    });

    it('answers a nameless revocation of an unknown token with 200 and a nameless refresh with 401', async () => {
      expect((await json('revoke', { token: 'not-a-token' })).status).toBe(200);
      const refresh = await json('token', { grant_type: 'refresh_token', refresh_token: 'not-a-token' });
      expect(refresh.status).toBe(401);
      expect(refresh.body.error).toBe('invalid_client');
    });
  });

  it('keeps no code, refresh token or client secret in clear in any table', async () => {
    const { code, verifier } = await suite.confidential.approvedCode();
    const tokens = (await suite.confidential.redeem(code, verifier)).body;
    const rotated = (await suite.confidential.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).body;
    const secrets = [code, tokens.refresh_token, rotated.refresh_token, CONFIDENTIAL.clientSecret];
    const tables = await listTables(suite.knex);
    expect(tables).toEqual(expect.arrayContaining(['oidc_authorization_codes', 'oidc_refresh_tokens']));
    for (const table of tables) {
      const dump = JSON.stringify(await suite.knex(table).select());
      for (const secret of secrets) {
        expect(dump.includes(secret)).toBe(false);
      }
    }
  });
});

async function listTables(knex: Knex): Promise<string[]> {
  if (knex.client.config.client.includes('sqlite')) {
    const rows = await knex('sqlite_master').where({ type: 'table' }).select('name');
    return rows.map((r: { name: string }) => r.name);
  }
  const rows = await knex('information_schema.tables')
    .where({ table_schema: knex.raw('current_schema()') })
    .select('table_name');
  return rows.map((r: { table_name: string }) => r.table_name);
}
