import * as oidc from 'openid-client';
import type { Knex } from 'knex';
import request from 'supertest';
import { sha256 } from '../oauth/crypto/sha256';
import { applyDatabaseMigrations } from '../database/migrations';
import { createTestDatabases } from '../testUtils/databases';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';
import { recordingAuditor } from './fixtures/recordingAuditor';

jest.setTimeout(60_000);

const databases = createTestDatabases();

const STATIC_SECRET = 'p@ss:w+rd %/é';

/** RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding. */
function basic(clientId: string, secret: string): string {
  const form = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${form(clientId)}:${form(secret)}`).toString('base64')}`;
}

describe.each(databases.eachSupportedId())('client registration on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  const auditor = recordingAuditor();

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    // What an earlier version left: a copy of a config client with an
    // unsalted SHA-256 of its secret. Starting up must delete it.
    await applyDatabaseMigrations(knex);
    await knex('oidc_clients').insert({
      client_id: 'grafana',
      client_secret: sha256(STATIC_SECRET),
      client_name: 'Grafana',
      response_types: '["code"]',
      grant_types: '["authorization_code"]',
      redirect_uris: '["https://grafana.example.com/login/generic_oauth"]',
      scope: null,
      metadata: JSON.stringify({ kind: 'static', tokenEndpointAuthMethod: 'client_secret_basic', registration: {} }),
    });
    backend = await startAuthBackend({
      knex,
      features: [auditor.factory],
      config: {
        auth: {
          experimentalDynamicClientRegistration: {
            enabled: true,
            allowedRedirectUriPatterns: [
              'http://127.0.0.1:*/callback',
              'https://*.example.com/**',
              'com.example.tool:/oauth/*/callback',
            ],
          },
          oidcProvider: {
            // Every test here registers; the default budget (20 an hour) is tested elsewhere.
            rateLimits: { registration: { requests: 1000 } },
            clients: [
              {
                clientId: 'grafana',
                clientName: 'Grafana',
                clientSecret: STATIC_SECRET,
                redirectUris: ['https://grafana.example.com/login/generic_oauth'],
              },
              { clientId: 'tool', public: true, redirectUris: ['http://127.0.0.1/callback'] },
            ],
          },
        },
      },
    });
  });
  afterAll(() => backend?.stop());

  const register = (body: unknown) =>
    request(backend.server).post('/api/auth/v1/register').send(body as object);
  const clientRows = () => knex('oidc_clients').select('*');

  /** A token request that gets past client authentication fails on the bogus code. */
  const tokenRequest = () =>
    request(backend.server)
      .post('/api/auth/v1/token')
      .type('form');
  const bogusCode = {
    grant_type: 'authorization_code',
    code: 'not-a-code',
    redirect_uri: 'http://127.0.0.1:5000/callback',
    code_verifier: 'v'.repeat(43),
  };

  it('registers a public client and echoes its metadata', async () => {
    const res = await register({
      redirect_uris: ['http://127.0.0.1:5000/callback'],
      token_endpoint_auth_method: 'none',
      client_name: 'My MCP client',
      grant_types: ['authorization_code'],
      scope: 'openid profile',
      client_uri: 'https://tool.example.com/',
      unknown_field: 'ignored',
    });
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      client_id: expect.any(String),
      client_id_issued_at: expect.any(Number),
      redirect_uris: ['http://127.0.0.1:5000/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      client_name: 'My MCP client',
      scope: 'openid profile',
      client_uri: 'https://tool.example.com/',
    });
    expect(Math.abs(res.body.client_id_issued_at - Date.now() / 1000)).toBeLessThan(60);
    const row = await knex('oidc_clients').where({ client_id: res.body.client_id }).first();
    expect(row.client_secret).toBe('');
    expect(row.client_name).toBe('My MCP client');
    expect(auditor.createEvent).toHaveBeenCalledWith({
      eventId: 'client-registered',
      severityLevel: 'medium',
      meta: {
        clientId: res.body.client_id,
        tokenEndpointAuthMethod: 'none',
        redirectUris: 'http://127.0.0.1:5000/callback',
      },
    });
  });

  it('registers a confidential client, shows its secret once and stores only the hash', async () => {
    const res = await register({
      redirect_uris: ['http://127.0.0.1:5000/callback'],
      client_name: 'Confidential',
    });
    expect(res.status).toBe(201);
    // RFC 7591 §2: client_secret_basic is the default method.
    expect(res.body.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(res.body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.body.client_secret_expires_at).toBe(0);

    const { client_id: clientId, client_secret: secret } = res.body;
    const row = await knex('oidc_clients').where({ client_id: clientId }).first();
    expect(row.client_secret).toBe(sha256(secret));
    expect(JSON.stringify(await clientRows())).not.toContain(secret);
    expect(JSON.stringify(auditor.createEvent.mock.calls)).not.toContain(secret);

    // The secret authenticates (the bogus code then fails), a wrong one does not.
    const ok = await tokenRequest().set('Authorization', basic(clientId, secret)).send(bogusCode);
    expect(ok.status).toBe(400);
    expect(ok.body.error).toBe('invalid_grant');
    const post = await tokenRequest().send({ ...bogusCode, client_id: clientId, client_secret: secret });
    expect(post.body.error).toBe('invalid_grant');
    const wrong = await tokenRequest().set('Authorization', basic(clientId, 'nope')).send(bogusCode);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic /);
    const missing = await tokenRequest().send({ ...bogusCode, client_id: clientId });
    expect(missing.status).toBe(401);
    expect(missing.body.error).toBe('invalid_client');
    const both = await tokenRequest()
      .set('Authorization', basic(clientId, secret))
      .send({ ...bogusCode, client_secret: secret });
    expect(both.status).toBe(400);
    expect(both.body.error).toBe('invalid_request');
  });

  it('is usable by openid-client dynamic registration', async () => {
    const config = await oidc.dynamicClientRegistration(
      new URL(backend.issuer),
      {
        redirect_uris: ['https://app.example.com/cb'],
        token_endpoint_auth_method: 'client_secret_post',
        client_name: 'openid-client',
      },
      undefined,
      { execute: [oidc.allowInsecureRequests] },
    );
    const metadata = config.clientMetadata();
    expect(metadata.client_id).toEqual(expect.any(String));
    expect(metadata.client_secret).toEqual(expect.any(String));
    expect(metadata.token_endpoint_auth_method).toBe('client_secret_post');
  });

  it.each([
    ['no redirect URIs', { redirect_uris: undefined }, 'invalid_redirect_uri'],
    ['an empty redirect URI list', { redirect_uris: [] }, 'invalid_redirect_uri'],
    ['a redirect URI outside the allow-list', { redirect_uris: ['https://evil.test/callback'] }, 'invalid_redirect_uri'],
    ['a host smuggled into the path', { redirect_uris: ['https://evil.test/.example.com/cb'] }, 'invalid_redirect_uri'],
    ['a redirect URI with a fragment', { redirect_uris: ['https://a.example.com/cb#x'] }, 'invalid_redirect_uri'],
    ['a relative redirect URI', { redirect_uris: ['/callback'] }, 'invalid_redirect_uri'],
    ['redirect_uris not an array', { redirect_uris: 'http://127.0.0.1/callback' }, 'invalid_redirect_uri'],
    ['an unsupported auth method', { token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
    ['an unsupported grant type', { grant_types: ['client_credentials'] }, 'invalid_client_metadata'],
    ['refresh tokens while they are disabled', { grant_types: ['authorization_code', 'refresh_token'] }, 'invalid_client_metadata'],
    ['an implicit response type', { response_types: ['token'] }, 'invalid_client_metadata'],
    ['an unknown scope', { scope: 'openid admin' }, 'invalid_client_metadata'],
    ['a non-string client name', { client_name: 42 }, 'invalid_client_metadata'],
    ['an overlong client name', { client_name: 'x'.repeat(256) }, 'invalid_client_metadata'],
    // eslint-disable-next-line no-script-url -- the hostile input under test
    ['a javascript: logo', { logo_uri: 'javascript:alert(1)' }, 'invalid_client_metadata'],
  ])('refuses %s and stores nothing', async (_name, overrides, error) => {
    const before = await clientRows();
    const res = await register({
      redirect_uris: ['http://127.0.0.1:5000/callback'],
      ...overrides,
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
    expect(res.body.error_description).toEqual(expect.any(String));
    expect(await clientRows()).toEqual(before);
  });

  it('refuses malformed bodies with a 4xx JSON error, never a 500', async () => {
    const before = await clientRows();
    const notJson = await request(backend.server)
      .post('/api/auth/v1/register')
      .set('Content-Type', 'application/json')
      .send('{"redirect_uris": [');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toBe('invalid_client_metadata');
    const array = await register([{ redirect_uris: ['http://127.0.0.1/callback'] }]);
    expect(array.status).toBe(400);
    expect(array.body.error).toBe('invalid_client_metadata');
    const form = await request(backend.server)
      .post('/api/auth/v1/register')
      .type('form')
      .send({ redirect_uris: 'http://127.0.0.1/callback' });
    expect(form.status).toBe(400);
    expect(form.body.error).toBe('invalid_client_metadata');
    const huge = await register({ redirect_uris: ['http://127.0.0.1/callback'], pad: 'x'.repeat(70_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe('invalid_request');
    expect(await clientRows()).toEqual(before);
  });

  describe('pre-registered clients', () => {
    it('authenticate with their configured secret, form-encoded in Basic', async () => {
      const ok = await tokenRequest().set('Authorization', basic('grafana', STATIC_SECRET)).send(bogusCode);
      expect(ok.status).toBe(400);
      expect(ok.body.error).toBe('invalid_grant');
      const post = await tokenRequest().send({
        ...bogusCode,
        client_id: 'grafana',
        client_secret: STATIC_SECRET,
      });
      expect(post.body.error).toBe('invalid_grant');
      const wrong = await tokenRequest()
        .set('Authorization', basic('grafana', `${STATIC_SECRET}x`))
        .send(bogusCode);
      expect(wrong.status).toBe(401);
      expect(wrong.body.error).toBe('invalid_client');
      const unknown = await tokenRequest().set('Authorization', basic('nobody', 'x')).send(bogusCode);
      expect(unknown.status).toBe(401);
      expect(unknown.body.error).toBe('invalid_client');
    });

    it('refuse malformed or contradictory client credentials', async () => {
      for (const header of ['Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`]) {
        const res = await tokenRequest().set('Authorization', header).send(bogusCode);
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_client');
      }
      const mismatch = await tokenRequest()
        .set('Authorization', basic('grafana', STATIC_SECRET))
        .send({ ...bogusCode, client_id: 'tool' });
      expect(mismatch.status).toBe(400);
      expect(mismatch.body.error).toBe('invalid_request');
    });

    it('never have their secret, or a fast hash of it, in the database', async () => {
      expect(await knex('oidc_clients').where({ client_id: 'grafana' }).first()).toBeUndefined();
      const everything = JSON.stringify(
        await Promise.all(
          ['oidc_clients', 'oauth_authorization_sessions', 'oidc_refresh_tokens', 'user_info'].map(t =>
            knex(t).select('*'),
          ),
        ),
      );
      expect(everything).not.toContain(STATIC_SECRET);
      expect(everything).not.toContain(sha256(STATIC_SECRET));
    });

    it('identify a public client by client_id alone and refuse a secret from it', async () => {
      const ok = await tokenRequest().send({ ...bogusCode, client_id: 'tool' });
      expect(ok.body.error).toBe('invalid_grant');
      const withSecret = await tokenRequest().send({ ...bogusCode, client_id: 'tool', client_secret: 'x' });
      expect(withSecret.status).toBe(401);
      expect(withSecret.body.error).toBe('invalid_client');
    });
  });
});
