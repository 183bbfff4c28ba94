import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { pkcePair } from './fixtures/pkcePair';
import { snapshotTables } from './harness/snapshotTables';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

// Issue 25 item 9: pages answer people with pages. Bad bytes in the URL of a
// page (badBytes.test.ts has the rest of issue 12 item 8) are refused by the
// same plugin-wide guard, before any router, but a person who opened the link
// gets the pages' HTML error page, and a browser at /v1/authorize the sign-in
// error page; API callers keep their JSON. Chromium opens such links in
// deviceVerificationPage.test.ts and consentPage.test.ts.

jest.setTimeout(120_000);
const databases = createTestDatabases();

const APP = { clientId: 'pages-app', redirectUri: 'https://app.example.com/callback' };
const NUL = 'a control character (U+0000)';

/** A bad URL under a page; `problem` as the page shows it (HTML-escaped), `back` where its link leads. */
interface PageCase {
  name: string;
  method: 'get' | 'post';
  path: string;
  problem: string;
  back: string;
}

const PAGE_CASES: PageCase[] = [
  {
    name: 'the device page, NUL in the query (the reproduction in issue 25)',
    method: 'get',
    path: '/api/auth/v1/device?x=%00',
    problem: `query parameter &#39;x&#39; contains ${NUL}`,
    back: '/api/auth/v1/device',
  },
  {
    name: 'the device page, overlong UTF-8 in user_code',
    method: 'get',
    path: '/api/auth/v1/device?user_code=%C0%80',
    problem: 'query parameter &#39;user_code&#39; is not percent-encoded UTF-8',
    back: '/api/auth/v1/device',
  },
  {
    name: 'the device page, a malformed escape under it',
    method: 'get',
    path: '/api/auth/v1/device/done?result=%E0%A4%A',
    problem: 'query parameter &#39;result&#39; is not percent-encoded UTF-8',
    back: '/api/auth/v1/device',
  },
  {
    name: 'a device decision, DEL in the path',
    method: 'post',
    path: '/api/auth/v1/device/decision%7F',
    problem: 'the path contains a control character (U+007F)',
    back: '/api/auth/v1/device',
  },
  {
    name: 'the consent page, a control character in the session id (the reproduction in issue 25)',
    method: 'get',
    path: '/api/auth/v1/consent/abc%01',
    problem: 'the path contains a control character (U+0001)',
    back: 'http://localhost:3000',
  },
  {
    name: 'a consent decision, an encoded surrogate in the session id',
    method: 'post',
    path: '/api/auth/v1/consent/%ED%A0%80/decision',
    problem: 'the path is not percent-encoded UTF-8',
    back: 'http://localhost:3000',
  },
  {
    name: 'the page sign-in, a C1 control in the query',
    method: 'post',
    path: '/api/auth/v1/page-session?return_to=%C2%85',
    problem: 'query parameter &#39;return_to&#39; contains a control character (U+0085)',
    // The form's return_to is never read: the body is not parsed.
    back: '/api/auth/v1/device',
  },
];

/** An authorization request that would be accepted but for a NUL in its state. */
const AUTHORIZE_WITH_NUL = `/api/auth/v1/authorize?${new URLSearchParams({
  response_type: 'code',
  client_id: APP.clientId,
  redirect_uri: APP.redirectUri,
  scope: 'openid',
  code_challenge: pkcePair().challenge,
  code_challenge_method: 'S256',
})}&state=a%00b`;

/** The pages' own security headers, as on every page they serve. */
function expectPageHeaders(res: request.Response): void {
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.headers['content-security-policy']).toMatch(/script-src 'nonce-[^']+'.*frame-ancestors 'none'/);
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['cache-control']).toBe('no-store');
}

describe.each(databases.eachSupportedId())('bad bytes in the address of a page on %s (issue 25 item 9)', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      config: {
        auth: {
          oidcProvider: {
            consentPage: 'builtin',
            deviceAuthorization: { enabled: true },
            clients: [{ ...APP, public: true, redirectUris: [APP.redirectUri] }],
          },
        },
      },
    });
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it.each(PAGE_CASES)('$name: an HTML 400 page with a way back, no row changed', async ({ method, path, problem, back }) => {
    const before = await snapshotTables(knex);
    const res = await request(backend.server)[method](path).set('accept', 'text/html');
    expect(res.status).toBe(400);
    expectPageHeaders(res);
    expect(res.text).toContain('<h1>Something is wrong with that request</h1>');
    expect(res.text).toContain(`<p class="error" id="error-message">This link is damaged: ${problem}.`);
    expect(res.text).toContain(`<a id="back" href="${back}">`);
    expect(await snapshotTables(knex)).toEqual(before);
  });

  it('shows a browser at /v1/authorize the sign-in error page, no row changed', async () => {
    const before = await snapshotTables(knex);
    const res = await request(backend.server)
      .get(AUTHORIZE_WITH_NUL)
      .set('accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
    expect(res.status).toBe(400);
    expectPageHeaders(res);
    expect(res.text).toContain('<h1>This sign-in request cannot be completed</h1>');
    expect(res.text).toContain(`query parameter &#39;state&#39; contains ${NUL}`);
    expect(res.text).toContain('<code>invalid_request</code>');
    expect(await snapshotTables(knex)).toEqual(before);
  });

  it('keeps JSON for an API caller of /v1/authorize that asks for it', async () => {
    const res = await request(backend.server)
      .get(AUTHORIZE_WITH_NUL)
      .set('accept', 'application/json, text/html;q=0.5');
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: `query parameter 'state' contains ${NUL}` },
    });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('keeps JSON for the consent API, which the portal’s frontend calls', async () => {
    const res = await request(backend.server).get('/api/auth/v1/sessions/abc%01').set('accept', 'text/html');
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ name: 'InputError', message: 'the path contains a control character (U+0001)' });
  });
});
