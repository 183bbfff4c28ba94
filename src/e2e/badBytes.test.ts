import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { withGenerousRateLimits } from './fixtures/generousRateLimits';
import { guestUser } from './fixtures/guestUser';
import { pkcePair } from './fixtures/pkcePair';
import { CodeFlow } from './harness/codeFlow';
import { snapshotTables } from './harness/snapshotTables';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

// Issue 12 item 8: bad bytes are bad requests. A NUL byte or another control
// character, a lone surrogate or bytes that are not UTF-8, in any path, query,
// form, JSON or Basic parameter, is a 400 with the endpoint's standard error
// on every database, and changes no row. PostgreSQL used to answer 500.

jest.setTimeout(120_000);
const databases = createTestDatabases();

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const APP = {
  clientId: 'bytes-app',
  clientSecret: 'a-long-configured-secret-value',
  redirectUri: 'https://app.example.com/callback',
};
const NUL = 'a control character (U+0000)';
const DEL = 'a control character (U+007F)';
const NEL = 'a control character (U+0085)';
const US = 'a control character (U+001F)';
const LONE = 'a lone surrogate (U+D800)';
const NOT_UTF8 = 'a replacement character (U+FFFD), which stands for bytes that are not UTF-8';
const REDIRECT_URIS = ['https://allowed.example.com/cb'];
/** An authorization request that would be accepted (and stored) but for what is appended. */
const AUTHORIZE = new URLSearchParams({
  response_type: 'code',
  client_id: APP.clientId,
  redirect_uri: APP.redirectUri,
  scope: 'openid',
  code_challenge: pkcePair().challenge,
  code_challenge_method: 'S256',
}).toString();

/** RFC 6749 §2.3.1: id and secret are form-encoded, then Basic-encoded; `raw` skips the form step. */
function basic(clientId: string, secret: string, raw = false): string {
  const form = (v: string) => (raw ? v : encodeURIComponent(v));
  return `Basic ${Buffer.from(`${form(clientId)}:${form(secret)}`, 'utf8').toString('base64')}`;
}

/**
 * Sends a JSON body with the bytes of `raw` spliced in where `@` stands.
 * Superagent would serialize a Buffer sent as JSON to `{"type":"Buffer",…}`.
 */
function sendJsonWithBytes(req: request.Test, template: string, raw: number[]): request.Test {
  const [head, tail] = template.split('@');
  const bytes = Buffer.concat([Buffer.from(head), Buffer.from(raw), Buffer.from(tail)]);
  return req
    .set('content-type', 'application/json')
    .serialize(() => bytes as unknown as string)
    .send(bytes);
}

type Send = (server: AuthBackend['server']) => request.Test;
/** A request to an OAuth endpoint, answered with an RFC 6749 §5.2 body. */
interface OAuthCase {
  name: string;
  send: Send;
  error: string;
  description: string;
}
/** A request anywhere else, answered with a Backstage InputError. */
interface BackstageCase {
  name: string;
  method: 'get' | 'post';
  path: string;
  message: string;
}

