import githubProviderModule from '@backstage/plugin-auth-backend-module-github-provider';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { limitedTokenFrom, tamperedPayload } from './fixtures/limitedTokenFrom';
import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import {
  duplicateGuestProviderModule,
  ownershipResolverModule,
} from './harness/duplicateRegistrationModules';
import { probeProviderModule } from './harness/probeProviderModule';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(60_000);

const databases = createTestDatabases();


describe.each(databases.eachSupportedId())('sign-in through the portal on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      features: [githubProviderModule, probeProviderModule],
      config: {
        auth: {
          session: { secret: 'test-session-secret' },
          experimentalExtraAllowedOrigins: ['https://*.portal.example'],
          providers: {
            github: { development: { clientId: 'gh-client', clientSecret: 'gh-secret' } },
            probe: {},
          },
        },
      },
    });
  });
  afterAll(async () => {
    await backend?.stop();
  });

  async function jwks() {
    const res = await request(backend.server).get('/api/auth/.well-known/jwks.json');
    return createLocalJWKSet(res.body);
  }

  it('signs in as guest and another plugin accepts the token', async () => {
    const { token, body } = await backend.signInAsGuest();
    expect(body.backstageIdentity.identity).toEqual({
      type: 'user',
      userEntityRef: 'user:development/guest',
      ownershipEntityRefs: ['user:development/guest'],
    });

    const me = await request(backend.server).get('/api/whoami/me').auth(token, { type: 'bearer' });
    expect(me.status).toBe(200);
    // ent is not in the token by default, so the framework fetched it from /v1/userinfo.
    expect(me.body).toEqual({
      userEntityRef: 'user:development/guest',
      ownershipEntityRefs: ['user:development/guest'],
    });
  });

  it('issues a token with the Backstage header, claims and a uip that rebuilds a limited token', async () => {
    const { token } = await backend.signInAsGuest();
    expect(decodeProtectedHeader(token)).toEqual({
      typ: 'vnd.backstage.user',
      alg: 'ES256',
      kid: expect.any(String),
    });
    const { payload } = await jwtVerify(token, await jwks(), {
      issuer: backend.issuer,
      audience: 'backstage',
    });
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'sub', 'uip']);
    expect(payload.exp! - payload.iat!).toBe(3600);

    const limited = limitedTokenFrom(token);
    const verified = await jwtVerify(limited, await jwks(), { typ: 'vnd.backstage.limited-user' });
    expect(verified.payload).toEqual({ sub: 'user:development/guest', iat: payload.iat, exp: payload.exp });

    const me = await request(backend.server).get('/api/whoami/me').auth(limited, { type: 'bearer' });
    expect(me.status).toBe(401);
  });

  it('serves the saved claims at /v1/userinfo for full and limited tokens', async () => {
    const { token } = await backend.signInAsGuest();
    for (const bearer of [token, limitedTokenFrom(token)]) {
      const res = await request(backend.server).get('/api/auth/v1/userinfo').auth(bearer, { type: 'bearer' });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        sub: 'user:development/guest',
        claims: { sub: 'user:development/guest', ent: ['user:development/guest'] },
      });
    }
  });

  it('puts standard claims at the top level of userinfo and all claims under claims', async () => {
    const signIn = await request(backend.server).post('/api/auth/probe/refresh');
    expect(signIn.status).toBe(200);
    const res = await request(backend.server)
      .get('/api/auth/v1/userinfo')
      .auth(signIn.body.token, { type: 'bearer' });
    expect(res.body).toEqual({
      sub: 'user:default/probe',
      name: 'Pro Be',
      email: 'probe@example.com',
      claims: {
        sub: 'user:default/probe',
        ent: ['user:default/probe'],
        name: 'Pro Be',
        email: 'probe@example.com',
        team: 'blue',
      },
    });
  });

  it('refuses userinfo without a token or with a tampered one as RFC 6750 invalid_token', async () => {
    const missing = await request(backend.server).get('/api/auth/v1/userinfo');
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe(
      'Bearer error="invalid_token", error_description="an access token is required"',
    );
    expect(missing.body).toEqual({ error: 'invalid_token', error_description: 'an access token is required' });

    const { token } = await backend.signInAsGuest();
    const tampered = tamperedPayload(token, claims => ({ ...claims, sub: 'user:default/admin' }));
    const res = await request(backend.server).get('/api/auth/v1/userinfo').auth(tampered, { type: 'bearer' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect(res.body.error).toBe('invalid_token');
    expect(res.headers['cache-control']).toBe('no-store');
    const me = await request(backend.server).get('/api/whoami/me').auth(tampered, { type: 'bearer' });
    expect(me.status).toBe(401);
  });

  it('serves a non-empty, cacheable JWKS', async () => {
    const res = await request(backend.server).get('/api/auth/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toMatch(/max-age=\d+/);
    expect(res.body.keys.length).toBeGreaterThan(0);
    // The configured algorithm's key, and the RS256 key for clients that ask for RS256 ID tokens.
    const byAlg = new Map(res.body.keys.map((key: { alg: string }) => [key.alg, key]));
    expect(byAlg.get('ES256')).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', kid: expect.any(String) });
    expect(byAlg.get('RS256')).toMatchObject({ kty: 'RSA', use: 'sig', kid: expect.any(String) });
    for (const key of res.body.keys) {
      expect(key.alg === 'ES256' || key.alg === 'RS256').toBe(true);
      expect(key.d).toBeUndefined();
    }
    const again = await request(backend.server)
      .get('/api/auth/.well-known/jwks.json')
      .set('If-None-Match', res.headers.etag);
    expect(again.status).toBe(304);
  });

  it('keeps only public keys in signing_keys', async () => {
    const rows = await knex('signing_keys').select('key');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(JSON.parse(row.key).d).toBeUndefined();
  });

  it('redirects GitHub /start to github.com with a state and a nonce cookie', async () => {
    const res = await request(backend.server).get('/api/auth/github/start?env=development');
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location);
    expect(location.origin + location.pathname).toBe('https://github.com/login/oauth/authorize');
    expect(location.searchParams.get('client_id')).toBe('gh-client');
    expect(location.searchParams.get('state')).toBeTruthy();
    const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    expect(cookies.some(c => c.startsWith('github-nonce='))).toBe(true);
  });

  it('lets sign-in start only from the app origin and the extra allowed origins', async () => {
    const start = (origin: string) =>
      request(backend.server).get('/api/auth/github/start').query({ env: 'development', origin });
    expect((await start('http://localhost:3000')).status).toBe(302);
    expect((await start('https://team.portal.example')).status).toBe(302);
    const refused = await start('https://evil.example');
    expect(refused.status).toBe(403);
    expect(refused.body.error).toEqual({
      name: 'NotAllowedError',
      message: "Origin 'https://evil.example' is not allowed",
    });
  });

  it('keeps provider state in a sessions row when auth.session.secret is set', async () => {
    const before = await knex('sessions').count({ n: '*' });
    const start = await request(backend.server).get('/api/auth/probe/start');
    expect(start.status).toBe(302);
    const cookie = ([] as string[]).concat(start.headers['set-cookie'] ?? []).find(c => c.startsWith('connect.sid='));
    expect(cookie).toBeDefined();
    const after = await knex('sessions').count({ n: '*' });
    expect(Number(after[0].n)).toBe(Number(before[0].n) + 1);

    const frame = await request(backend.server)
      .get('/api/auth/probe/handler/frame')
      .set('Cookie', cookie!.split(';')[0]);
    expect(frame.body).toEqual({ probe: 'stored-at-start' });
  });

  it('answers an unknown provider with a Backstage 404', async () => {
    const res = await request(backend.server).get('/api/auth/no-such-provider/start');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({
      error: { name: 'NotFoundError', message: "Unknown auth provider 'no-such-provider'" },
      request: { method: 'GET' },
      response: { statusCode: 404 },
    });
  });
});

