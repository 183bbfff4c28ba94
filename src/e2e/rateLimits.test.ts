import type { JsonObject } from '@backstage/types';
import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { CONFIDENTIAL, codeFlowConfig } from './fixtures/codeFlowClients';
import { guestUser } from './fixtures/guestUser';
import { CodeFlow } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';
import { recordingAuditor } from './fixtures/recordingAuditor';

jest.setTimeout(120_000);
const databases = createTestDatabases();

// Budgets are kept in memory, not in the database, so one database suffices.
describe('rate limits in a running backend', () => {
  let backend: AuthBackend;
  let knex: Knex;
  const auditor = recordingAuditor();

  beforeAll(async () => {
    const auth = codeFlowConfig().auth as JsonObject;
    knex = await databases.init('SQLITE_3');
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      features: [auditor.factory],
      config: {
        auth: {
          ...auth,
          experimentalDynamicClientRegistration: { enabled: true },
          oidcProvider: {
            ...(auth.oidcProvider as JsonObject),
            deviceAuthorization: { enabled: true },
            rateLimits: {
              token: { requests: 3, window: '1m' },
              registration: { requests: 1, window: { minutes: 10 } },
              verification: { requests: 2, window: '1m' },
            },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await backend?.stop();
  });

  const rateLimitedEvents = () =>
    auditor.createEvent.mock.calls.map(([e]) => e).filter(e => e.eventId === 'rate-limited');

  it('answers the token request over budget with 429 too_many_requests and Retry-After', async () => {
    const flow = new CodeFlow(backend, CONFIDENTIAL);
    for (let i = 0; i < 3; i++) {
      const res = await flow.token({ grant_type: 'refresh_token', refresh_token: `bogus-${i}` });
      expect(res.status).toBe(400);
    }
    const res = await flow.token({ grant_type: 'refresh_token', refresh_token: 'bogus-4' });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      error: 'too_many_requests',
      error_description: expect.stringContaining('too many token requests'),
    });
    expect(rateLimitedEvents()).toContainEqual(
      expect.objectContaining({
        eventId: 'rate-limited',
        severityLevel: 'medium',
        meta: expect.objectContaining({ endpoint: 'token', scope: 'address' }),
      }),
    );
    // No secret of any kind reaches the audit event.
    expect(JSON.stringify(rateLimitedEvents())).not.toContain(CONFIDENTIAL.clientSecret);
  });

  it('limits dynamic client registration and leaves no row behind for refused requests', async () => {
    const register = () =>
      request(backend.server)
        .post('/api/auth/v1/register')
        .send({ client_name: 'x', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' });
    expect((await register()).status).toBe(201);
    const clients = await knex('oidc_clients').select();
    const refused = await register();
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe('too_many_requests');
    expect(await knex('oidc_clients').select()).toEqual(clients);
  });

  it('counts only wrong codes on the device page, answering over budget with an HTML 429 page', async () => {
    const { token } = await backend.signInAsGuest();
    const csrf = 'c'.repeat(43);
    const cookies = [`oidc-pages-user=${token}`, `oidc-pages-csrf=${csrf}`];
    // Page views, signed in or not, are not counted.
    for (let i = 0; i < 10; i++) {
      expect((await request(backend.server).get('/api/auth/v1/device')).status).toBe(200);
      expect((await request(backend.server).get('/api/auth/v1/device').set('Cookie', cookies)).status).toBe(200);
    }
    const enter = (userCode: string) =>
      request(backend.server)
        .post('/api/auth/v1/device')
        .set('Cookie', cookies)
        .type('form')
        .send({ csrf, user_code: userCode });
    expect((await enter('BBBB-BBBB')).status).toBe(400);
    expect((await enter('BBBB-BBBC')).status).toBe(400);
    const res = await enter('BBBB-BBBD');
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('href="/api/auth/v1/device"');
    expect(rateLimitedEvents()).toContainEqual(
      expect.objectContaining({ meta: expect.objectContaining({ endpoint: 'verification', scope: 'user' }) }),
    );
  });
});
