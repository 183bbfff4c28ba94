import type { Knex } from 'knex';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Response } from 'playwright-core';
import { createTestDatabases } from '../testUtils/databases';
import { recordingAuditor } from './fixtures/recordingAuditor';
import { launchChromium, screenshot } from './harness/browser';
import {
  DEVICE_GRANT,
  codeEntered,
  deviceConfig,
  expectNoUserCodeIn,
  openConfirmPage,
  pollDevice,
  requestedUrls,
  submitCode,
} from './harness/devicePage';
import { type MetadataDocumentServer, startMetadataDocumentServer } from './harness/metadataDocumentServer';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

const databases = createTestDatabases();

/**
 * The device verification page's own rules (issue 12 items 9 and 2): the
 * user code never in a URL the browser requests, only wrong codes counted
 * toward the limit, HTML answers with a way back, client names shown with
 * the host that vouches for them.
 */
describe.each(databases.eachSupportedId())('device verification page on %s', databaseId => {
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
    // Default rate limits: what an office behind one address would have.
    backend = await startAuthBackend({
      knex,
      features: [auditor.factory],
      config: deviceConfig({ lookalikeClientId: documents.url('/lookalike-cli.json') }),
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
    expect((await pollDevice(backend, started.device_code)).body.error).toBe('authorization_pending');
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

  it('shows a person who opens a damaged link the error page, with a way back (issue 25 item 9)', async () => {
    const page = await context.newPage();
    const response = await page.goto(`${backend.issuer}/v1/device?x=%00`);
    expect(response!.status()).toBe(400);
    expect(response!.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.locator('h1').innerText()).toBe('Something is wrong with that request');
    expect(await page.locator('#error-message').innerText()).toBe(
      "This link is damaged: query parameter 'x' contains a control character (U+0000). Open it again from where you found it, or use the link below.",
    );
    await page.getByRole('link', { name: 'Back to “Connect a device”' }).click();
    await page.locator('#user-code-input').waitFor();
    await page.close();
  });

  it('shows a person whose browser opens /v1/authorize with bad bytes the sign-in error page (issue 25 item 9)', async () => {
    const page = await context.newPage();
    const response = await page.goto(`${backend.issuer}/v1/authorize?response_type=code&client_id=device-cli%01`);
    expect(response!.status()).toBe(400);
    expect(response!.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.locator('h1').innerText()).toBe('This sign-in request cannot be completed');
    await page.getByText("query parameter 'client_id' contains a control character (U+0001)").waitFor();
    await page.close();
  });

  it('approves three requests from one address within a minute', async () => {
    const page = await context.newPage();
    const statuses: number[] = [];
    page.on('response', r => statuses.push(r.status()));
    for (let i = 0; i < 3; i++) {
      const started = await oidc.initiateDeviceAuthorization(client, { scope: 'openid' });
      await page.goto('about:blank');
      await openConfirmPage(page, started);
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL(/\/v1\/device\/done\?result=approved/);
      expect((await pollDevice(backend, started.device_code)).status).toBe(200);
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
        config: deviceConfig({ rateLimits: { verification: { requests: 2, window: '2m' } } }),
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