const OAUTH_CASES: OAuthCase[] = [
  // In the path or query: the plugin-wide guard.
  {
    name: 'userinfo, NUL in the query',
    send: s => request(s).get('/api/auth/v1/userinfo?claims=%00'),
    error: 'invalid_request',
    description: `query parameter 'claims' contains ${NUL}`,
  },
  {
    name: 'register, NUL in the query',
    send: s => request(s).post('/api/auth/v1/register?software_id=%00').send({ redirect_uris: REDIRECT_URIS }),
    error: 'invalid_request',
    description: `query parameter 'software_id' contains ${NUL}`,
  },
  {
    name: 'authorize, NUL in client_id',
    send: s => request(s).get('/api/auth/v1/authorize?response_type=code&client_id=%00'),
    error: 'invalid_request',
    description: `query parameter 'client_id' contains ${NUL}`,
  },
  {
    name: 'authorize, NUL in state',
    send: s => request(s).get(`/api/auth/v1/authorize?${AUTHORIZE}&state=a%00b`),
    error: 'invalid_request',
    description: `query parameter 'state' contains ${NUL}`,
  },
  // Just outside the escapes of printable ASCII that skip the closer look (issue 15).
  {
    name: 'authorize, %1F in state beside escapes of printable ASCII',
    send: s => request(s).get(`/api/auth/v1/authorize?${AUTHORIZE}&state=a%20b%1F`),
    error: 'invalid_request',
    description: `query parameter 'state' contains ${US}`,
  },
  {
    name: 'authorize, %7F in state beside escapes of printable ASCII',
    send: s => request(s).get(`/api/auth/v1/authorize?${AUTHORIZE}&state=a%7Eb%7F`),
    error: 'invalid_request',
    description: `query parameter 'state' contains ${DEL}`,
  },
  {
    name: 'authorize, overlong UTF-8 (%C0%80) in state',
    send: s => request(s).get(`/api/auth/v1/authorize?client_id=${APP.clientId}&state=%C0%80`),
    error: 'invalid_request',
    description: "query parameter 'state' is not percent-encoded UTF-8",
  },
  {
    name: 'authorize, overlong UTF-8 (%E0%80%80) in redirect_uri',
    send: s => request(s).get(`/api/auth/v1/authorize?client_id=${APP.clientId}&redirect_uri=%E0%80%80`),
    error: 'invalid_request',
    description: "query parameter 'redirect_uri' is not percent-encoded UTF-8",
  },
  {
    name: 'authorize, an encoded surrogate (%ED%A0%80) in nonce',
    send: s => request(s).get(`/api/auth/v1/authorize?client_id=${APP.clientId}&nonce=%ED%A0%80`),
    error: 'invalid_request',
    description: "query parameter 'nonce' is not percent-encoded UTF-8",
  },
  {
    name: 'authorize, a malformed escape (%E0%A4%A) in scope',
    send: s => request(s).get(`/api/auth/v1/authorize?client_id=${APP.clientId}&scope=%E0%A4%A`),
    error: 'invalid_request',
    description: "query parameter 'scope' is not percent-encoded UTF-8",
  },
  {
    name: 'authorize, a control character in a query parameter name',
    send: s => request(s).get(`/api/auth/v1/authorize?client_id=${APP.clientId}&st%01te=x`),
    error: 'invalid_request',
    description: 'a query parameter name contains a control character (U+0001)',
  },
  {
    name: 'token, NUL in the query',
    send: s =>
      request(s)
        .post('/api/auth/v1/token?client_id=%00')
        .type('form')
        .send({ grant_type: 'refresh_token', refresh_token: 'r', client_id: APP.clientId }),
    error: 'invalid_request',
    description: `query parameter 'client_id' contains ${NUL}`,
  },
  {
    name: 'revoke, DEL in the query',
    send: s => request(s).post('/api/auth/v1/revoke?token=%7F').type('form').send({ token: 't' }),
    error: 'invalid_request',
    description: `query parameter 'token' contains ${DEL}`,
  },
  {
    name: 'device authorization, NUL in the query',
    send: s => request(s).post('/api/auth/v1/device_authorization?client_id=%00').type('form').send({ client_id: 'bytes-cli' }),
    error: 'invalid_request',
    description: `query parameter 'client_id' contains ${NUL}`,
  },
  // In a form or JSON body: parseParams.
  {
    name: 'authorize, NUL in a form',
    send: s => request(s).post('/api/auth/v1/authorize').type('form').send(`${AUTHORIZE}&state=%00`),
    error: 'invalid_request',
    description: `parameter 'state' contains ${NUL}`,
  },
  {
    name: 'authorize, overlong UTF-8 (%E0%80%80) in a form',
    send: s => request(s).post('/api/auth/v1/authorize').type('form').send(`${AUTHORIZE}&nonce=%E0%80%80`),
    error: 'invalid_request',
    description: `parameter 'nonce' contains ${NOT_UTF8}`,
  },
  {
    name: 'token, NUL in a form',
    send: s =>
      request(s)
        .post('/api/auth/v1/token')
        .set('authorization', basic(APP.clientId, APP.clientSecret))
        .type('form')
        .send('grant_type=authorization_code&code=%00&redirect_uri=x&code_verifier=y'),
    error: 'invalid_request',
    description: `parameter 'code' contains ${NUL}`,
  },
  {
    name: 'token, NUL in client_id of a form',
    send: s => request(s).post('/api/auth/v1/token').type('form').send('grant_type=refresh_token&refresh_token=r&client_id=%00'),
    error: 'invalid_request',
    description: `parameter 'client_id' contains ${NUL}`,
  },
  {
    name: 'token, a control character in a form parameter name',
    send: s => request(s).post('/api/auth/v1/token').type('form').send(`grant_type=refresh_token&client_id=${APP.clientId}&x%1F=1`),
    error: 'invalid_request',
    description: `a parameter name contains ${US}`,
  },
  {
    name: 'token, a lone surrogate in JSON ("\\ud800")',
    send: s =>
      request(s)
        .post('/api/auth/v1/token')
        .set('content-type', 'application/json')
        .send(`{"grant_type":"refresh_token","refresh_token":"\\ud800","client_id":"${APP.clientId}"}`),
    error: 'invalid_request',
    description: `parameter 'refresh_token' contains ${LONE}`,
  },
  {
    name: 'token, overlong UTF-8 bytes (C0 80) in JSON',
    send: s =>
      sendJsonWithBytes(
        request(s).post('/api/auth/v1/token'),
        '{"grant_type":"refresh_token","refresh_token":"@","client_id":"bytes-app"}',
        [0xc0, 0x80],
      ),
    error: 'invalid_request',
    description: `parameter 'refresh_token' contains ${NOT_UTF8}`,
  },
  {
    name: 'revoke, NUL in a form',
    send: s =>
      request(s)
        .post('/api/auth/v1/revoke')
        .set('authorization', basic(APP.clientId, APP.clientSecret))
        .type('form')
        .send('token=%00'),
    error: 'invalid_request',
    description: `parameter 'token' contains ${NUL}`,
  },
  {
    name: 'device authorization, NUL in client_id of a form',
    send: s => request(s).post('/api/auth/v1/device_authorization').type('form').send('client_id=%00'),
    error: 'invalid_request',
    description: `parameter 'client_id' contains ${NUL}`,
  },
  {
    name: 'device authorization, an encoded surrogate (%ED%A0%80) in a form',
    send: s => request(s).post('/api/auth/v1/device_authorization').type('form').send('client_id=bytes-cli&scope=%ED%A0%80'),
    error: 'invalid_request',
    description: `parameter 'scope' contains ${NOT_UTF8}`,
  },
  // In HTTP Basic client credentials, once decoded: authenticateClient.
  {
    name: 'token, NUL in the Basic client_id',
    send: s =>
      request(s)
        .post('/api/auth/v1/token')
        .set('authorization', basic(`${APP.clientId}\u0000`, APP.clientSecret))
        .type('form')
        .send('grant_type=refresh_token&refresh_token=r'),
    error: 'invalid_request',
    description: `the Basic client credentials contain ${NUL}`,
  },
  {
    name: 'token, a raw control character in the Basic secret',
    send: s =>
      request(s)
        .post('/api/auth/v1/token')
        .set('authorization', basic(APP.clientId, 'secret\u001f', true))
        .type('form')
        .send('grant_type=refresh_token&refresh_token=r'),
    error: 'invalid_request',
    description: `the Basic client credentials contain ${US}`,
  },
  {
    name: 'token, overlong UTF-8 (%C0%80) in the Basic secret',
    send: s =>
      request(s)
        .post('/api/auth/v1/token')
        .set('authorization', basic(APP.clientId, '%C0%80', true))
        .type('form')
        .send('grant_type=refresh_token&refresh_token=r'),
    error: 'invalid_request',
    description: 'the Basic client credentials are not percent-encoded UTF-8',
  },
  {
    name: 'token, raw bytes that are not UTF-8 in the Basic client_id',
    send: s =>
      request(s)
        .post('/api/auth/v1/token')
        .set('authorization', `Basic ${Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x3a, 0x78]).toString('base64')}`)
        .type('form')
        .send('grant_type=refresh_token&refresh_token=r'),
    error: 'invalid_request',
    description: `the Basic client credentials contain ${NOT_UTF8}`,
  },
  {
    name: 'revoke, NUL in the Basic client_id',
    send: s => request(s).post('/api/auth/v1/revoke').set('authorization', basic('\u0000', 'x')).type('form').send('token=t'),
    error: 'invalid_request',
    description: `the Basic client credentials contain ${NUL}`,
  },
  {
    name: 'device authorization, NUL in the Basic client_id',
    send: s =>
      request(s).post('/api/auth/v1/device_authorization').set('authorization', basic('bytes-cli\u0000', '')).type('form').send(''),
    error: 'invalid_request',
    description: `the Basic client credentials contain ${NUL}`,
  },
  // In the registration's JSON, however nested: validateRegistration (RFC 7591 §3.2.2 codes).
  {
    name: 'register, NUL in a redirect URI',
    send: s => request(s).post('/api/auth/v1/register').send({ redirect_uris: ['https://allowed.example.com/cb\u0000'] }),
    error: 'invalid_redirect_uri',
    description: `redirect_uris contains ${NUL}`,
  },
  {
    name: 'register, a control character in client_name',
    send: s => request(s).post('/api/auth/v1/register').send({ redirect_uris: REDIRECT_URIS, client_name: 'App\u001f' }),
    error: 'invalid_client_metadata',
    description: `client_name contains ${US}`,
  },
  {
    name: 'register, a C1 control in a nested array of a field we do not read',
    send: s => request(s).post('/api/auth/v1/register').send({ redirect_uris: REDIRECT_URIS, x_extra: [['ok', 'a\u0085']] }),
    error: 'invalid_client_metadata',
    description: `x_extra contains ${NEL}`,
  },
  {
    name: 'register, DEL in a member name',
    send: s => request(s).post('/api/auth/v1/register').send({ redirect_uris: REDIRECT_URIS, 'client\u007fname': 'App' }),
    error: 'invalid_client_metadata',
    description: `a client metadata member name contains ${DEL}`,
  },
  {
    name: 'register, a lone surrogate ("\\ud800") in contacts',
    send: s =>
      request(s)
        .post('/api/auth/v1/register')
        .set('content-type', 'application/json')
        .send('{"redirect_uris":["https://allowed.example.com/cb"],"contacts":["a@example.com","\\ud800"]}'),
    error: 'invalid_client_metadata',
    description: `contacts contains ${LONE}`,
  },
  {
    name: 'register, overlong UTF-8 bytes (C0 80) in client_name',
    send: s =>
      sendJsonWithBytes(
        request(s).post('/api/auth/v1/register'),
        '{"redirect_uris":["https://allowed.example.com/cb"],"client_name":"A@"}',
        [0xc0, 0x80],
      ),
    error: 'invalid_client_metadata',
    description: `client_name contains ${NOT_UTF8}`,
  },
];

