import type { JsonObject } from '@backstage/types';
import type { Knex } from 'knex';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { holdSignIn, launchChromium, screenshot } from './harness/browser';
import { type MetadataDocumentServer, startMetadataDocumentServer } from './harness/metadataDocumentServer';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';
import { recordingAuditor } from './fixtures/recordingAuditor';

jest.setTimeout(120_000);

const databases = createTestDatabases();
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A public CLI client that may use the device grant. */
const deviceCli = {
  clientId: 'device-cli',
  clientName: 'Example CLI',
  public: true,
  redirectUris: ['http://127.0.0.1/callback'],
  grantTypes: [DEVICE_GRANT],
};

/** Every URL the page requests, in order (navigations, scripts' fetches, redirects). */
function requestedUrls(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', r => urls.push(r.url()));
  return urls;
}

/** Waits until the entry form holds `code` (its script fills it in). */
async function codeEntered(page: Page, code: string) {
  await page.waitForFunction(
    expected => (document.getElementById('user-code-input') as HTMLInputElement | null)?.value === expected,
    code,
  );
}

/** Request URLs reach logs: none may hold the user code, in any spelling. */
function expectNoUserCodeIn(urls: string[], userCode: string) {
  const bare = userCode.replace('-', '');
  const leaked = urls.filter(url => {
    const upper = decodeURIComponent(url).toUpperCase();
    return upper.includes(bare) || upper.includes(userCode);
  });
  expect(leaked).toEqual([]);
}

/**
 * The suite's app-config: the device grant for `device-cli` and for the
 * metadata-document client `lookalikeClientId`; default limits unless given.
 */
function deviceConfig(lookalikeClientId: string, rateLimits?: JsonObject): JsonObject {
  return {
    auth: {
      clientIdMetadataDocuments: { enabled: true, allowedClientIdPatterns: ['http://127.0.0.1:*/**'] },
      oidcProvider: {
        dangerouslyAllowInsecureClientIdMetadataDocuments: true,
        signInProvider: 'guest',
        deviceAuthorization: {
          enabled: true,
          interval: { seconds: 1 },
          allowedClientIds: ['device-cli', lookalikeClientId],
        },
        ...(rateLimits ? { rateLimits } : {}),
        clients: [
          deviceCli,
          // Registered for the grant, but not on the allow-list.
          { ...deviceCli, clientId: 'unlisted-cli', clientName: 'Unlisted CLI' },
        ],
      },
    },
  };
}

