import oidcProviderModule from '@backstage/plugin-auth-backend-module-oidc-provider';
import type { Knex } from 'knex';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createTestDatabases } from '../testUtils/databases';
import { type CallbackServer, startCallbackServer } from './harness/callbackServer';
import { launchChromium } from './harness/browser';
import { type IdentityProvider, startIdentityProvider } from './harness/startIdentityProvider';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

const databases = createTestDatabases();

const jane = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'User',
  metadata: { name: 'jane', namespace: 'default' },
  spec: { profile: { displayName: 'Jane Doe', email: 'jane@example.com' }, memberOf: [] },
};

describe.each(databases.eachSupportedId())('sign-in freshness through a real IdP on %s', databaseId => {
  let knex: Knex;
  let idp: IdentityProvider;
  let backend: AuthBackend;
  let browser: Browser;
  let context: BrowserContext;
  let callback: CallbackServer;
  let client: oidc.Configuration;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    idp = await startIdentityProvider();
    callback = await startCallbackServer();
    backend = await startAuthBackend({
      knex,
      entities: [jane],
      features: [oidcProviderModule],
      config: {
        auth: {
          session: { secret: 'a-test-session-secret' },
          // The built-in pages live on the backend's origin (a port chosen at start).
          experimentalExtraAllowedOrigins: ['http://localhost:*'],
          providers: { oidc: { development: idp.providerConfig() } },
          experimentalRefreshToken: { enabled: true },
          oidcProvider: {
            consentPage: 'builtin',
            signInProvider: 'oidc',
            acrValuesSupported: ['urn:test:loa:1', 'urn:test:loa:2'],
            clients: [
              {
                clientId: 'web-app',
                clientName: 'Example Web App',
                public: true,
                redirectUris: ['http://127.0.0.1/callback'],
                grantTypes: ['authorization_code', 'refresh_token'],
              },
            ],
          },
        },
      },
    });
    browser = await launchChromium();
    context = await browser.newContext();
    client = await oidc.discovery(new URL(backend.issuer), 'web-app', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await backend?.stop();
    await idp?.stop();
    await new Promise(resolve => callback?.server.close(resolve));
  });

  async function signInAtIdp(page: Page, method: 'pwd' | 'otp' = 'pwd') {
    await page.waitForURL(url => url.href.startsWith(`${idp.issuer}/interaction/`));
    await page.locator('input[name=username]').fill('jane');
    await page.locator('select[name=method]').selectOption(method);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function authorize(params: Record<string, string> = {}) {
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: callback.url,
      scope: 'openid profile offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...params,
    });
    return { url, codeVerifier, state, nonce };
  }

  const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

  /** The browser's part: open the request, sign in at the IdP when it asks, approve. */
  async function approveInBrowser(
    url: URL,
    idpSignIn: Array<'pwd' | 'otp'> = [],
    lingerMs = 0,
  ): Promise<{ callbackUrl: URL; page: Page }> {
    const page = await context.newPage();
    await page.goto(url.href);
    for (const method of idpSignIn) await signInAtIdp(page, method);
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    await sleep(lingerMs);
    const landed = callback.next();
    await page.getByRole('button', { name: 'Approve' }).click();
    return { callbackUrl: await landed, page };
  }

  async function tokensFor(
    params: Record<string, string>,
    idpSignIn?: Array<'pwd' | 'otp'>,
    lingerMs?: number,
  ) {
    const auth = await authorize(params);
    const { callbackUrl, page } = await approveInBrowser(auth.url, idpSignIn, lingerMs);
    await page.close();
    return oidc.authorizationCodeGrant(client, callbackUrl, {
      pkceCodeVerifier: auth.codeVerifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
      ...(params.max_age ? { maxAge: Number(params.max_age) } : {}),
    });
  }

  // The tests share one browser and one IdP, and run in order: each
  // continues the sign-in story of the one before.
  let first: Awaited<ReturnType<typeof tokensFor>>;

  it('puts the IdP sign-in time, acr and amr into the ID token, not the consent time', async () => {
    const before = Date.now();
    // The user reads the consent page for a while: approval is seconds after the login.
    first = await tokensFor({}, ['otp'], 1100);
    const approvedBy = Math.floor(Date.now() / 1000);
    const logins = await idp.logins();
    expect(logins).toEqual([{ accountId: 'jane', method: 'otp', authTime: expect.any(Number) }]);
    expect(first.claims()).toMatchObject({
      sub: 'user:default/jane',
      auth_time: logins[0].authTime,
      acr: 'urn:test:loa:2',
      amr: ['pwd', 'otp'],
    });
    expect(logins[0].authTime).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    expect(logins[0].authTime).toBeLessThan(approvedBy);
  });

  it('keeps auth_time, acr and amr through a refresh of the portal session and of the client’s tokens', async () => {
    await sleep(1100);
    // A new page session: the built-in page gets the user's token from the
    // provider's refresh endpoint, which refreshes the IdP session; no login.
    await context.clearCookies({ name: 'oidc-pages-user' });
    const again = await tokensFor({});
    expect(await idp.logins()).toHaveLength(1);
    const { auth_time, acr, amr } = first.claims()!;
    expect(again.claims()).toMatchObject({ auth_time, acr, amr });

    // OIDC Core §12.2: a refreshed ID token describes the original authentication.
    const refreshed = await oidc.refreshTokenGrant(client, again.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ auth_time, acr, amr });
  });

  it('sends the user through the IdP login again for max_age once the sign-in is older', async () => {
    await sleep(2100);
    const tokens = await tokensFor({ max_age: '1' }, ['pwd']);
    const logins = await idp.logins();
    expect(logins).toHaveLength(2);
    expect(logins[1].authTime).toBeGreaterThan(first.claims()!.auth_time!);
    expect(tokens.claims()).toMatchObject({
      auth_time: logins[1].authTime,
      acr: 'urn:test:loa:1',
      amr: ['pwd'],
    });
  });

  it('sends the user through the IdP login again for prompt=login, however recent the sign-in', async () => {
    await sleep(1100);
    const tokens = await tokensFor({ prompt: 'login' }, ['pwd']);
    const logins = await idp.logins();
    expect(logins).toHaveLength(3);
    expect(logins[2].authTime).toBeGreaterThan(logins[1].authTime);
    expect(tokens.claims()!.auth_time).toBe(logins[2].authTime);
  });

  it('asks for a fresh sign-in when acr_values is not met, and refuses when it still is not', async () => {
    // The last sign-in used a password only (urn:test:loa:1).
    const wanted = { acr_values: 'urn:test:loa:2' };
    const refused = await authorize(wanted);
    const page = await context.newPage();
    const landed = callback.next();
    await page.goto(refused.url.href);
    await signInAtIdp(page, 'pwd');
    const callbackUrl = await landed;
    await page.close();
    expect(Object.fromEntries(callbackUrl.searchParams)).toMatchObject({
      error: 'unmet_authentication_requirements',
      state: refused.state,
      iss: backend.issuer,
    });
    expect(await idp.logins()).toHaveLength(4);

    const tokens = await tokensFor(wanted, ['otp']);
    expect(await idp.logins()).toHaveLength(5);
    expect(tokens.claims()).toMatchObject({ acr: 'urn:test:loa:2', amr: ['pwd', 'otp'] });
  });

  it('refuses acr_values no sign-in can have at the authorization endpoint', async () => {
    const { url, state } = await authorize({ acr_values: 'urn:test:loa:9' });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      error: 'unmet_authentication_requirements',
      error_description: 'acr_values cannot be met; supported values are: urn:test:loa:1 urn:test:loa:2',
      state,
      iss: backend.issuer,
    });
  });

  it('advertises the acr values and the claims it passes on', async () => {
    const metadata = client.serverMetadata();
    expect(metadata.acr_values_supported).toEqual(['urn:test:loa:1', 'urn:test:loa:2']);
    expect(metadata.claims_supported).toEqual(expect.arrayContaining(['auth_time', 'acr', 'amr']));
  });
});
