import type { Knex } from 'knex';
import type { Browser, BrowserContext, Locator } from 'playwright-core';
import request from 'supertest';
import { applyDatabaseMigrations } from '../database/migrations';
import { createTestDatabases } from '../testUtils/databases';
import { withGenerousRateLimits } from './fixtures/generousRateLimits';
import { pkcePair } from './fixtures/pkcePair';
import { launchChromium } from './harness/browser';
import { deviceCli, openConfirmPage } from './harness/devicePage';
import { type MetadataDocumentServer, startMetadataDocumentServer } from './harness/metadataDocumentServer';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

const databases = createTestDatabases();
const CALLBACK = 'http://127.0.0.1/callback';

/**
 * Characters that hide, reorder or break text: C0 and C1 controls (but the
 * tabs and newlines a page's own markup and innerText have), bidi controls
 * and isolates, zero-width and other invisible format characters, line and
 * paragraph separators. None may reach a page or the consent API.
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/u;

/** The example: the portal's own "(…)" after this name reads backwards. */
const REVERSING = 'Grafana\u202e';
/** NUL, backspace and ESC in a name, and a right-to-left override at its end. */
const CONTROLS = 'Grafana\u0000\u0008\u001b Dashboards\u202e';

/**
 * Where each visible character of `locator`'s text is drawn, in reading
 * order: a text that reads as it is stored has them line by line, left to
 * right; one that a bidi control reordered does not.
 */
function glyphPositions(locator: Locator): Promise<Array<{ top: number; left: number }>> {
  return locator.evaluate(element => {
    const positions: Array<{ top: number; left: number }> = [];
    const walker = element.ownerDocument.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent ?? '';
      let offset = 0;
      for (const char of text) {
        const range = element.ownerDocument.createRange();
        range.setStart(node, offset);
        range.setEnd(node, offset + char.length);
        offset += char.length;
        const rect = range.getBoundingClientRect();
        if (char.trim() !== '' && rect.width > 0) {
          positions.push({ top: Math.round(rect.top), left: rect.left });
        }
      }
    }
    return positions;
  });
}

async function expectReadsInOrder(locator: Locator): Promise<void> {
  const positions = await glyphPositions(locator);
  expect(positions.length).toBeGreaterThan(0);
  const inReadingOrder = [...positions].sort((a, b) => a.top - b.top || a.left - b.left);
  expect(positions).toEqual(inReadingOrder);
}

/**
 * Issue 25 item 7, "names cannot lie": no client-supplied string that reaches
 * a page, the consent API or a log may hide or reorder text, and no name may
 * imitate the part in brackets the portal adds to it.
 */
