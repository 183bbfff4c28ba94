import { mockServices } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import type { Knex } from 'knex';
import type * as oidc from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import { sha256 } from '../oauth/crypto/sha256';
import { createTestDatabases } from '../testUtils/databases';
import { recordingAuditor } from './fixtures/recordingAuditor';
import { requestFrom } from './fixtures/requestFrom';
import { launchChromium } from './harness/browser';
import { deviceConfig, openConfirmPage } from './harness/devicePage';
import { snapshotTables } from './harness/snapshotTables';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

// Issue 25 item 6: forwarded addresses are data, not trust. Behind
// `backend.trustProxy: true` Express takes the first X-Forwarded-For entry as
// `req.ip` whatever it says, so a requester chose the address that was stored
// (a 500 on PostgreSQL and MySQL past 64 characters), shown on the device page
// and charged by every per-address limit. Only an IP address is used now;
// anything else counts as the address the connection came from.

jest.setTimeout(120_000);
const databases = createTestDatabases();

/** device_authorization budget per address: the fourth request in a minute is refused. */
const BUDGET = 3;

/** Header values are Latin-1 on the wire: this sends `text`'s UTF-8 bytes as they are. */
const utf8Bytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

const JUNK: Array<{ name: string; forwardedFor: string; shown: string }> = [
  { name: 'a 100-character value', forwardedFor: `not-an-address-${'x'.repeat(85)}`, shown: 'x'.repeat(85) },
  { name: 'markup', forwardedFor: '<script>alert(1)</script>', shown: 'alert(1)' },
  // U+202E turns the rest around on screen: 4.3.2.1 would read as 1.2.3.4.
  // Node reads header bytes as Latin-1, so it arrives as three characters.
  { name: 'a bidi override before an address', forwardedFor: utf8Bytes('\u202e4.3.2.1'), shown: '4.3.2.1' },
  { name: 'an address with a zone of markup', forwardedFor: 'fe80::1%<b>', shown: '<b>' },
];

describe.each(databases.eachSupportedId())('forwarded addresses on %s (issue 25 item 6)', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let browser: Browser;
  let context: BrowserContext;
  const logger = mockServices.logger.mock();
  const auditor = recordingAuditor();

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    const config = deviceConfig({ rateLimits: { deviceAuthorization: { requests: BUDGET, window: '1m' } } });
    backend = await startAuthBackend({
      knex,
      productionHttpRouter: true,
      features: [logger.factory, auditor.factory],
      config: { ...config, backend: { trustProxy: true } } as JsonObject,
    });
    browser = await launchChromium();
    context = await browser.newContext();
  });
  afterAll(async () => {
    await browser?.close();
    await backend?.stop();
  });

  /** A device authorization request from the loopback address `from`, through a "proxy" that forwards `forwardedFor`. */
  const startDevice = (from: string, forwardedFor?: string) =>
    requestFrom(from, `${backend.issuer}/v1/device_authorization`, {
      form: { client_id: 'device-cli', scope: 'openid' },
      headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
    });

  const storedAddress = async (deviceCode: string) =>
    (await knex('oidc_device_codes').where({ device_code_hash: sha256(deviceCode) }).first()).request_ip;

  /** What the person deciding reads on the confirmation page. */
  async function requestedFrom(started: oidc.DeviceAuthorizationResponse): Promise<{ line: string; page: string }> {
    const page = await context.newPage();
    await openConfirmPage(page, started);
    const line = await page.locator('dt:text-is("Requested from") + dd').innerText();
    const text = await page.locator('body').innerText();
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(/\/v1\/device\/done\?result=denied/);
    await page.close();
    return { line, page: text };
  }

  it('warns once at startup that trustProxy: true lets clients choose their address', () => {
    const warnings = logger.warn.mock.calls.filter(([message]) => String(message).includes('backend.trustProxy'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0][0]).toMatch(/any client can claim any address/);
    expect(warnings[0][0]).toMatch(/number of proxies/);
  });

  it.each(JUNK.map((junk, i) => ({ ...junk, from: `127.0.0.${11 + i}` })))(
    'takes $name in X-Forwarded-For for no address: stored and shown is where the request came from',
    async ({ forwardedFor, shown, from }) => {
      const res = await startDevice(from, forwardedFor);
      expect(res.status).toBe(200);
      expect(await storedAddress(res.body.device_code)).toBe(from);
      const everything = JSON.stringify(await snapshotTables(knex));
      expect(everything).not.toContain(forwardedFor);
      expect(everything).not.toContain(shown);
      const { line, page } = await requestedFrom(res.body);
      expect(line).toBe(from);
      expect(page).not.toContain(shown);
    },
  );

  it('charges requests with junk in X-Forwarded-For to the address they came from, however it varies', async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= BUDGET; i++) {
      statuses.push((await startDevice('127.0.0.21', `junk-${i}`)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    // The audit log names the address that was charged, never the junk.
    const limited = auditor.createEvent.mock.calls.map(([event]) => event).filter(e => e.eventId === 'rate-limited');
    expect(limited).toContainEqual(expect.objectContaining({ meta: expect.objectContaining({ address: '127.0.0.21' }) }));
    expect(JSON.stringify(limited)).not.toContain('junk-');
  });

  it('still charges each address a trusted proxy forwards to that address', async () => {
    const proxy = '127.0.0.31';
    const statuses: number[] = [];
    for (let i = 0; i <= BUDGET; i++) {
      statuses.push((await startDevice(proxy, '203.0.113.5')).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    // Another client behind the same proxy has its own budget, and its own address on the page.
    const other = await startDevice(proxy, '203.0.113.6, 10.0.0.1');
    expect(other.status).toBe(200);
    expect(await storedAddress(other.body.device_code)).toBe('203.0.113.6');
    expect((await requestedFrom(other.body)).line).toBe('203.0.113.6');
    const mapped = await startDevice(proxy, '::ffff:203.0.113.7');
    expect(await storedAddress(mapped.body.device_code)).toBe('203.0.113.7');
  });
});
