import type { Knex } from 'knex';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { recordingAuditor } from './fixtures/recordingAuditor';
import { holdSignIn, launchChromium, screenshot } from './harness/browser';
import {
  DEVICE_GRANT,
  codeEntered,
  deviceConfig,
  expectNoUserCodeIn,
  pollDevice,
  requestedUrls,
  submitCode,
} from './harness/devicePage';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

const databases = createTestDatabases();

// The protocol and the main browser flows; the verification page's own rules
// (codes kept out of URLs, wrong-code limits, client names) are in
// deviceVerificationPage.test.ts.
describe.each(databases.eachSupportedId())('device authorization grant on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let browser: Browser;
  let context: BrowserContext;
  let client: oidc.Configuration;
  const auditor = recordingAuditor();

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({ knex, features: [auditor.factory], config: deviceConfig() });
    browser = await launchChromium();
    context = await browser.newContext();
    client = await oidc.discovery(new URL(backend.issuer), 'device-cli', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await backend?.stop();
  });

  const poll = (deviceCode: string, clientId?: string) => pollDevice(backend, deviceCode, clientId);

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
});