describe.each(databases.eachSupportedId())('provider registration on %s', databaseId => {
  it('answers 404 for a registered provider that is not configured', async () => {
    const backend = await startAuthBackend({
      knex: await databases.init(databaseId),
      features: [githubProviderModule],
    });
    const res = await request(backend.server).get('/api/auth/github/start');
    expect(res.status).toBe(404);
    expect(res.body.error.name).toBe('NotFoundError');
    await backend.stop();
  });

  it('resolves ownership with the registered ownership resolver', async () => {
    const backend = await startAuthBackend({
      knex: await databases.init(databaseId),
      features: [ownershipResolverModule('ownership-a', ['group:default/from-resolver'])],
      entities: [
        {
          apiVersion: 'backstage.io/v1alpha1',
          kind: 'User',
          metadata: { name: 'guest', namespace: 'development' },
          spec: {},
        },
      ],
    });
    const { token, body } = await backend.signInAsGuest();
    expect(body.backstageIdentity.identity.ownershipEntityRefs).toEqual(['group:default/from-resolver']);
    const me = await request(backend.server).get('/api/whoami/me').auth(token, { type: 'bearer' });
    expect(me.body.ownershipEntityRefs).toEqual(['group:default/from-resolver']);
    await backend.stop();
  });

  it('fails startup when a second ownership resolver is set', async () => {
    await expect(
      startAuthBackend({
        knex: await databases.init(databaseId),
        features: [
          ownershipResolverModule('ownership-a', ['group:default/a']),
          ownershipResolverModule('ownership-b', ['group:default/b']),
        ],
      }),
    ).rejects.toThrow(/ownership resolver is already set/);
  });

  it('fails startup when a provider id is registered twice', async () => {
    await expect(
      startAuthBackend({
        knex: await databases.init(databaseId),
        features: [duplicateGuestProviderModule],
      }),
    ).rejects.toThrow(/auth provider 'guest' is already registered/);
  });
});