describe.each(databases.eachSupportedId())('issue 25 item 7: names cannot lie, on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let portalHost: string;
  let browser: Browser;
  let context: BrowserContext;
  let documents: MetadataDocumentServer;
  const published: Record<string, Record<string, unknown>> = {};
  const publish = (path: string, clientName: string) => {
    published[path] = {
      client_name: clientName,
      redirect_uris: [CALLBACK],
      token_endpoint_auth_method: 'none',
    };
    return documents.url(path);
  };

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    documents = await startMetadataDocumentServer(published);
    // What upstream's registration stored before any rule existed: it
    // checked nothing about names.
    await applyDatabaseMigrations(knex);
    await knex('oidc_clients').insert({
      client_id: 'upstream-dcr-client',
      client_secret: '',
      client_name: `${REVERSING}\u001b`,
      response_types: '["code"]',
      grant_types: '["authorization_code"]',
      redirect_uris: JSON.stringify([CALLBACK]),
      scope: null,
      metadata: null,
    });
    backend = await startAuthBackend({
      knex,
      config: withGenerousRateLimits({
        auth: {
          experimentalDynamicClientRegistration: {
            enabled: true,
            // Any loopback path: what refuses a hostile URI here is the display rule.
            allowedRedirectUriPatterns: ['http://127.0.0.1:*/**'],
          },
          clientIdMetadataDocuments: { enabled: true, allowedClientIdPatterns: ['http://127.0.0.1:*/**'] },
          oidcProvider: {
            dangerouslyAllowInsecureClientIdMetadataDocuments: true,
            signInProvider: 'guest',
            consentPage: 'builtin',
            deviceAuthorization: { enabled: true, interval: { seconds: 1 }, allowedClientIds: [deviceCli.clientId] },
            clients: [deviceCli],
          },
        },
      }),
    });
    portalHost = new URL(backend.baseUrl).host;
    browser = await launchChromium();
    context = await browser.newContext();
  });

  afterAll(async () => {
    await browser?.close();
    await backend?.stop();
    await documents?.close();
  });

  const register = (body: Record<string, unknown>) =>
    request(backend.server)
      .post('/api/auth/v1/register')
      .send({ redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none', ...body });
  const clientRows = () => knex('oidc_clients').select('*').orderBy('client_id');

  /** Starts an authorization for `clientId`; returns its consent session id. */
  async function sessionFor(clientId: string, query: Record<string, string> = {}): Promise<string> {
    const res = await request(backend.server)
      .get('/api/auth/v1/authorize')
      .query({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: CALLBACK,
        scope: 'openid',
        state: 'st',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
        ...query,
      });
    expect(res.status).toBe(302);
    return new URL(res.headers.location).pathname.split('/').pop()!;
  }

  /** What the consent API says to @backstage/plugin-auth's consent page. */
  async function consentApiFor(clientId: string) {
    const res = await request(backend.server).get(`/api/auth/v1/sessions/${await sessionFor(clientId)}`);
    expect(res.status).toBe(200);
    return res.body as { clientName: string; redirectUri: string };
  }

  describe('dynamic client registration', () => {
    it.each([
      ['a right-to-left override (U+202E)', REVERSING, 'a bidirectional control (U+202E)'],
      ['a right-to-left isolate (U+2067)', 'Grafana\u2067', 'a bidirectional control (U+2067)'],
      ['a left-to-right mark (U+200E)', 'Grafana\u200e', 'a bidirectional control (U+200E)'],
      ['an Arabic letter mark (U+061C)', 'Grafana\u061c', 'a bidirectional control (U+061C)'],
      ['a zero-width space (U+200B)', 'Gra\u200bfana', 'an invisible character (U+200B)'],
      ['a byte order mark (U+FEFF)', '\ufeffGrafana', 'an invisible character (U+FEFF)'],
      ['a soft hyphen (U+00AD)', 'Graf\u00adana', 'an invisible character (U+00AD)'],
      ['a Hangul filler (U+3164)', 'Grafana\u3164', 'an invisible character (U+3164)'],
      ['a zero-width joiner with nothing to join', 'Grafana\u200d', 'an invisible character (U+200D)'],
      ['a line separator (U+2028)', 'Grafana\u2028(unverified)', 'a line or paragraph separator (U+2028)'],
    ])('refuses a client_name with %s, and stores nothing', async (_name, clientName, what) => {
      const before = await clientRows();
      const res = await register({ client_name: clientName });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_client_metadata', error_description: `client_name contains ${what}` });
      expect(await clientRows()).toEqual(before);
    });

    it.each([
      ['the portal’s own host', () => `Grafana (${portalHost})`],
      ['another host, without the port', () => 'Grafana (grafana.example.com)'],
      ['the unverified mark', () => 'Backstage CLI (unverified)'],
      ['fullwidth parentheses', () => 'Backstage CLI （unverified）'],
      ['square brackets', () => `Backstage CLI [${portalHost}]`],
      ['a Cyrillic look-alike letter', () => 'Backstage CLI ❨unv\u0435rified❩'],
      ['an unclosed bracket before the portal’s own', () => `Grafana (${portalHost}`],
    ])('refuses a client_name that imitates the part the portal adds: %s', async (_name, makeName) => {
      const before = await clientRows();
      const clientName = makeName();
      const res = await register({ client_name: clientName });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_client_metadata');
      expect(res.body.error_description).toMatch(/^client_name must not contain '.+': the portal adds/);
      expect(await clientRows()).toEqual(before);
    });

    it.each([
      ['redirect_uris', { redirect_uris: ['http://127.0.0.1/callback\u202e'] }, 'invalid_redirect_uri'],
      ['logo_uri', { logo_uri: 'https://tool.example.com/\u200blogo.png' }, 'invalid_client_metadata'],
      ['client_uri', { client_uri: 'https://tool.example.com/\u2066' }, 'invalid_client_metadata'],
    ])('refuses %s carrying a character that hides or reorders text', async (field, body, error) => {
      const before = await clientRows();
      const res = await register(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe(error);
      expect(res.body.error_description).toMatch(new RegExp(`^${field} contains `));
      expect(await clientRows()).toEqual(before);
    });

    it.each([
      ['accents and emoji', 'Café ☕ 😀'],
      ['a Persian name with its zero-width non-joiner', 'می\u200cخواهم'],
      ['an emoji sequence joined by zero-width joiners', 'Dev \u{1f469}\u200d\u{1f4bb} \u2764\ufe0f\u200d\u{1f525}'],
      ['a bracketed note that names no host', 'Grafana (staging)'],
      ['a version number in brackets', 'Tool (v1.2.3)'],
    ])('keeps %s exactly as registered', async (_name, clientName) => {
      const res = await register({ client_name: clientName });
      expect(res.status).toBe(201);
      expect(res.body.client_name).toBe(clientName);
      const row = await knex('oidc_clients').where({ client_id: res.body.client_id }).first();
      expect(row.client_name).toBe(clientName);
      expect((await consentApiFor(res.body.client_id)).clientName).toBe(`${clientName} (unverified)`);
    });
  });

  describe('the consent API', () => {
    it('never shows control, bidi or invisible characters from a metadata document’s name', async () => {
      const controls = await consentApiFor(publish('/controls.json', CONTROLS));
      expect(controls.clientName).toBe(`Grafana Dashboards (${documents.host})`);
      const reversing = await consentApiFor(publish('/reversing.json', REVERSING));
      expect(reversing.clientName).toBe(`Grafana (${documents.host})`);
    });

    it('never lets a metadata document’s name pass for the part the portal adds', async () => {
      for (const [path, name] of [
        ['/own-host.json', `Backstage CLI (${portalHost})`],
        ['/fullwidth.json', `Backstage CLI （${portalHost.replace('.', '．')}）`],
        ['/hidden-host.json', `Backstage CLI\u202e (${portalHost})`],
        ['/superscript.json', 'Backstage CLI ⁽unverified⁾'],
      ]) {
        const { clientName } = await consentApiFor(publish(path, name));
        // The name is not shown at all; the host that published it is.
        expect(clientName).toBe(documents.host);
        expect(clientName).not.toContain(portalHost);
      }
    });

    it('shows a name stored before these rules (by upstream’s registration) clean', async () => {
      const { clientName } = await consentApiFor('upstream-dcr-client');
      expect(clientName).toBe('Grafana (unverified)');
    });
  });

  describe('the built-in pages in Chromium', () => {
    it('show a metadata document’s name clean and in reading order on the consent page', async () => {
      const page = await context.newPage();
      const sessionId = await sessionFor(publish('/controls-page.json', CONTROLS));
      await page.goto(`${backend.issuer}/v1/consent/${sessionId}`);
      await page.getByRole('button', { name: 'Approve' }).waitFor();
      const text = await page.locator('main').innerText();
      expect(text).not.toMatch(HIDDEN);
      expect(text).toContain('Authorize Grafana Dashboards?');
      const label = page.locator('p', { hasText: 'wants to sign you in' }).locator('strong');
      expect(await label.innerText()).toBe(`Grafana Dashboards (${documents.host})`);
      await expectReadsInOrder(label);
      await expectReadsInOrder(page.locator('h1'));
      await page.close();
    });

    it('show the portal’s part after a name in the order it was written', async () => {
      const page = await context.newPage();
      await page.goto(`${backend.issuer}/v1/consent/${await sessionFor('upstream-dcr-client')}`);
      await page.getByRole('button', { name: 'Approve' }).waitFor();
      const label = page.locator('p', { hasText: 'wants to sign you in' }).locator('strong');
      expect(await label.innerText()).toBe('Grafana (unverified)');
      await expectReadsInOrder(label);
      expect(await page.locator('main').innerText()).not.toMatch(HIDDEN);
      await page.close();
    });

    it('show the requesting device’s user agent without controls or reordering', async () => {
      // A header is bytes: these are the UTF-8 of a right-to-left override,
      // NEL (a C1 control) and a zero-width space. fetch sends each character
      // of this Latin-1 string as one byte (supertest would re-encode them).
      const userAgent = Buffer.from('Tool/1.0\u202e (Linux)\u0085\u200b', 'utf8').toString('latin1');
      const started = await fetch(`${backend.issuer}/v1/device_authorization`, {
        method: 'POST',
        headers: { 'user-agent': userAgent },
        body: new URLSearchParams({ client_id: deviceCli.clientId, scope: 'openid' }),
      });
      expect(started.status).toBe(200);
      const page = await context.newPage();
      await openConfirmPage(page, await started.json());
      const software = page.locator('dt:text-is("Device software") + dd');
      expect(await software.innerText()).toBe('Tool/1.0 (Linux)');
      await expectReadsInOrder(software);
      expect(await page.locator('main').innerText()).not.toMatch(HIDDEN);
      await page.getByRole('button', { name: 'Deny' }).click();
      await page.waitForURL(/\/v1\/device\/done\?result=denied/);
      await page.close();
    });
  });

  describe('the authorization error page', () => {
    it('shows no hidden characters from the request it refuses', async () => {
      const registered = await register({ client_name: 'Plain tool' });
      const res = await request(backend.server)
        .get('/api/auth/v1/authorize')
        .set('Accept', 'text/html')
        .query({
          response_type: 'code',
          client_id: registered.body.client_id,
          redirect_uri: CALLBACK,
          response_mode: 'fragment\u202e\u200b moc.elpmaxe-latrop ta ni ngis',
          code_challenge: pkcePair().challenge,
          code_challenge_method: 'S256',
        });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain("response_mode &#39;fragment moc.elpmaxe-latrop ta ni ngis&#39; is not supported");
      expect(res.text).not.toMatch(HIDDEN);
    });
  });
});
