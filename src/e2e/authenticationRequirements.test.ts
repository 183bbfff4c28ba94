import { decodeJwt } from 'jose';
import type { Knex } from 'knex';
import request from 'supertest';
import { requestIdOf } from '../oauth/authorizationRequests';
import { createTestDatabases } from '../testUtils/databases';
import { CONFIDENTIAL, PUBLIC, codeFlowConfig } from './fixtures/codeFlowClients';
import { guestUser } from './fixtures/guestUser';
import { CodeFlow, approveWithToken } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);
const databases = createTestDatabases();

const seconds = (ms: number) => Math.floor(ms / 1000);
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Issue 14 with the app's consent page (`@backstage/plugin-auth`), which
 * cannot send the user to sign in again: `prompt=login` is refused at once,
 * `max_age` and `acr_values` are checked when the user approves, and the
 * ID token's auth_time is the sign-in, not the approval. The guest provider
 * authenticates every call to its refresh endpoint, so each guest token is
 * a sign-in.
 */
describe.each(databases.eachSupportedId())('authentication requirements with the app consent page on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let confidential: CodeFlow;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    const base = codeFlowConfig();
    const auth = base.auth as { oidcProvider: Record<string, unknown> };
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: {
        auth: {
          ...auth,
          experimentalDynamicClientRegistration: { enabled: true },
          oidcProvider: { ...auth.oidcProvider, acrValuesSupported: ['urn:example:mfa'] },
        },
      },
    });
    confidential = new CodeFlow(backend, CONFIDENTIAL);
  });
  afterAll(async () => {
    await backend?.stop();
  });

  const sessionCount = async () =>
    Number((await knex('oauth_authorization_sessions').count({ n: '*' }))[0].n);

  /** The error parameters of a redirect to the client. */
  const errorOf = (location: string) => {
    const url = new URL(location);
    return Object.fromEntries(url.searchParams);
  };

  it('refuses prompt=login with login_required at once, since the app’s page cannot ask for a sign-in', async () => {
    const before = await sessionCount();
    const { res } = await confidential.authorize({ prompt: 'login' });
    expect(res.status).toBe(302);
    expect(res.headers.location.startsWith(CONFIDENTIAL.redirectUri)).toBe(true);
    expect(errorOf(res.headers.location)).toEqual({
      error: 'login_required',
      error_description:
        "prompt=login cannot be honoured: this portal's consent page cannot ask the user to sign in again",
      state: 'state-123',
      iss: backend.issuer,
    });
    expect(await sessionCount()).toBe(before);
  });

  it('shows the error instead of redirecting for a client anyone could register', async () => {
    const registered = await request(backend.server)
      .post('/api/auth/v1/register')
      .send({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' });
    const flow = new CodeFlow(backend, { clientId: registered.body.client_id, redirectUri: 'http://127.0.0.1/cb' });
    const { res } = await flow.authorize({ prompt: 'login', scope: 'openid' });
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body.error).toBe('login_required');
  });

  it('puts the sign-in time into the ID token when the sign-in meets max_age', async () => {
    const signedInAt = Date.now();
    const { token } = await backend.signInAsGuest();
    await sleep(1100);
    const tokens = await confidential.tokens({ max_age: '60' }, token);
    const { auth_time } = decodeJwt(tokens.id_token!);
    expect(auth_time).toBeGreaterThanOrEqual(seconds(signedInAt));
    // The approval came more than a second later; the ID token does not say so.
    expect(auth_time).toBeLessThan(seconds(Date.now()));

    // A refresh keeps it (OIDC Core §12.2).
    const refreshed = await confidential.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(decodeJwt(refreshed.body.id_token).auth_time).toBe(auth_time);
  });

  it('answers the approval of a sign-in older than max_age with login_required, and decides the session', async () => {
    const { token } = await backend.signInAsGuest();
    await sleep(2100);
    const { res } = await confidential.authorize({ max_age: '1' });
    const sessionId = CodeFlow.sessionIdOf(res.headers.location);
    const redirect = await approveWithToken(backend, sessionId, token);
    expect(Object.fromEntries(redirect.searchParams)).toEqual({
      error: 'login_required',
      error_description: 'the user has not signed in recently enough for this request',
      state: 'state-123',
      iss: backend.issuer,
    });
    const [row] = await knex('oauth_authorization_sessions').where({ id: requestIdOf(sessionId) });
    expect(row.status).toBe('rejected');
    const codes = await knex('oidc_authorization_codes').where({ session_id: requestIdOf(sessionId) });
    expect(codes).toEqual([]);
  });

  it('refuses acr_values that no sign-in can have at the authorization endpoint', async () => {
    const before = await sessionCount();
    const { res } = await confidential.authorize({ acr_values: 'urn:example:loa:9 urn:example:loa:8' });
    expect(errorOf(res.headers.location)).toEqual({
      error: 'unmet_authentication_requirements',
      error_description: 'acr_values cannot be met; supported values are: urn:example:mfa',
      state: 'state-123',
      iss: backend.issuer,
    });
    expect(await sessionCount()).toBe(before);
  });

  it('answers the approval of a sign-in without the asked acr with unmet_authentication_requirements', async () => {
    // The guest provider reports no acr at all.
    const { redirect } = await confidential.approvedCode({ acr_values: 'urn:example:mfa' });
    expect(Object.fromEntries(redirect.searchParams)).toEqual({
      error: 'unmet_authentication_requirements',
      error_description: "the user's sign-in has no authentication context class, not one of the requested acr_values",
      state: 'state-123',
      iss: backend.issuer,
    });
  });

  it.each([
    ['not a number', 'soon'],
    ['negative', '-1'],
    ['a fraction', '1.5'],
  ])('refuses a max_age that is %s', async (_name, maxAge) => {
    const { res } = await new CodeFlow(backend, PUBLIC).authorize({ max_age: maxAge });
    expect(errorOf(res.headers.location)).toMatchObject({
      error: 'invalid_request',
      error_description: 'max_age must be a whole number of seconds',
    });
  });

  it('advertises the acr values it can check and the claims it passes on', async () => {
    const res = await request(backend.server).get('/api/auth/.well-known/openid-configuration');
    expect(res.body.acr_values_supported).toEqual(['urn:example:mfa']);
    expect(res.body.claims_supported).toEqual(expect.arrayContaining(['auth_time', 'acr', 'amr']));
  });
});