/** Bad bytes in the path or query anywhere else (the pages: badBytesInPages.test.ts): the same guard, Backstage's error. */
const BACKSTAGE_CASES: BackstageCase[] = [
  {
    name: 'the consent API, NUL in the session id (the reproduction in issue 12)',
    method: 'get',
    path: '/api/auth/v1/sessions/%00',
    message: `the path contains ${NUL}`,
  },
  {
    name: 'the consent API, a malformed escape in the session id',
    method: 'get',
    path: '/api/auth/v1/sessions/%E0%A4%A',
    message: 'the path is not percent-encoded UTF-8',
  },
  {
    name: 'the consent API, an encoded surrogate in the session id',
    method: 'get',
    path: '/api/auth/v1/sessions/%ED%A0%80',
    message: 'the path is not percent-encoded UTF-8',
  },
  {
    name: 'the consent API, NUL in the session id of an approval',
    method: 'post',
    path: '/api/auth/v1/sessions/x%00/approve',
    message: `the path contains ${NUL}`,
  },
  {
    name: 'the consent API, a C1 control in the session id of a rejection',
    method: 'post',
    path: '/api/auth/v1/sessions/%C2%85/reject',
    message: `the path contains ${NEL}`,
  },
  {
    name: 'a provider route, NUL in the query',
    method: 'get',
    path: '/api/auth/guest/refresh?env=development%00',
    message: `query parameter 'env' contains ${NUL}`,
  },
  {
    name: 'a provider route, NUL in the path',
    method: 'post',
    path: '/api/auth/guest%00/refresh',
    message: `the path contains ${NUL}`,
  },
];

