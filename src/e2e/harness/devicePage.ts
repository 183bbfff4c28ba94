import type { JsonObject } from '@backstage/types';
import type * as oidc from 'openid-client';
import type { Page, Response } from 'playwright-core';
import request from 'supertest';
import type { AuthBackend } from './startAuthBackend';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A public CLI client that may use the device grant. */
export const deviceCli = {
  clientId: 'device-cli',
  clientName: 'Example CLI',
  public: true,
  redirectUris: ['http://127.0.0.1/callback'],
  grantTypes: [DEVICE_GRANT],
};

/**
 * app-config for the device suites: the device grant for `device-cli`
 * (`unlisted-cli` is registered but not allowed), default rate limits unless
 * `rateLimits` is given, and, with `lookalikeClientId`, loopback client-ID
 * metadata documents with that client allowed the grant too.
 */
export function deviceConfig(options: { lookalikeClientId?: string; rateLimits?: JsonObject } = {}): JsonObject {
  const { lookalikeClientId, rateLimits } = options;
  return {
    auth: {
      ...(lookalikeClientId
        ? { clientIdMetadataDocuments: { enabled: true, allowedClientIdPatterns: ['http://127.0.0.1:*/**'] } }
        : {}),
      oidcProvider: {
        ...(lookalikeClientId ? { dangerouslyAllowInsecureClientIdMetadataDocuments: true } : {}),
        signInProvider: 'guest',
        deviceAuthorization: {
          enabled: true,
          interval: { seconds: 1 },
          allowedClientIds: ['device-cli', ...(lookalikeClientId ? [lookalikeClientId] : [])],
        },
        ...(rateLimits ? { rateLimits } : {}),
        clients: [deviceCli, { ...deviceCli, clientId: 'unlisted-cli', clientName: 'Unlisted CLI' }],
      },
    },
  };
}

/** Polls the token endpoint once for `deviceCode`, as the device would. */
export function pollDevice(backend: AuthBackend, deviceCode: string, clientId = 'device-cli') {
  return request(backend.server)
    .post('/api/auth/v1/token')
    .type('form')
    .send({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId });
}

/** Every URL the page requests, in order (navigations, scripts' fetches, redirects). */
export function requestedUrls(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', r => urls.push(r.url()));
  return urls;
}

/** Request URLs reach logs: none may hold the user code, in any spelling. */
export function expectNoUserCodeIn(urls: string[], userCode: string): void {
  const bare = userCode.replace('-', '');
  const leaked = urls.filter(url => {
    const upper = decodeURIComponent(url).toUpperCase();
    return upper.includes(bare) || upper.includes(userCode);
  });
  expect(leaked).toEqual([]);
}

/** Waits until the entry form holds `code` (its script fills it in). */
export async function codeEntered(page: Page, code: string): Promise<void> {
  await page.waitForFunction(
    expected => (document.getElementById('user-code-input') as HTMLInputElement | null)?.value === expected,
    code,
  );
}

/** Opens verification_uri_complete as the signed-in user, confirms the prefilled code. */
export async function openConfirmPage(page: Page, started: oidc.DeviceAuthorizationResponse): Promise<void> {
  await page.goto(started.verification_uri_complete!);
  await codeEntered(page, started.user_code);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#user-code').waitFor();
}

/** Types a code into the entry form and submits it; returns the answer. */
export async function submitCode(page: Page, code: string): Promise<Response> {
  await page.locator('#user-code-input').fill(code);
  const [response] = await Promise.all([
    page.waitForResponse(r => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/auth/v1/device'),
    page.getByRole('button', { name: 'Continue' }).click(),
  ]);
  await page.waitForLoadState();
  return response;
}
