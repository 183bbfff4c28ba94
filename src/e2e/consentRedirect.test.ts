/* eslint-disable no-script-url -- hostile redirect URIs are what these tests send */
import { createBackendPlugin, coreServices } from '@backstage/backend-plugin-api';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import type { Browser, Page } from 'playwright-core';
import { applyDatabaseMigrations } from '../database/migrations';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { pkcePair } from './fixtures/pkcePair';
import { launchChromium } from './harness/browser';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

/**
 * Issue 12 item 1 in a real browser: a metadata document that lists
 * `javascript:alert(document.domain)//` must never make the portal's origin
 * run it — neither through the built-in consent page nor through the consent
 * API driven the way `@backstage/plugin-auth`'s page drives it, which ends
 * with `window.location.href = redirectUrl`.
 */
const databases = createTestDatabases();
const SCRIPT_URI = 'javascript:alert(document.domain)//';

/**
 * `GET /api/app-consent/:sessionId`: stands in for `@backstage/plugin-auth`'s
 * consent page, at the portal's origin. It reads the session, and its
 * Approve and Cancel buttons post the decision and follow `redirectUrl`
 * with `window.location.href`, as that page does.
 */
const appConsentPage = createBackendPlugin({
  pluginId: 'app-consent',
  register(reg) {
    reg.registerInit({
      deps: { httpRouter: coreServices.httpRouter },
      async init({ httpRouter }) {
        httpRouter.addAuthPolicy({ path: '/', allow: 'unauthenticated' });
        httpRouter.use((_req, res) => {
          // The real app's own CSP is its business; this stand-in lets its inline script run.
          res.setHeader('Content-Security-Policy', "script-src 'unsafe-inline'");
          res.type('html').send(`<!doctype html><p id="client">…</p><p id="status"></p>
<button id="approve">Approve</button><button id="cancel">Cancel</button>
<script>
const id = location.pathname.split('/').pop();
fetch('/api/auth/v1/sessions/' + id).then(r => r.json()).then(s => {
  document.getElementById('client').textContent = s.clientName || JSON.stringify(s);
});
async function decide(action) {
  const res = await fetch('/api/auth/v1/sessions/' + id + '/' + action, {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + window.portalToken, 'Content-Type': 'application/json' },
  });
  const body = await res.json();
  document.getElementById('status').textContent = res.status + ' ' + JSON.stringify(body);
  if (body.redirectUrl) window.location.href = body.redirectUrl;
}
document.getElementById('approve').onclick = () => decide('approve');
document.getElementById('cancel').onclick = () => decide('reject');
</script>`);
        });
      },
    });
  },
});

async function startDocumentServer(docs: Record<string, string[]>) {
  const server = http.createServer((req, res) => {
    const name = /^\/([a-z]+)\.json$/.exec(req.url ?? '')?.[1];
    if (!name || !docs[name]) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        client_id: `http://${req.headers.host}${req.url}`,
        client_name: 'Backstage CLI',
        redirect_uris: docs[name],
      }),
    );
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (name: string) => `http://127.0.0.1:${port}/${name}.json`,
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
  };
}

describe.each(databases.eachSupportedId())('hostile redirect URIs in Chromium on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let browser: Browser;
  let documents: Awaited<ReturnType<typeof startDocumentServer>>;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    documents = await startDocumentServer({ hostile: [SCRIPT_URI], mixed: [SCRIPT_URI, 'http://127.0.0.1:6000/cb'] });
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      features: [appConsentPage],
      config: {
        auth: {
          clientIdMetadataDocuments: {
            enabled: true,
            allowedClientIdPatterns: ['http://127.0.0.1:*/*.json'],
            allowedRedirectUriPatterns: ['*'],
          },
          oidcProvider: {
            consentPage: 'builtin',
            signInProvider: 'guest',
            dangerouslyAllowInsecureClientIdMetadataDocuments: true,
          },
        },
      },
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await backend?.stop();
    await documents?.close();
  });

  /** A fresh page that records every dialog a script opens (and dismisses it). */
  async function watchedPage(): Promise<{ page: Page; dialogs: string[] }> {
    const page = await (await browser.newContext()).newPage();
    const dialogs: string[] = [];
    page.on('dialog', dialog => {
      dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    return { page, dialogs };
  }

  const authorizeUrl = (clientId: string, redirectUri: string) =>
    `${backend.issuer}/v1/authorize?${new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: 'openid',
      state: 'st',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    })}`;

  /** A pending session with a script redirect, as a database written before the rule would hold. */
  async function legacySession(id: string) {
    await applyDatabaseMigrations(knex);
    await knex('oauth_authorization_sessions').insert({
      id,
      client_id: documents.url('mixed'),
      redirect_uri: SCRIPT_URI,
      scope: 'openid',
      state: 'st',
      response_type: 'code',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      status: 'pending',
      expires_at: new Date(Date.now() + 5 * 60_000),
    });
  }

  it.each([
    ['only a script URI', 'hostile'],
    ['a script URI beside a loopback one', 'mixed'],
  ])('shows an error page for a document listing %s, and runs nothing', async (_label, name) => {
    const { page, dialogs } = await watchedPage();
    const before = await knex('oauth_authorization_sessions').count({ n: '*' });
    const res = await page.goto(authorizeUrl(documents.url(name), SCRIPT_URI));
    expect(res?.status()).toBe(400);
    expect(await page.locator('h1').textContent()).toBe('This sign-in request cannot be completed');
    await page.waitForTimeout(300);
    expect(dialogs).toEqual([]);
    expect(await knex('oauth_authorization_sessions').count({ n: '*' })).toEqual(before);
  });

  it.each(['approve', 'cancel'])(
    "never hands the app's consent page a script to navigate to (%s)",
    async button => {
      const sessionId = `legacy-app-${button}`;
      await legacySession(sessionId);
      const { token } = await backend.signInAsGuest();
      const { page, dialogs } = await watchedPage();
      await page.addInitScript(t => {
        (window as unknown as { portalToken: string }).portalToken = t;
      }, token);
      const url = `${backend.baseUrl}/api/app-consent/${sessionId}`;
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById('client')!.textContent !== '…');
      const shownName = await page.locator('#client').textContent();
      await page.click(`#${button}`);
      await page.waitForTimeout(500);
      // No script ran in the portal's origin, and the page did not move.
      expect(dialogs).toEqual([]);
      expect(page.url()).toBe(url);
      // A stored request is no handle: it is neither shown nor decided.
      expect(await page.locator('#status').textContent()).toMatch(/^404 /);
      expect(shownName).toContain('NotFoundError');
      expect((await knex('oauth_authorization_sessions').where({ id: sessionId }).first()).status).toBe('pending');
    },
  );
});