const NUL_CHAR = String.fromCharCode(0);

describe.each(databases.eachSupportedId())('bad bytes are bad requests on %s (issue 12 item 8)', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let token: string;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: withGenerousRateLimits({
        auth: {
          experimentalRefreshToken: { enabled: true },
          experimentalDynamicClientRegistration: {
            enabled: true,
            allowedRedirectUriPatterns: ['https://allowed.example.com/*'],
          },
          oidcProvider: {
            clients: [
              {
                ...APP,
                clientName: 'Bytes App',
                redirectUris: [APP.redirectUri],
                grantTypes: ['authorization_code', 'refresh_token'],
              },
              {
                clientId: 'bytes-cli',
                public: true,
                redirectUris: ['http://127.0.0.1/callback'],
                grantTypes: [DEVICE_GRANT],
              },
            ],
            deviceAuthorization: { enabled: true, allowedClientIds: ['bytes-cli'] },
          },
        },
      }),
    });
    token = (await backend.signInAsGuest()).token;
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it.each(OAUTH_CASES)('$name: 400 $error, no row changed', async ({ send, error, description }) => {
    const before = await snapshotTables(knex);
    const res = await send(backend.server);
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400,
      body: { error, error_description: description },
    });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(await snapshotTables(knex)).toEqual(before);
  });

  it.each(BACKSTAGE_CASES)('$name: 400 InputError, no row changed', async ({ method, path, message }) => {
    const before = await snapshotTables(knex);
    // Signed in, so the routes that need a user get past that check.
    const res = await request(backend.server)[method](path)
      .auth(token, { type: 'bearer' })
      .set('x-requested-with', 'XMLHttpRequest');
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400,
      body: {
        error: { name: 'InputError', message },
        // The framework reports the URL relative to the plugin.
        request: { method: method.toUpperCase(), url: path.replace(/^\/api\/auth/, '') },
        response: { statusCode: 400 },
      },
    });
    expect(await snapshotTables(knex)).toEqual(before);
  });

  it.each([
    ['/api/auth/v1/page-session', 'token', { csrf: 'c', token: `a${NUL_CHAR}b`, return_to: '/api/auth/v1/device' }],
    ['/api/auth/v1/page-session', 'return_to', { csrf: 'c', token: 't', return_to: '/api/auth/v1/device\u0085' }],
    ['/api/auth/v1/device', 'user_code', { csrf: 'c', user_code: `BCDF${NUL_CHAR}GHJK` }],
    ['/api/auth/v1/device/decision', 'decision', { csrf: 'c', decision: 'approve\ud800' }],
  ])('page form %s with a bad %s field: an HTML 400, no row changed', async (path, field, form) => {
    const before = await snapshotTables(knex);
    const res = await request(backend.server)
      .post(path)
      .set('Cookie', 'oidc-pages-csrf=c')
      .type('form')
      .send(new URLSearchParams(form as Record<string, string>).toString());
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain(`form field &#39;${field}&#39; contains`);
    expect(await snapshotTables(knex)).toEqual(before);
  });

  it('keeps printable Unicode: state "café ☕" round-trips, a client named "Café ☕ 😀" registers', async () => {
    const flow = new CodeFlow(backend, APP);
    const { redirect } = await flow.approvedCode({ state: 'café ☕', nonce: 'ñ 😀' });
    expect(redirect.searchParams.get('state')).toBe('café ☕');

    const res = await request(backend.server)
      .post('/api/auth/v1/register')
      .send({ redirect_uris: REDIRECT_URIS, client_name: 'Café ☕ 😀', token_endpoint_auth_method: 'none' });
    expect(res.status).toBe(201);
    expect(res.body.client_name).toBe('Café ☕ 😀');
  });
});
