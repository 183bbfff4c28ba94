import type { Knex } from 'knex';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import request from 'supertest';
import { oauthClientOfToken } from '../oauth/oauthClientTokens';
import { requestIdOf } from '../oauth/authorizationRequests';
import { createTestDatabases } from '../testUtils/databases';
import { pkcePair } from './fixtures/pkcePair';
import { type CallbackServer, startCallbackServer } from './harness/callbackServer';
import { holdSignIn, launchChromium, screenshot } from './harness/browser';
import { type MetadataDocumentServer, startMetadataDocumentServer } from './harness/metadataDocumentServer';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('built-in consent page on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let browser: Browser;
  let context: BrowserContext;
  let callback: CallbackServer;
  let client: oidc.Configuration;
  let documents: MetadataDocumentServer;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    documents = await startMetadataDocumentServer({
      // Calls itself what the portal's own web app is called.
      '/lookalike.json': {
        client_name: 'Example Web App',
        redirect_uris: ['http://127.0.0.1/callback'],
        token_endpoint_auth_method: 'none',
      },
    });
    backend = await startAuthBackend({
      knex,
      config: {
        auth: {
          experimentalDynamicClientRegistration: { enabled: true },
          clientIdMetadataDocuments: { enabled: true, allowedClientIdPatterns: ['http://127.0.0.1:*/**'] },
          oidcProvider: {
            dangerouslyAllowInsecureClientIdMetadataDocuments: true,
            signInProvider: 'guest',
            consentPage: 'builtin',
            clients: [
              {
                clientId: 'web-app',
                clientName: 'Example Web App',
                public: true,
                redirectUris: ['http://127.0.0.1/callback'],
                grantTypes: ['authorization_code'],
              },
            ],
          },
        },
      },
    });
    callback = await startCallbackServer();
    browser = await launchChromium();
    context = await browser.newContext();
    client = await oidc.discovery(new URL(backend.issuer), 'web-app', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await backend?.stop();
    await new Promise(resolve => callback?.server.close(resolve));
    await documents?.close();
  });

  /** An authorization request for another client, as a browser would be sent it. */
  function authorizationUrlFor(clientId: string): string {
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: callback.url,
      scope: 'openid profile',
      state: 'st',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    });
    return `${backend.issuer}/v1/authorize?${params}`;
  }

  async function startAuthorization() {
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: callback.url,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url, codeVerifier, state, nonce };
  }

  it('sends /v1/authorize to the plugin’s own consent page', async () => {
    const { url } = await startAuthorization();
    const res = await request(backend.server).get(url.pathname + url.search);
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(new RegExp(`^${backend.issuer}/v1/consent/[^/]+$`));
  });

  it('completes a code flow with openid-client while Chromium signs in and approves', async () => {
    const auth = await startAuthorization();
    const page = await context.newPage();
    const release = await holdSignIn(page);
    await page.goto(auth.url.href);
    await page.getByText('Checking who you are').waitFor();
    await screenshot(page, 'consent-sign-in');
    release();

    await page.getByRole('button', { name: 'Approve' }).waitFor();
    const text = await page.locator('main').innerText();
    expect(text).toContain('Authorize Example Web App?');
    expect(text).toContain('user:development/guest');
    expect(text).toContain('See your name and picture');
    expect(text).toContain(callback.url);
    await screenshot(page, 'consent-page');
    const consentUrl = page.url();

    const landed = callback.next();
    await page.getByRole('button', { name: 'Approve' }).click();
    const callbackUrl = await landed;
    expect(callbackUrl.searchParams.get('iss')).toBe(backend.issuer);

    const tokens = await oidc.authorizationCodeGrant(client, callbackUrl, {
      pkceCodeVerifier: auth.codeVerifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
    });
    expect(tokens.claims()).toMatchObject({ sub: 'user:development/guest', aud: 'web-app' });

    // The session got its one decision: the page now says so.
    const again = await page.goto(consentUrl);
    expect(again!.status()).toBe(404);
    await screenshot(page, 'consent-already-decided');
    await page.close();
  });

  it('signs a proxy provider’s user in again for max_age and prompt=login through its refresh (issue 14)', async () => {
    for (const params of [{ max_age: '1' }, { prompt: 'login' }]) {
      // The page session holds a sign-in from before the request.
      await new Promise(resolve => setTimeout(resolve, 2100));
      const auth = await startAuthorization();
      const url = new URL(auth.url);
      for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
      const page = await context.newPage();
      const starts: string[] = [];
      const refreshes: string[] = [];
      page.on('request', r => {
        if (r.url().includes('/guest/start')) starts.push(r.url());
        if (r.url().includes('/guest/refresh')) refreshes.push(r.url());
      });
      const requestedAt = Math.floor(Date.now() / 1000);
      await page.goto(url.href);
      const landed = callback.next();
      await page.getByRole('button', { name: 'Approve' }).click();
      const callbackUrl = await landed;
      await page.close();
      // The page session's sign-in is too old: the page signs the user in
      // again through the provider's refresh, where the guest provider
      // signs in; it has no sign-in page to go to.
      expect(refreshes).toHaveLength(1);
      expect(starts).toEqual([]);
      const tokens = await oidc.authorizationCodeGrant(client, callbackUrl, {
        pkceCodeVerifier: auth.codeVerifier,
        expectedState: auth.state,
        expectedNonce: auth.nonce,
      });
      expect(tokens.claims()!.auth_time).toBeGreaterThanOrEqual(requestedAt);
    }
  });

  it('returns access_denied to the client when the user denies', async () => {
    const auth = await startAuthorization();
    const page = await context.newPage();
    await page.goto(auth.url.href);
    const landed = callback.next();
    await page.getByRole('button', { name: 'Deny' }).click();
    const callbackUrl = await landed;
    await page.close();
    expect(callbackUrl.searchParams.get('error')).toBe('access_denied');
    expect(callbackUrl.searchParams.get('state')).toBe(auth.state);
    await expect(
      oidc.authorizationCodeGrant(client, callbackUrl, {
        pkceCodeVerifier: auth.codeVerifier,
        expectedState: auth.state,
      }),
    ).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('names a client that borrowed another application’s name with the host that vouches for it', async () => {
    const page = await context.newPage();
    await page.goto(authorizationUrlFor(documents.url('/lookalike.json')));
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    const text = await page.locator('main').innerText();
    expect(text).toContain('Authorize Example Web App?');
    // Right under the heading, in view without scrolling.
    const host = page.locator('#client-host');
    expect(await host.innerText()).toBe(`from ${documents.host}`);
    expect(await host.isVisible()).toBe(true);
    expect((await host.boundingBox())!.y).toBeLessThan(page.viewportSize()!.height / 2);
    expect(text).toContain(`Example Web App (${documents.host}) wants to sign you in`);
    await screenshot(page, 'consent-page-metadata-document');

    // The portal's own client of that name has no such line.
    const own = await startAuthorization();
    await page.goto(own.url.href);
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    expect(await page.locator('#client-host').count()).toBe(0);
    await page.close();
  });

  it('marks the name of a dynamically registered client as unverified', async () => {
    const registered = await request(backend.server)
      .post('/api/auth/v1/register')
      .send({ client_name: 'Example Web App', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none' });
    expect(registered.status).toBe(201);
    const page = await context.newPage();
    await page.goto(authorizationUrlFor(registered.body.client_id));
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    expect(await page.locator('#client-host').innerText()).toContain('unverified');
    expect(await page.locator('main').innerText()).toContain('Example Web App (unverified) wants to sign you in');
    await page.close();
  });

  /** Signs in and approves in Chromium, redeems the code: a real token endpoint answer. */
  async function tokensForWebApp() {
    const auth = await startAuthorization();
    const page = await context.newPage();
    await page.goto(auth.url.href);
    const landed = callback.next();
    await page.getByRole('button', { name: 'Approve' }).click();
    const callbackUrl = await landed;
    await page.close();
    return oidc.authorizationCodeGrant(client, callbackUrl, {
      pkceCodeVerifier: auth.codeVerifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
    });
  }

  /** POSTs `token` to the page session endpoint as the sign-in page's script does. */
  function openPageSession(token: string) {
    const csrf = 'c'.repeat(43);
    return request(backend.server)
      .post('/api/auth/v1/page-session')
      .set('Cookie', [`oidc-pages-csrf=${csrf}`])
      .type('form')
      .send({ csrf, token, return_to: '/api/auth/v1/consent/none' });
  }

  it('signs the pages in only with a token from a portal sign-in, never one issued to a client', async () => {
    const { token: signIn } = await backend.signInAsGuest();
    const accepted = await openPageSession(signIn);
    expect(accepted.status).toBe(303);
    expect(String(accepted.headers['set-cookie'])).toContain('oidc-pages-user=');

    const tokens = await tokensForWebApp();
    // The access token is a Backstage user token: the framework verifies it
    // as it does a sign-in. Only the client_id claim the token endpoint adds
    // (issue 12 item 3, landing separately) tells the two apart; until it
    // is there, pageSecurity.test.ts / signInShell.test.ts prove the refusal
    // with tokens that carry it.
    if (oauthClientOfToken(tokens.access_token) === undefined) return;

    const refused = await openPageSession(tokens.access_token);
    expect(refused.status).toBe(403);
    expect(refused.headers['content-type']).toMatch(/^text\/html/);
    expect(refused.text).toContain('This token was issued to an application and cannot be used to sign in here');
    expect(String(refused.headers['set-cookie'] ?? '')).not.toContain('oidc-pages-user=');

    // Nor does it decide anything when put in the cookie by other means.
    const { url } = await startAuthorization();
    const consentPath = new URL((await request(backend.server).get(url.pathname + url.search)).headers.location).pathname;
    const page = await request(backend.server)
      .get(consentPath)
      .set('Cookie', [`oidc-pages-user=${tokens.access_token}`]);
    expect(page.status).toBe(403);
    expect(page.text).toContain('This token was issued to an application');
    // Still undecided: no row.
    expect(await knex('oauth_authorization_sessions').where({ id: requestIdOf(consentPath.split('/').pop()!) })).toEqual([]);
  });

  it('refuses a decision without the CSRF token, leaving the session pending', async () => {
    const { url } = await startAuthorization();
    const res = await request(backend.server).get(url.pathname + url.search);
    const consentPath = new URL(res.headers.location).pathname;
    const sessionId = consentPath.split('/').pop()!;
    const { token } = await backend.signInAsGuest();
    const post = await request(backend.server)
      .post(`${consentPath}/decision`)
      .set('Cookie', [`oidc-pages-user=${token}`])
      .type('form')
      .send({ decision: 'approve' });
    expect(post.status).toBe(403);
    expect(post.headers['content-type']).toMatch(/^text\/html/);
    expect(post.text).toContain('did not come from this site');
    // The way back is the request itself, which still waits for a decision.
    expect(post.text).toContain(`href="${consentPath}"`);
    expect(await knex('oauth_authorization_sessions').where({ id: requestIdOf(sessionId) })).toEqual([]);
  });

  it('shows a person who opens a damaged consent link the error page, not JSON (issue 25 item 9)', async () => {
    const page = await context.newPage();
    const response = await page.goto(`${backend.issuer}/v1/consent/abc%01`);
    expect(response!.status()).toBe(400);
    expect(response!.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.locator('h1').innerText()).toBe('Something is wrong with that request');
    await page.getByText('This link is damaged: the path contains a control character (U+0001).').waitFor();
    expect(await page.getByRole('link', { name: 'Return to the portal' }).getAttribute('href')).toBe('http://localhost:3000');
    await page.close();
  });

  it('lets the consent form post only to itself and the client’s redirect URI', async () => {
    const { url } = await startAuthorization();
    const res = await request(backend.server).get(url.pathname + url.search);
    const { token } = await backend.signInAsGuest();
    const page = await request(backend.server)
      .get(new URL(res.headers.location).pathname)
      .set('Cookie', [`oidc-pages-user=${token}`]);
    expect(page.status).toBe(200);
    const csp = page.headers['content-security-policy'];
    expect(csp).toContain(`form-action 'self' ${new URL(callback.url).origin}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
  });
});