describe.each(databases.eachSupportedId())('device authorization grant on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let browser: Browser;
  let context: BrowserContext;
  let client: oidc.Configuration;
  let documents: MetadataDocumentServer;
  const auditor = recordingAuditor();

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    documents = await startMetadataDocumentServer({
      // Calls itself what the portal's own CLI is called.
      '/lookalike-cli.json': {
        client_name: 'Example CLI',
        redirect_uris: ['http://127.0.0.1/callback'],
        token_endpoint_auth_method: 'none',
        grant_types: [DEVICE_GRANT],
      },
    });
    backend = await startAuthBackend({
      knex,
      features: [auditor.factory],
      config: deviceConfig(documents.url('/lookalike-cli.json')),
    });
    browser = await launchChromium();
    context = await browser.newContext();
    client = await oidc.discovery(new URL(backend.issuer), 'device-cli', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await backend?.stop();
    await documents?.close();
  });

  /** Opens verification_uri_complete as the signed-in guest, confirms the prefilled code. */
  async function openConfirmPage(page: Page, started: oidc.DeviceAuthorizationResponse) {
    await page.goto(started.verification_uri_complete!);
    await codeEntered(page, started.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#user-code').waitFor();
  }

  /** Types a code into the entry form and submits it; returns the answer. */
  async function submitCode(page: Page, code: string): Promise<Response> {
    await page.locator('#user-code-input').fill(code);
    const [response] = await Promise.all([
      page.waitForResponse(r => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/auth/v1/device'),
      page.getByRole('button', { name: 'Continue' }).click(),
    ]);
    await page.waitForLoadState();
    return response;
  }

  const poll = (deviceCode: string, clientId = 'device-cli') =>
    request(backend.server)
      .post('/api/auth/v1/token')
      .type('form')
      .send({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId });

  it('advertises the device authorization endpoint', () => {
    expect(client.serverMetadata().device_authorization_endpoint).toBe(
      `${backend.issuer}/v1/device_authorization`,
    );
  });

  it('completes with openid-client while Chromium signs in as guest and approves', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid profile' });
    expect(started.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(started.verification_uri).toBe(`${backend.issuer}/v1/device`);
    expect(started.expires_in).toBe(600);
    expect(started.interval).toBe(1);

    expect(started.verification_uri_complete).toBe(`${backend.issuer}/v1/device#user_code=${started.user_code}`);
    const tokens = oidc.pollDeviceAuthorizationGrant(client, started);

    const page = await context.newPage();
    const urls = requestedUrls(page);
    const release = await holdSignIn(page);
    await page.goto(started.verification_uri_complete!);
    await page.getByText('Checking who you are').waitFor();
    await screenshot(page, 'device-sign-in');
    release();

    // Back from the sign-in, the form holds the code; the person still confirms it.
    await codeEntered(page, started.user_code);
    expect(page.url()).toBe(`${backend.issuer}/v1/device`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#user-code').waitFor();
    expect(await page.locator('#user-code').textContent()).toBe(started.user_code);
    const text = await page.locator('main').innerText();
    expect(text).toContain('Example CLI');
    // The operators named this client in app-config: no host, no warning.
    expect(await page.locator('#client-host').count()).toBe(0);
    expect(text).toContain('user:development/guest');
    expect(text).toContain('See your name and picture');
    expect(text).toMatch(/127\.0\.0\.1/);
    expect(text).toContain('Only approve if you started this on a device you hold');
    await screenshot(page, 'device-confirm');

    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/\/v1\/device\/done\?result=approved/);
    await screenshot(page, 'device-approved');
    await page.close();
    expect(urls.length).toBeGreaterThan(5);
    expectNoUserCodeIn(urls, started.user_code);

    const result = await tokens;
    expect(result.token_type).toBe('bearer');
    expect(result.claims()).toMatchObject({ sub: 'user:development/guest', aud: 'device-cli' });
    expect(result.scope).toBe('openid profile');
    const me = await request(backend.server)
      .get('/api/whoami/me')
      .auth(result.access_token, { type: 'bearer' });
    expect(me.status).toBe(200);
    expect(me.body.userEntityRef).toBe('user:development/guest');

    expect(auditor.createEvent).toHaveBeenCalledWith({
      eventId: 'device-approved',
      severityLevel: 'low',
      meta: { clientId: 'device-cli', userEntityRef: 'user:development/guest', scope: 'openid profile' },
    });
    const audited = JSON.stringify(auditor.createEvent.mock.calls);
    expect(audited).not.toContain(started.device_code);
    expect(audited).not.toContain(started.user_code);

    // The approval is consumed: polling again is invalid_grant, not more tokens.
    const again = await poll(started.device_code);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });

  it('names a client that borrowed another application’s name with the host that vouches for it', async () => {
    const lookalike = await oidc.discovery(
      new URL(backend.issuer),
      documents.url('/lookalike-cli.json'),
      undefined,
      oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
    const started = await oidc.initiateDeviceAuthorization(lookalike, { scope: 'openid' });
    const page = await context.newPage();
    await openConfirmPage(page, started);
    expect(await page.locator('h1').innerText()).toBe('Connect Example CLI?');
    const host = page.locator('#client-host');
    expect(await host.innerText()).toBe(`from ${documents.host}`);
    expect(await host.isVisible()).toBe(true);
    expect((await host.boundingBox())!.y).toBeLessThan(page.viewportSize()!.height / 2);
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(/\/v1\/device\/done\?result=denied/);
    await page.close();
  });

  it('answers authorization_pending, then slow_down when polled faster than the interval', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    const first = await poll(started.device_code);
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('authorization_pending');
    expect(first.headers['cache-control']).toBe('no-store');
    const second = await poll(started.device_code);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('slow_down');
    // RFC 8628 §3.5: the interval grows by 5 seconds for every later poll.
    const [row] = await knex('oidc_device_codes').where({ client_id: 'device-cli', status: 'pending' });
    expect(Number(row.interval_seconds)).toBe(6);
  });

  it('refuses an unknown or missing device code', async () => {
    const unknown = await poll('not-a-device-code');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_grant');
    const missing = await request(backend.server)
      .post('/api/auth/v1/token')
      .type('form')
      .send({ grant_type: DEVICE_GRANT, client_id: 'device-cli' });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
  });

  it('tells the device access_denied when the user denies in the browser', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    const page = await context.newPage();
    const urls = requestedUrls(page);
    await page.goto(started.verification_uri);
    const input = page.locator('input[name=user_code]');
    await input.waitFor();
    await screenshot(page, 'device-enter-code');
    // Typed in lower case and without the dash: still the same code.
    expect((await submitCode(page, started.user_code.replace('-', '').toLowerCase())).status()).toBe(200);
    await page.locator('#user-code').waitFor();
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(/\/v1\/device\/done\?result=denied/);
    await screenshot(page, 'device-denied');
    await page.close();
    expectNoUserCodeIn(urls, started.user_code);

    const res = await poll(started.device_code);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('access_denied');
    expect(auditor.createEvent).toHaveBeenCalledWith(
      expect.objectContaining({ eventId: 'device-denied', meta: expect.objectContaining({ clientId: 'device-cli' }) }),
    );
  });

  it('answers expired_token once the code has expired', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    // Move the clock the server reads (Date) past the 10-minute lifetime; timers stay real.
    jest.useFakeTimers({
      now: Date.now() + 601_000,
      doNotFake: [
        'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame',
        'cancelAnimationFrame', 'requestIdleCallback', 'cancelIdleCallback', 'setImmediate',
        'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout',
      ],
    });
    try {
      const res = await poll(started.device_code);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('expired_token');
    } finally {
      jest.useRealTimers();
    }
  });

  it('refuses a client that is not on the allow-list, storing nothing', async () => {
    const before = await knex('oidc_device_codes').count({ n: '*' });
    const res = await request(backend.server)
      .post('/api/auth/v1/device_authorization')
      .type('form')
      .send({ client_id: 'unlisted-cli', scope: 'openid' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
    expect(await knex('oidc_device_codes').count({ n: '*' })).toEqual(before);

    const unknown = await request(backend.server)
      .post('/api/auth/v1/device_authorization')
      .type('form')
      .send({ client_id: 'no-such-client' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe('invalid_client');
  });

  it('rejects a device code presented by another client', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    const res = await poll(started.device_code, 'unlisted-cli');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
  });

  it('refuses a decision without the CSRF token, changing nothing', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    const { token } = await backend.signInAsGuest();
    const res = await request(backend.server)
      .post('/api/auth/v1/device/decision')
      .set('Cookie', [`oidc-pages-user=${token}`, 'oidc-pages-csrf=a'.padEnd(59, 'a')])
      .type('form')
      .send({ user_code: started.user_code, decision: 'approve', csrf: 'b'.repeat(43) });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('did not come from this site');
    expect(res.text).toContain('href="/api/auth/v1/device"');
    expect((await poll(started.device_code)).body.error).toBe('authorization_pending');
  });

  it('shows a stale form an HTML 403 page whose link leads back to the code entry', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    const page = await context.newPage();
    await openConfirmPage(page, started);
    // Another tab (or an attacker's page) replaced the CSRF cookie meanwhile.
    await context.addCookies([
      { name: 'oidc-pages-csrf', value: 'd'.repeat(43), url: `${backend.issuer}/v1/` },
    ]);
    const [response] = await Promise.all([
      page.waitForResponse(r => r.url().endsWith('/v1/device/decision')),
      page.getByRole('button', { name: 'Approve' }).click(),
    ]);
    expect(response.status()).toBe(403);
    expect(response.headers()['content-type']).toMatch(/^text\/html/);
    await page.getByText('did not come from this site').waitFor();
    await page.getByRole('link', { name: 'Back to “Connect a device”' }).click();
    await page.locator('input[name=user_code]').waitFor();
    await page.close();
    expect((await poll(started.device_code)).body.error).toBe('authorization_pending');
  });

  it('answers odd form values with an HTML 400 page, changing nothing', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    const { token } = await backend.signInAsGuest();
    const csrf = 'c'.repeat(43);
    for (const decision of ['__proto__', 'constructor', 'maybe']) {
      const res = await request(backend.server)
        .post('/api/auth/v1/device/decision')
        .set('Cookie', [`oidc-pages-user=${token}`, `oidc-pages-csrf=${csrf}`])
        .type('form')
        .send({ request: 'a'.repeat(64), decision, csrf });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('href="/api/auth/v1/device"');
    }
    for (const form of [{}, { request: started.user_code }, { request: ['a'.repeat(64), 'b'.repeat(64)] }]) {
      const res = await request(backend.server)
        .post('/api/auth/v1/device/decision')
        .set('Cookie', [`oidc-pages-user=${token}`, `oidc-pages-csrf=${csrf}`])
        .type('form')
        .send({ ...form, decision: 'approve', csrf });
      expect(res.status).toBe(400);
      expect(res.text).toContain('did not say which request');
    }
    expect((await poll(started.device_code)).body.error).toBe('authorization_pending');
    const done = await request(backend.server).get('/api/auth/v1/device/done?result=constructor');
    expect(done.status).toBe(200);
    expect(done.text).toContain('Request expired');
    expect(done.text).toContain('<a id="back" href="/api/auth/v1/device">Enter another code</a>');
  });

  it('answers an unknown path under the device page with an HTML 404 that leads back', async () => {
    for (const path of ['/api/auth/v1/device/nope', '/api/auth/v1/device/decision']) {
      const res = await request(backend.server).get(path);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('href="/api/auth/v1/device"');
    }
    // The OAuth endpoint next to it is not swallowed by the pages.
    const endpoint = await request(backend.server).get('/api/auth/v1/device_authorization');
    expect(endpoint.headers['content-type']).toMatch(/json/);
  });

  it('serves the pages with a strict CSP that forbids framing', async () => {
    const res = await request(backend.server).get('/api/auth/v1/device');
    expect(res.status).toBe(200);
    const csp = res.headers['content-security-policy'];
    expect(csp).toMatch(/script-src 'nonce-[^']+'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  it('keeps no device or user code in clear in the database', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    const dump = JSON.stringify([
      await knex('oidc_device_codes').select(),
      await knex('oidc_device_code_keys').select('key_version'),
    ]);
    expect(dump).not.toContain(started.device_code);
    expect(dump).not.toContain(started.user_code);
    expect(dump).not.toContain(started.user_code.replace('-', ''));
  });

  it('sends a user who is not signed in to the provider start with flow=redirect', async () => {
    const fresh = await browser.newContext();
    const page = await fresh.newPage();
    await page.route('**/api/auth/guest/refresh**', route =>
      route.fulfill({ status: 401, contentType: 'application/json', body: '{"error":{"name":"AuthenticationError","message":"no session"}}' }),
    );
    let startUrl: URL | undefined;
    await page.route('**/api/auth/guest/start**', route => {
      startUrl = new URL(route.request().url());
      return route.fulfill({ status: 200, contentType: 'text/html', body: 'the provider' });
    });
    await page.goto(`${backend.issuer}/v1/device#user_code=BCDF-GHJK`);
    await page.waitForURL(/\/guest\/start/);
    expect(startUrl!.searchParams.get('flow')).toBe('redirect');
    expect(startUrl!.searchParams.get('env')).toBe('development');
    const back = new URL(startUrl!.searchParams.get('redirectUrl')!);
    expect(back.origin + back.pathname).toBe(`${backend.issuer}/v1/device`);
    // The code stays in the tab (sessionStorage), not in the provider's URL.
    expect(startUrl!.href).not.toContain('BCDF');
    // Back from the provider still without a session: an error, not a redirect loop.
    await page.goto(back.href);
    await page.getByText('Sign-in did not complete').waitFor();
    await fresh.close();
  });

  it('keeps the code through a sign-in at the provider without putting it in a URL', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    const fresh = await browser.newContext();
    const page = await fresh.newPage();
    const urls = requestedUrls(page);
    // No session at first: the page sends the person to the provider, which
    // (standing in for a real one) sends them straight back.
    let refreshes = 0;
    await page.route('**/api/auth/guest/refresh**', route =>
      refreshes++ === 0
        ? route.fulfill({ status: 401, contentType: 'application/json', body: '{"error":{"name":"AuthenticationError","message":"no session"}}' })
        : route.continue(),
    );
    await page.route('**/api/auth/guest/start**', route =>
      route.fulfill({
        status: 302,
        headers: { location: new URL(route.request().url()).searchParams.get('redirectUrl')! },
      }),
    );
    await page.goto(started.verification_uri_complete!);
    await codeEntered(page, started.user_code);
    expect(urls.some(u => u.includes('/guest/start'))).toBe(true);
    expect((await submitCode(page, started.user_code)).status()).toBe(200);
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/\/v1\/device\/done\?result=approved/);
    await fresh.close();
    expectNoUserCodeIn(urls, started.user_code);
  });

  it('still accepts an old ?user_code= link, moving the code out of later URLs', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    const page = await context.newPage();
    const urls = requestedUrls(page);
    const legacy = `${backend.issuer}/v1/device?user_code=${started.user_code}`;
    await page.goto(legacy);
    await codeEntered(page, started.user_code);
    expect(page.url()).toBe(`${backend.issuer}/v1/device`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/\/v1\/device\/done\?result=approved/);
    await page.close();
    expect(urls[0]).toBe(legacy);
    expectNoUserCodeIn(urls.slice(1), started.user_code);
  });

  it('fills the code in when the link is opened in a tab already showing the page', async () => {
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    const page = await context.newPage();
    await page.goto(started.verification_uri);
    await page.locator('#user-code-input').waitFor();
    // Only the fragment differs: the browser does not load the page again.
    await page.goto(started.verification_uri_complete!);
    await codeEntered(page, started.user_code);
    expect(page.url()).toBe(`${backend.issuer}/v1/device`);
    await page.close();
  });

  it('approves three requests from one address within a minute', async () => {
    // With the default limits, as an office behind one address would have them.
    const page = await context.newPage();
    const statuses: number[] = [];
    page.on('response', r => statuses.push(r.status()));
    for (let i = 0; i < 3; i++) {
      const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
      await page.goto('about:blank');
      await openConfirmPage(page, started);
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL(/\/v1\/device\/done\?result=approved/);
      expect((await poll(started.device_code)).status).toBe(200);
    }
    await page.close();
    expect(statuses.filter(status => status >= 400)).toEqual([]);
  });

  // Last: it leaves the guest locked out of code entry for five minutes.
  it('rate limits repeated wrong user codes with an HTML 429 page', async () => {
    const page = await context.newPage();
    const answers: Response[] = [];
    for (let i = 0; i < 6; i++) {
      await page.goto(`${backend.issuer}/v1/device`);
      answers.push(await submitCode(page, `BBBB-BBB${'BCDFGH'[i]}`));
      if (i === 0) await screenshot(page, 'device-wrong-code');
    }
    expect(answers.map(r => r.status())).toEqual([400, 400, 400, 400, 400, 429]);
    const refused = answers[5].headers();
    // The default budget: five wrong codes per user in five minutes.
    expect(Number(refused['retry-after'])).toBeGreaterThan(240);
    expect(Number(refused['retry-after'])).toBeLessThanOrEqual(300);
    expect(refused['content-type']).toMatch(/^text\/html/);
    await page.getByText('Too many wrong codes').waitFor();
    await screenshot(page, 'device-rate-limited');
    // Now even a right code waits: guessing cannot continue.
    const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
    await page.goto(started.verification_uri);
    const res = await submitCode(page, started.user_code);
    expect(res.status()).toBe(429);
    expect(Number(res.headers()['retry-after'])).toBeGreaterThan(0);
    // The way back leads to the code entry, not to a dead end.
    await page.getByRole('link', { name: 'Back to “Connect a device”' }).click();
    await page.locator('#user-code-input').waitFor();
    await page.close();
    expect(auditor.createEvent).toHaveBeenCalledWith(
      expect.objectContaining({ eventId: 'rate-limited', meta: expect.objectContaining({ endpoint: 'verification', scope: 'user' }) }),
    );
  });

  describe('with a configured wrong-code budget', () => {
    let limited: AuthBackend;
    let limitedClient: oidc.Configuration;
    let fresh: BrowserContext;

    beforeAll(async () => {
      limited = await startAuthBackend({
        knex,
        config: deviceConfig(documents.url('/lookalike-cli.json'), { verification: { requests: 2, window: '2m' } }),
      });
      limitedClient = await oidc.discovery(new URL(limited.issuer), 'device-cli', undefined, oidc.None(), {
        execute: [oidc.allowInsecureRequests],
      });
      fresh = await browser.newContext();
    });
    afterAll(async () => {
      await fresh?.close();
      await limited?.stop();
    });

    it('counts only wrong codes: page views, sign-ins and decisions do not', async () => {
      // Page views and sign-in round trips, each sign-in in a browser without a session.
      for (let i = 0; i < 4; i++) {
        const signingIn = await browser.newContext();
        const page = await signingIn.newPage();
        await page.goto(`${limited.issuer}/v1/device`);
        for (let j = 0; j < 3; j++) {
          await page.locator('#user-code-input').waitFor();
          await page.reload();
        }
        await page.locator('#user-code-input').waitFor();
        await signingIn.close();
      }
      // Approvals, a denial, and a decision sent again after it was made.
      const page = await fresh.newPage();
      for (const button of ['Approve', 'Approve', 'Deny']) {
        const started = await oidc.initiateDeviceAuthorization(limitedClient, { scope: 'openid' });
        await page.goto('about:blank');
        await page.goto(started.verification_uri_complete!);
        await codeEntered(page, started.user_code);
        await page.getByRole('button', { name: 'Continue' }).click();
        const form = page.locator('form[action$="/v1/device/decision"]');
        const requestHash = await form.locator('input[name=request]').inputValue();
        const csrf = await form.locator('input[name=csrf]').inputValue();
        await page.getByRole('button', { name: button }).click();
        await page.waitForURL(/\/v1\/device\/done/);
        const again = await page.request.post(`${limited.issuer}/v1/device/decision`, {
          form: { csrf, request: requestHash, decision: 'approve' },
          maxRedirects: 0,
        });
        expect(again.headers().location).toMatch(/result=expired$/);
      }
      // The whole budget (2) is still there; the next wrong code is refused.
      const answers: Response[] = [];
      for (let i = 0; i < 3; i++) {
        await page.goto(`${limited.issuer}/v1/device`);
        answers.push(await submitCode(page, `BBBB-BBB${'BCD'[i]}`));
      }
      expect(answers.map(r => r.status())).toEqual([400, 400, 429]);
      // The configured two-minute window, not the default five.
      expect(Number(answers[2].headers()['retry-after'])).toBeGreaterThan(60);
      expect(Number(answers[2].headers()['retry-after'])).toBeLessThanOrEqual(120);
      await page.getByText('Too many wrong codes').waitFor();
      await page.close();
    });
  });
});
