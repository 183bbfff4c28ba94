import request from 'supertest';
import { requestIdOf } from '../oauth/authorizationRequests';
import { createTestDatabases } from '../testUtils/databases';
import { sealRequest } from './fixtures/sealRequest';
import { PUBLIC } from './fixtures/codeFlowClients';
import { CodeFlow } from './harness/codeFlow';
import { useCodeFlowBackend } from './harness/useCodeFlowBackend';

jest.setTimeout(120_000);
const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('the authorization endpoint and consent API on %s', databaseId => {
  const suite = useCodeFlowBackend(databases, databaseId);

  const sessionCount = async () =>
    Number((await suite.knex('oauth_authorization_sessions').count({ n: '*' }))[0].n);

  it('lets only the port of a loopback redirect URI vary (RFC 8252)', async () => {
    const flow = new CodeFlow(suite.backend, { clientId: PUBLIC.clientId, redirectUri: 'http://127.0.0.1:50505/callback' });
    expect((await flow.tokens()).access_token).toEqual(expect.any(String));
    const other = await flow.authorize({ redirect_uri: 'http://127.0.0.1:50505/other' });
    expect(other.res.status).toBe(400);
  });


  it.each([
    ['missing', { code_challenge: undefined, code_challenge_method: undefined }, 'code_challenge is required (PKCE with S256)'],
    ['plain', { code_challenge_method: 'plain' }, "code_challenge_method must be 'S256'; 'plain' is not supported"],
    ['without a method', { code_challenge_method: undefined }, "code_challenge_method must be 'S256'; 'plain' is not supported"],
  ])('refuses an authorization request with a %s challenge', async (_name, overrides, description) => {
    const { res } = await suite.publicClient.authorize(overrides);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location);
    expect(`${location.origin}${location.pathname}`).toBe(PUBLIC.redirectUri);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      error: 'invalid_request',
      error_description: description,
      state: 'state-123',
      iss: suite.backend.issuer,
    });
  });

  it.each([
    ['an unknown client', { client_id: 'no-such-client' }, 'invalid_client', 'unknown client_id'],
    ['an unregistered redirect URI', { redirect_uri: 'https://evil.example/cb' }, 'invalid_request', 'redirect_uri is not registered for this client'],
    ['a missing redirect URI', { redirect_uri: undefined }, 'invalid_request', "missing required parameter 'redirect_uri'"],
  ])('answers %s with 400 and no redirect', async (_name, overrides, error, description) => {
    const sessionsBefore = await sessionCount();
    const { res } = await suite.confidential.authorize(overrides);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toEqual({ error, error_description: description });
    expect(await sessionCount()).toBe(sessionsBefore);
  });

  it.each([
    ['an unknown scope', { scope: 'openid admin' }, 'invalid_scope', "scope 'admin' is not supported"],
    ['a resource outside Backstage', { resource: 'https://evil.example/api/x' }, 'invalid_target', "resource 'https://evil.example/api/x' is not served by this Backstage installation"],
    ['another response type', { response_type: 'token' }, 'unsupported_response_type', "only response_type 'code' is supported"],
    ['response_mode=fragment', { response_mode: 'fragment' }, 'invalid_request', "response_mode 'fragment' is not supported; use 'query'"],
    ['prompt=none', { prompt: 'none' }, 'consent_required', 'the user must approve this request; prompt=none cannot be honoured'],
  ])('redirects %s with the error, state and iss', async (_name, overrides, error, description) => {
    const sessionsBefore = await sessionCount();
    const { res } = await suite.confidential.authorize(overrides);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      error,
      error_description: description,
      state: 'state-123',
      iss: suite.backend.issuer,
    });
    expect(await sessionCount()).toBe(sessionsBefore);
  });

  it('accepts a resource inside this installation', async () => {
    const tokens = await suite.publicClient.tokens({ resource: `${suite.backend.baseUrl}/api/whoami` });
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  it('round-trips a state of 2000 characters', async () => {
    const state = 'x'.repeat(1000) + '-'.repeat(1000);
    const { redirect } = await suite.publicClient.approvedCode({ state });
    expect(redirect.searchParams.get('state')).toBe(state);
  });

  it('round-trips a state of 4096 characters, and refuses a request too large for a URL', async () => {
    const state = 'a1-_.~'.repeat(683).slice(0, 4096);
    const { redirect } = await suite.publicClient.approvedCode({ state });
    expect(redirect.searchParams.get('state')).toBe(state);
    // Characters that each take several bytes make the sealed request too long for the consent
    // page's URL (sent in a form, as OIDC Core §3.1.2.1 allows, since the query could not carry it).
    const { params } = await suite.confidential.authorize();
    const res = await request(suite.backend.server)
      .post('/api/auth/v1/authorize')
      .type('form')
      .send({ ...params, state: 'ü"'.repeat(2048) });
    // Not redirected: the redirect would have to carry that state back.
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toEqual({
      error: 'invalid_request',
      error_description: 'the authorization request is too large to carry to the consent page; send a shorter state',
    });
  });

  it('gives each consent session one decision by a signed-in user', async () => {
    const { res } = await suite.publicClient.authorize();
    const sessionId = CodeFlow.sessionIdOf(res.headers.location);
    const anonymous = await request(suite.backend.server).post(`/api/auth/v1/sessions/${sessionId}/approve`).set('Content-Type', 'application/json');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.name).toBe('AuthenticationError');

    const { token } = await suite.backend.signInAsGuest();
    const reject = await request(suite.backend.server).post(`/api/auth/v1/sessions/${sessionId}/reject`).auth(token, { type: 'bearer' }).set('Content-Type', 'application/json');
    expect(reject.status).toBe(200);
    expect(Object.fromEntries(new URL(reject.body.redirectUrl).searchParams)).toEqual({
      error: 'access_denied',
      error_description: 'the user denied the request',
      state: 'state-123',
      iss: suite.backend.issuer,
    });
    const again = await request(suite.backend.server).post(`/api/auth/v1/sessions/${sessionId}/approve`).auth(token, { type: 'bearer' }).set('Content-Type', 'application/json');
    expect(again.status).toBe(409);
    expect((await request(suite.backend.server).get('/api/auth/v1/sessions/no-such-session')).status).toBe(404);
  });

  it('lets exactly one of several decisions sent at once win, with one code', async () => {
    const { res } = await suite.publicClient.authorize();
    const sessionId = CodeFlow.sessionIdOf(res.headers.location);
    const { token } = await suite.backend.signInAsGuest();
    const decide = (decision: string) =>
      request(suite.backend.server)
        .post(`/api/auth/v1/sessions/${sessionId}/${decision}`)
        .auth(token, { type: 'bearer' })
        .set('Content-Type', 'application/json');
    const answers = await Promise.all(['approve', 'approve', 'reject', 'approve', 'approve', 'approve'].map(decide));
    const won = answers.filter(answer => answer.status === 200);
    expect(won).toHaveLength(1);
    expect(answers.filter(answer => answer.status === 409)).toHaveLength(answers.length - 1);
    const codes = await suite.knex('oidc_authorization_codes').where({ session_id: requestIdOf(sessionId) });
    const row = await suite.knex('oauth_authorization_sessions').where({ id: requestIdOf(sessionId) }).first();
    const approvalWon = new URL(won[0].body.redirectUrl).searchParams.has('code');
    expect({ codes: codes.length, status: row.status }).toEqual(
      approvalWon ? { codes: 1, status: 'approved' } : { codes: 0, status: 'rejected' },
    );
  });

  it('accepts the request as a POSTed form too (OIDC Core §3.1.2.1)', async () => {
    const { params } = await suite.publicClient.authorize();
    const res = await request(suite.backend.server).post('/api/auth/v1/authorize').type('form').send(params);
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(/\/oauth2\/authorize\/[^/]+$/);
  });

  it('answers a repeated parameter with 400 and no redirect', async () => {
    const res = await request(suite.backend.server).get(
      `/api/auth/v1/authorize?client_id=${PUBLIC.clientId}&client_id=other&redirect_uri=${encodeURIComponent(PUBLIC.redirectUri)}`,
    );
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toEqual({ error: 'invalid_request', error_description: "parameter 'client_id' is repeated" });
  });

  it('lets no one decide an expired consent request', async () => {
    // Sealed as this deployment seals them, with its key from the database.
    const handle = await sealRequest(suite.knex, {
      clientId: PUBLIC.clientId,
      redirectUri: PUBLIC.redirectUri,
      expiresAt: new Date(Date.now() - 1000),
    });
    expect((await request(suite.backend.server).get(`/api/auth/v1/sessions/${handle}`)).status).toBe(404);
    const { token } = await suite.backend.signInAsGuest();
    const approve = await request(suite.backend.server).post(`/api/auth/v1/sessions/${handle}/approve`).auth(token, { type: 'bearer' }).set('Content-Type', 'application/json');
    expect(approve.status).toBe(404);
    expect(approve.body.error.name).toBe('NotFoundError');
    expect(await suite.knex('oauth_authorization_sessions').where({ id: requestIdOf(handle) })).toEqual([]);
    // The same request, not yet expired, is decided as usual.
    const live = await sealRequest(suite.knex, { clientId: PUBLIC.clientId, redirectUri: PUBLIC.redirectUri });
    expect((await request(suite.backend.server).get(`/api/auth/v1/sessions/${live}`)).status).toBe(200);
  });

  it('binds an approved session to the approving user', async () => {
    const { sessionId } = await suite.publicClient.approvedCode();
    const row = await suite.knex('oauth_authorization_sessions').where({ id: requestIdOf(sessionId) }).first();
    expect(row).toMatchObject({ status: 'approved', user_entity_ref: 'user:development/guest' });
  });

  it.each([
    ['malformed JSON', '{"x":', 400],
    ['an oversized body', JSON.stringify({ x: 'a'.repeat(10_000) }), 413],
  ])('answers %s on the consent API with a Backstage 4xx and no decision', async (_name, body, status) => {
    const { res } = await suite.publicClient.authorize();
    const sessionId = CodeFlow.sessionIdOf(res.headers.location);
    const { token } = await suite.backend.signInAsGuest();
    const approve = await request(suite.backend.server)
      .post(`/api/auth/v1/sessions/${sessionId}/approve`)
      .auth(token, { type: 'bearer' })
      .set('Content-Type', 'application/json')
      .send(body);
    expect(approve.status).toBe(status);
    expect(approve.body.error).toEqual(expect.objectContaining({ name: expect.any(String), message: expect.any(String) }));
    expect(await suite.knex('oauth_authorization_sessions').where({ id: requestIdOf(sessionId) })).toEqual([]);
  });
});
