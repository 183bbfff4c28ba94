import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { Knex } from 'knex';
import * as oidc from 'openid-client';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { recordingAuditor } from './fixtures/recordingAuditor';
import { guestUser } from './fixtures/guestUser';
import { approveInBrowser, CodeFlow } from './harness/codeFlow';
import { serviceCallerPlugin } from './harness/serviceCallerPlugin';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

/**
 * Issue 14: access tokens that say exactly what they mean. A resource server
 * outside Backstage gets RFC 9068 tokens meant for it alone; it can verify
 * them or introspect them (RFC 7662); a Backstage service acting for a user
 * can exchange for one (RFC 8693). Backstage's own APIs never accept them.
 */
const databases = createTestDatabases();
const MCP = 'https://mcp.example.com/mcp';
const DOCS = 'https://docs-api.example.com/';
const REDIRECT_URI = 'http://127.0.0.1:9876/callback';
const APP = { clientId: 'agent', clientSecret: 'agent-secret-0123456789', redirectUri: REDIRECT_URI };
const RS = { clientId: 'mcp-server', clientSecret: 'mcp-server-secret-0123456789' };
const OTHER = { clientId: 'other-app', clientSecret: 'other-app-secret-0123456789' };
const insecure = { execute: [oidc.allowInsecureRequests] };
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * What a resource server does with a token under RFC 9068 §4, written from
 * the RFC: `typ` is at+jwt, the signature verifies with the issuer's JWKS,
 * `iss` is the issuer, `aud` names this resource, it has not expired, and it
 * carries client_id, sub, iat and jti.
 */
async function resourceServerAccepts(token: string, issuer: string, resource: string): Promise<JWTPayload> {
  const header = decodeProtectedHeader(token);
  if (header.typ !== 'at+jwt' && header.typ !== 'application/at+jwt') throw new Error(`typ is ${header.typ}`);
  if (!header.alg || header.alg === 'none') throw new Error('unsigned');
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`)), {
    issuer,
    audience: resource,
    typ: header.typ,
    requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'],
  });
  return payload;
}

const secret = (client: { clientId: string; clientSecret: string }) =>
  `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;

describe.each(databases.eachSupportedId())('tokens for resource servers on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  const auditor = recordingAuditor();

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      features: [serviceCallerPlugin, auditor.factory],
      config: {
        auth: {
          experimentalRefreshToken: { enabled: true },
          oidcProvider: {
            resources: [
              {
                resource: MCP,
                name: 'Company MCP server',
                scopes: ['mcp:tools', 'mcp:admin'],
                allowedClients: [APP.clientId, 'plugin:service-caller'],
                introspectionClientId: RS.clientId,
              },
              { resource: DOCS, scopes: ['docs:read'], allowedClients: [OTHER.clientId] },
            ],
            clients: [
              { ...APP, redirectUris: [REDIRECT_URI] },
              { ...RS, redirectUris: ['https://mcp.example.com/unused'] },
              { ...OTHER, redirectUris: ['https://other.example.com/cb'] },
            ].map(({ redirectUri: _unused, ...c }: any) => c),
          },
        },
      },
    });
  });
  afterAll(() => backend?.stop());

  async function signIn(extra: Record<string, string>) {
    const config = await oidc.discovery(new URL(backend.issuer), APP.clientId, APP.clientSecret, undefined, insecure);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...extra,
    });
    const callback = await approveInBrowser(backend, url);
    const tokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, expectedState: state },
      extra.resource ? { resource: extra.resource } : undefined,
    );
    return { config, tokens };
  }

  const introspect = (token: string, authorization?: string) => {
    const req = request(backend.server).post('/api/auth/v1/introspect').type('form');
    if (authorization) req.set('Authorization', authorization);
    return req.send({ token });
  };

  describe('RFC 9068 access tokens', () => {
    it('gives a strict client a token its resource server accepts and Backstage refuses', async () => {
      const { tokens } = await signIn({ scope: 'openid mcp:tools offline_access', resource: MCP });
      const payload = await resourceServerAccepts(tokens.access_token, backend.issuer, MCP);
      expect(payload).toMatchObject({
        aud: MCP,
        sub: 'user:development/guest',
        client_id: APP.clientId,
        scope: 'openid mcp:tools offline_access',
        auth_time: expect.any(Number),
      });
      await expect(resourceServerAccepts(tokens.access_token, backend.issuer, DOCS)).rejects.toThrow();
      // Another plugin's httpAuth: never.
      const me = await request(backend.server).get('/api/whoami/me').auth(tokens.access_token, { type: 'bearer' });
      expect(me.status).toBe(401);
      // The ID token is still an ID token, for the client.
      expect(tokens.claims()).toMatchObject({ aud: APP.clientId, sub: 'user:development/guest' });
    });

    it('keeps the Backstage token for the same client without a resource', async () => {
      const { tokens } = await signIn({ scope: 'openid' });
      expect(decodeProtectedHeader(tokens.access_token).typ).toBe('vnd.backstage.user');
      const me = await request(backend.server).get('/api/whoami/me').auth(tokens.access_token, { type: 'bearer' });
      expect(me.status).toBe(200);
    });

    it('keeps a refresh token bound to its resource', async () => {
      const { config, tokens } = await signIn({ scope: 'openid mcp:tools offline_access', resource: MCP });
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(decodeJwt(refreshed.access_token).aud).toBe(MCP);
      const other = await request(backend.server)
        .post('/api/auth/v1/token')
        .set('Authorization', secret(APP))
        .type('form')
        .send({ grant_type: 'refresh_token', refresh_token: refreshed.refresh_token!, resource: DOCS });
      expect(other.status).toBe(400);
      expect(other.body.error).toBe('invalid_target');
      const backstage = await request(backend.server)
        .post('/api/auth/v1/token')
        .set('Authorization', secret(APP))
        .type('form')
        .send({ grant_type: 'refresh_token', refresh_token: refreshed.refresh_token!, resource: `${backend.baseUrl}/api/whoami` });
      expect(backstage.body).toEqual({ error: 'invalid_target', error_description: `this grant is for resource '${MCP}' only` });
    });

    it('refuses a resource the client may not have, and scopes of another resource', async () => {
      const flow = new CodeFlow(backend, APP);
      const notAllowed = await flow.authorize({ resource: DOCS, scope: 'openid docs:read' });
      expect(new URL(notAllowed.res.headers.location).searchParams.get('error')).toBe('invalid_target');
      const wrongScope = await flow.authorize({ resource: MCP, scope: 'openid docs:read' });
      expect(new URL(wrongScope.res.headers.location).searchParams.get('error')).toBe('invalid_scope');
      const noResource = await flow.authorize({ scope: 'openid mcp:tools' });
      expect(new URL(noResource.res.headers.location).searchParams.get('error')).toBe('invalid_scope');
    });

    it('advertises introspection, token exchange and the resource scopes', async () => {
      const metadata = (await request(backend.server).get('/api/auth/.well-known/openid-configuration')).body;
      expect(metadata).toMatchObject({
        introspection_endpoint: `${backend.issuer}/v1/introspect`,
        grant_types_supported: expect.arrayContaining([EXCHANGE]),
        scopes_supported: expect.arrayContaining(['mcp:tools', 'mcp:admin', 'docs:read']),
      });
    });
  });

  describe('introspection (RFC 7662)', () => {
    it('answers only authenticated, confidential callers', async () => {
      const { tokens } = await signIn({ scope: 'openid mcp:tools', resource: MCP });
      const anonymous = await introspect(tokens.access_token);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error).toBe('invalid_client');
      const wrong = await introspect(tokens.access_token, secret({ ...RS, clientSecret: 'nope' }));
      expect(wrong.status).toBe(401);
    });

    it('shows the claims to the resource server, and nothing to anyone else', async () => {
      const { tokens } = await signIn({ scope: 'openid mcp:tools', resource: MCP });
      const mine = await introspect(tokens.access_token, secret(RS));
      expect(mine.body).toMatchObject({ active: true, aud: MCP, sub: 'user:development/guest', client_id: APP.clientId, scope: 'openid mcp:tools' });
      expect(mine.headers['cache-control']).toBe('no-store');
      expect((await introspect(tokens.access_token, secret(OTHER))).body).toEqual({ active: false });
      expect((await introspect(`${tokens.access_token}x`, secret(RS))).body).toEqual({ active: false });
    });

    it('reports a token inactive once its grant is revoked, or its refresh token has expired', async () => {
      const { tokens } = await signIn({ scope: 'openid mcp:tools offline_access', resource: MCP });
      expect((await introspect(tokens.refresh_token!, secret(APP))).body).toMatchObject({ active: true, aud: MCP });
      // The refresh token is the owning client's to ask about, not the resource server's.
      expect((await introspect(tokens.refresh_token!, secret(RS))).body).toEqual({ active: false });
      const revoke = await request(backend.server)
        .post('/api/auth/v1/revoke')
        .set('Authorization', secret(APP))
        .type('form')
        .send({ token: tokens.refresh_token! });
      expect(revoke.status).toBe(200);
      expect((await introspect(tokens.access_token, secret(RS))).body).toEqual({ active: false });
      expect((await introspect(tokens.refresh_token!, secret(APP))).body).toEqual({ active: false });

      const second = await signIn({ scope: 'openid mcp:tools offline_access', resource: MCP });
      await knex('oidc_refresh_tokens').update({ expires_at: new Date(Date.now() - 1000) }).where({ client_id: APP.clientId, status: 'active' });
      expect((await introspect(second.tokens.refresh_token!, secret(APP))).body).toEqual({ active: false });
    });
  });

  describe('token exchange (RFC 8693)', () => {
    /** As a backend plugin with its service credentials (serviceCallerPlugin relays with them). */
    const exchange = (form: Record<string, string>) =>
      request(backend.server)
        .post('/api/service-caller/auth/v1/token')
        .type('form')
        .send(new URLSearchParams({ grant_type: EXCHANGE, ...form }).toString());

    it('gives a service acting for a user a narrower token for a resource, with act, audited', async () => {
      const { token } = await backend.signInAsGuest();
      const res = await exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE, resource: MCP, scope: 'mcp:tools' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', scope: 'mcp:tools' });
      const payload = await resourceServerAccepts(res.body.access_token, backend.issuer, MCP);
      expect(payload).toMatchObject({ sub: 'user:development/guest', act: { sub: 'plugin:service-caller' }, scope: 'mcp:tools' });
      // Never past the subject token.
      expect(payload.exp!).toBeLessThanOrEqual(decodeJwt(token).exp!);
      expect(auditor.createEvent).toHaveBeenCalledWith(
        expect.objectContaining({
          eventId: 'token-exchanged',
          meta: expect.objectContaining({
            clientId: 'plugin:service-caller',
            userEntityRef: 'user:development/guest',
            resource: MCP,
            scope: 'mcp:tools',
          }),
        }),
      );
      expect(JSON.stringify(auditor.createEvent.mock.calls)).not.toContain(token);
    });

    it('refuses without service credentials, a wider scope, an unknown resource and a client\'s token', async () => {
      const { token } = await backend.signInAsGuest();
      const direct = await request(backend.server)
        .post('/api/auth/v1/token')
        .type('form')
        .send({ grant_type: EXCHANGE, subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE, resource: MCP });
      expect(direct.status).toBe(401);
      expect(direct.body.error).toBe('invalid_client');
      const asUser = await request(backend.server)
        .post('/api/auth/v1/token')
        .auth(token, { type: 'bearer' })
        .type('form')
        .send({ grant_type: EXCHANGE, subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE, resource: MCP });
      expect(asUser.status).toBe(401);

      const wider = await exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE, resource: MCP, scope: 'mcp:tools docs:read' });
      expect(wider.body.error).toBe('invalid_scope');
      const unknown = await exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE, resource: 'https://unknown.example.com/' });
      expect(unknown.body.error).toBe('invalid_target');
      const notAllowed = await exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE, resource: DOCS });
      expect(notAllowed.body.error).toBe('invalid_target');

      const { tokens } = await signIn({ scope: 'openid' });
      const clientToken = await exchange({ subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN_TYPE, resource: MCP });
      expect(clientToken.body).toEqual({
        error: 'invalid_grant',
        error_description: 'subject_token was issued to an OAuth client; only a portal sign-in can be exchanged',
      });
      const tampered = await exchange({ subject_token: `${token}x`, subject_token_type: ACCESS_TOKEN_TYPE, resource: MCP });
      expect(tampered.body.error).toBe('invalid_grant');
    });

    it('acts for a user by entity ref only for a service the resource names', async () => {
      const res = await exchange({ subject_token: 'guest', subject_token_type: 'urn:backstage:params:oauth:token-type:user-entity-ref', audience: MCP });
      // 'guest' in the default namespace is not in the catalog.
      expect(res.body.error).toBe('invalid_grant');
      const ok = await exchange({
        subject_token: 'user:development/guest',
        subject_token_type: 'urn:backstage:params:oauth:token-type:user-entity-ref',
        audience: MCP,
      });
      expect(ok.status).toBe(200);
      expect(decodeJwt(ok.body.access_token)).toMatchObject({ sub: 'user:development/guest', aud: MCP });
    });
  });
});
