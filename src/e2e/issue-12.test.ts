/* eslint-disable no-script-url -- hostile redirect URIs are what these tests send */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { applyDatabaseMigrations } from '../database/migrations';
import { requestIdOf } from '../oauth/authorizationRequests';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { pkcePair } from './fixtures/pkcePair';
import { approveAsGuest, CodeFlow } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

/**
 * Regression tests for issue 12, the hostile review: each `describe` is one
 * item of it and tries to break what the README promises.
 */
const databases = createTestDatabases();

const LOOPBACK = 'http://127.0.0.1:6000/callback';
const WEB_APP = { clientId: 'web-app', clientSecret: 'web-app-secret-value', redirectUri: 'https://app.example.com/cb' };
const NATIVE = { clientId: 'native-tool', redirectUri: 'http://127.0.0.1:7000/callback' };

/** Serves client-ID metadata documents on loopback: `/<name>.json` → the document `docs[name]`. */
async function startDocumentServer(docs: Record<string, Record<string, unknown>>) {
  const server = http.createServer((req, res) => {
    const name = /^\/([a-z-]+)\.json$/.exec(req.url ?? '')?.[1];
    const doc = name ? docs[name] : undefined;
    if (!doc) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ client_id: `http://${req.headers.host}${req.url}`, ...doc }));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (name: string) => `http://127.0.0.1:${port}/${name}.json`,
    host: `127.0.0.1:${port}`,
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
  };
}

describe.each(databases.eachSupportedId())('issue 12 on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let documents: Awaited<ReturnType<typeof startDocumentServer>>;

  const sessionCount = async () =>
    Number((await knex('oauth_authorization_sessions').count({ n: '*' }))[0].n);

  /** An authorization request; `query` overrides the defaults. */
  function authorize(clientId: string, redirectUri: string, query: Record<string, string> = {}) {
    return request(backend.server)
      .get('/api/auth/v1/authorize')
      .query({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        scope: 'openid',
        state: 'st',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
        ...query,
      });
  }

  async function registerPublic(redirectUris: string[], clientName?: string) {
    return request(backend.server)
      .post('/api/auth/v1/register')
      .send({ redirect_uris: redirectUris, token_endpoint_auth_method: 'none', ...(clientName ? { client_name: clientName } : {}) });
  }

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    documents = await startDocumentServer({
      'only-script': { client_name: 'Script', redirect_uris: ['javascript:alert(document.domain)//'] },
      'mixed': { client_name: 'Mixed', redirect_uris: ['javascript:alert(document.domain)//', LOOPBACK] },
      'impostor': { client_name: 'Backstage CLI', redirect_uris: [LOOPBACK] },
    });
    // A client that upstream's DCR registered before the rule existed.
    await applyDatabaseMigrations(knex);
    await knex('oidc_clients').insert({
      client_id: 'upstream-dcr-client',
      client_secret: '',
      client_name: 'Old client',
      response_types: '["code"]',
      grant_types: '["authorization_code"]',
      redirect_uris: JSON.stringify(['javascript:alert(1)//']),
      scope: null,
      metadata: null,
    });
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: {
        auth: {
          experimentalDynamicClientRegistration: { enabled: true },
          clientIdMetadataDocuments: {
            enabled: true,
            allowedClientIdPatterns: ['http://127.0.0.1:*/*.json'],
            // Everything, so that what refuses a hostile URI is the rule, not the list.
            allowedRedirectUriPatterns: ['*'],
          },
          experimentalRefreshToken: { enabled: true },
          oidcProvider: {
            dangerouslyAllowInsecureClientIdMetadataDocuments: true,
            rateLimits: { registration: { requests: 1000 }, token: { requests: 1000 } },
            clients: [
              {
                clientId: WEB_APP.clientId,
                clientSecret: WEB_APP.clientSecret,
                clientName: 'Web app',
                redirectUris: [WEB_APP.redirectUri],
              },
              { clientId: NATIVE.clientId, public: true, clientName: 'Native tool', redirectUris: [NATIVE.redirectUri] },
            ],
          },
        },
      },
    });
  });
  afterAll(async () => {
    await backend?.stop();
    await documents?.close();
  });

  describe('item 1: one redirect-URI rule for every kind of client', () => {
    it.each([
      ['javascript:alert(document.domain)//', "must not use the 'javascript:' scheme"],
      ['java\tscript:alert(1)', 'control character'],
      ['data:text/html,<script>alert(1)</script>', "'data:' scheme"],
      ['vbscript:msgbox(1)', "'vbscript:' scheme"],
      ['file:///etc/passwd', "'file:' scheme"],
      ['http://evil.example/callback', 'http only on a loopback host'],
      ['myapp:/callback', 'reverse-domain'],
      ['https://user:pw@app.example.com/cb', 'user information'],
      ['https://app.example.com/cb#frag', 'fragment'],
    ])('refuses to register %j', async (uri, reason) => {
      const before = Number((await knex('oidc_clients').count({ n: '*' }))[0].n);
      const res = await registerPublic([uri]);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_redirect_uri');
      expect(res.body.error_description).toContain(reason);
      expect(Number((await knex('oidc_clients').count({ n: '*' }))[0].n)).toBe(before);
    });

    it.each(['https://app.example.com/cb', 'http://127.0.0.1/cb', 'http://[::1]:3000/cb', 'http://localhost/cb', 'com.example.app:/oauth/cb'])(
      'registers %j',
      async uri => {
        expect((await registerPublic([uri])).status).toBe(201);
      },
    );

    it('never starts a session for a metadata document that lists only a script URI', async () => {
      const before = await sessionCount();
      const res = await authorize(documents.url('only-script'), 'javascript:alert(document.domain)//');
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.body).toEqual({ error: 'invalid_client', error_description: 'unknown client_id' });
      expect(await sessionCount()).toBe(before);
    });

    it('keeps only the safe redirect URIs of a document that mixes them', async () => {
      const before = await sessionCount();
      const hostile = await authorize(documents.url('mixed'), 'javascript:alert(document.domain)//');
      expect(hostile.status).toBe(400);
      expect(hostile.body.error_description).toBe('redirect_uri is not registered for this client');
      expect(await sessionCount()).toBe(before);
      expect((await authorize(documents.url('mixed'), LOOPBACK)).status).toBe(302);
    });

    it('holds clients stored before the rule existed to it', async () => {
      const res = await authorize('upstream-dcr-client', 'javascript:alert(1)//');
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.body.error_description).toContain("must not use the 'javascript:' scheme");
    });

    it('never decides a request stored before the rule existed, and leaves no code', async () => {
      const sessionId = 'stored-before-the-rule';
      const stored = {
        id: sessionId,
        client_id: 'upstream-dcr-client',
        redirect_uri: 'javascript:alert(1)//',
        scope: 'openid',
        response_type: 'code',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        status: 'pending',
        expires_at: new Date(Date.now() + 600_000),
      };
      await knex('oauth_authorization_sessions').insert(stored);
      const { token } = await backend.signInAsGuest();
      // Requests wait for their decision in handles, which a stored row is not.
      for (const decision of ['approve', 'reject']) {
        const res = await request(backend.server)
          .post(`/api/auth/v1/sessions/${sessionId}/${decision}`)
          .auth(token, { type: 'bearer' })
          .set('Content-Type', 'application/json');
        expect(res.status).toBe(404);
        expect(res.body.error.name).toBe('NotFoundError');
      }
      expect(await knex('oidc_authorization_codes').where({ session_id: sessionId })).toEqual([]);
      const row = await knex('oauth_authorization_sessions').where({ id: sessionId }).first();
      expect(row.status).toBe('pending');
    });

    it('refuses a config client with a script redirect URI at startup, naming the key', async () => {
      await expect(
        startAuthBackend({
          knex,
          config: {
            auth: {
              oidcProvider: {
                clients: [{ clientId: 'bad', public: true, redirectUris: ['javascript:alert(1)//'] }],
              },
            },
          },
        }),
      ).rejects.toThrow(
        "auth.oidcProvider.clients[0].redirectUris[0]: 'javascript:alert(1)//' must not use the 'javascript:' scheme",
      );
    });
  });

  describe('item 2: a client cannot pass itself off as another application', () => {
    it('shows a metadata document client with the host that served its document', async () => {
      const res = await authorize(documents.url('impostor'), LOOPBACK);
      expect(res.status).toBe(302);
      const session = await request(backend.server).get(
        `/api/auth/v1/sessions/${CodeFlow.sessionIdOf(res.headers.location)}`,
      );
      expect(session.body).toMatchObject({
        clientName: `Backstage CLI (${documents.host})`,
        clientHost: documents.host,
      });
    });

    it('marks the self-chosen name of a dynamically registered client as unverified', async () => {
      const registered = await registerPublic([LOOPBACK], 'Backstage CLI');
      const res = await authorize(registered.body.client_id, LOOPBACK);
      const session = await request(backend.server).get(
        `/api/auth/v1/sessions/${CodeFlow.sessionIdOf(res.headers.location)}`,
      );
      expect(session.body.clientName).toBe('Backstage CLI (unverified)');
      expect(session.body.clientHost).toBeUndefined();
    });
  });

  describe('item 3: tokens issued to OAuth clients cannot grant more access', () => {
    it('refuses a backend plugin acting for the user on the consent API, whatever token it acts on', async () => {
      const { res } = await new CodeFlow(backend, NATIVE).authorize({ scope: 'openid' });
      const handle = CodeFlow.sessionIdOf(res.headers.location);
      const { token } = await backend.signInAsGuest();
      for (const decision of ['approve', 'reject']) {
        // The whoami plugin posts with a plugin token whose obo is the guest's limited token.
        const relayed = await request(backend.server)
          .post(`/api/whoami/relay/v1/sessions/${handle}/${decision}`)
          .auth(token, { type: 'bearer' });
        expect(relayed.status).toBe(403);
        expect(relayed.body.error.name).toBe('NotAllowedError');
      }
      expect(await knex('oauth_authorization_sessions').where({ id: requestIdOf(handle) })).toEqual([]);
      // The user's own token decides it.
      expect((await approveAsGuest(backend, handle)).searchParams.get('code')).toBeTruthy();
    });

    it('refuses an OAuth access token on the consent API, while Backstage APIs accept it', async () => {
      const native = new CodeFlow(backend, NATIVE);
      const { access_token } = await native.tokens({ scope: 'openid' });
      expect(decodeJwt(access_token)).toMatchObject({ client_id: NATIVE.clientId, scope: 'openid' });

      // Its own wider grant, and another client's request.
      const wider = await native.authorize({ scope: 'openid offline_access' });
      const other = await new CodeFlow(backend, WEB_APP).authorize({ scope: 'openid' });
      for (const res of [wider.res, other.res]) {
        const sessionId = CodeFlow.sessionIdOf(res.headers.location);
        for (const decision of ['approve', 'reject']) {
          const attempt = await request(backend.server)
            .post(`/api/auth/v1/sessions/${sessionId}/${decision}`)
            .auth(access_token, { type: 'bearer' })
            .set('Content-Type', 'application/json');
          expect(attempt.status).toBe(403);
          expect(attempt.body.error.name).toBe('NotAllowedError');
        }
        expect(await knex('oauth_authorization_sessions').where({ id: requestIdOf(sessionId) })).toEqual([]);
        // A portal sign-in still decides it.
        expect((await approveAsGuest(backend, sessionId)).searchParams.get('code')).toBeTruthy();
      }

      const me = await request(backend.server).get('/api/whoami/me').auth(access_token, { type: 'bearer' });
      expect(me.status).toBe(200);
      expect(me.body.userEntityRef).toBe('user:development/guest');
    });
  });

  describe('item 4: a replayed code always revokes what it produced', () => {
    it('revokes the refresh token even when the replay races the first redemption', async () => {
      const native = new CodeFlow(backend, NATIVE);
      const tries = 24;
      let issued = 0;
      for (let i = 0; i < tries; i++) {
        const { code, verifier } = await native.approvedCode({ scope: 'openid offline_access' });
        // The replay leaves 0–3 ms after the first request, sweeping the
        // window between the code's redemption and its refresh token's insert.
        const [first, second] = await Promise.all([
          native.redeem(code, verifier),
          new Promise(resolve => setTimeout(resolve, i % 4)).then(() => native.redeem(code, verifier)),
        ]);
        // Exactly one redemption succeeds, however the two interleave...
        const winners = [first, second].filter(r => r.status === 200);
        expect(winners).toHaveLength(1);
        for (const loser of [first, second].filter(r => r.status !== 200)) {
          expect(loser.body.error).toBe('invalid_grant');
        }
        // ...and whatever refresh token it got, the replay revoked.
        if (winners[0].body.refresh_token === undefined) continue;
        issued += 1;
        const refreshed = await native.token({
          grant_type: 'refresh_token',
          refresh_token: winners[0].body.refresh_token,
        });
        expect(refreshed.status).toBe(400);
        expect(refreshed.body.error).toBe('invalid_grant');
        expect(refreshed.body.error_description).toBe('refresh token was revoked');
      }
      // At least some tries raced in the middle; none may leave a live token.
      expect(await knex('oidc_refresh_tokens').where({ client_id: NATIVE.clientId, status: 'active' })).toEqual([]);
      expect(issued).toBeLessThanOrEqual(tries);
    });
  });

  describe('item 5: no open redirector', () => {
    it.each([
      ['a dynamically registered client', async () => (await registerPublic([LOOPBACK])).body.client_id as string],
      ['a metadata document client', async () => documents.url('mixed')],
    ])('shows the errors of %s instead of redirecting', async (_kind, clientId) => {
      const id = await clientId();
      const res = await authorize(id, LOOPBACK, { scope: 'openid admin' });
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.body).toEqual({ error: 'invalid_scope', error_description: "scope 'admin' is not supported" });

      const page = await authorize(id, LOOPBACK, { scope: 'openid admin' }).set('Accept', 'text/html');
      expect(page.status).toBe(400);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.text).toContain('scope &#39;admin&#39; is not supported');
      expect(page.text).not.toContain(LOOPBACK);
    });

    it('keeps standard error redirects for clients from config', async () => {
      const res = await authorize(WEB_APP.clientId, WEB_APP.redirectUri, { scope: 'openid admin' });
      expect(res.status).toBe(302);
      const location = new URL(res.headers.location);
      expect(location.origin + location.pathname).toBe(WEB_APP.redirectUri);
      expect(location.searchParams.get('error')).toBe('invalid_scope');
      expect(location.searchParams.get('state')).toBe('st');
    });
  });

  describe('item 10: smaller conformance points', () => {
    it('answers request and request_uri with their own error codes', async () => {
      const withRequest = await authorize(WEB_APP.clientId, WEB_APP.redirectUri, { request: 'eyJ.x.y' });
      expect(new URL(withRequest.headers.location).searchParams.get('error')).toBe('request_not_supported');
      const withUri = await authorize(WEB_APP.clientId, WEB_APP.redirectUri, { request_uri: 'urn:x' });
      expect(new URL(withUri.headers.location).searchParams.get('error')).toBe('request_uri_not_supported');
    });

    it('refuses prompt=none together with another value', async () => {
      const res = await authorize(WEB_APP.clientId, WEB_APP.redirectUri, { prompt: 'none login' });
      const location = new URL(res.headers.location);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('error_description')).toBe(
        "prompt 'none' must not be combined with other values",
      );
      const alone = await authorize(WEB_APP.clientId, WEB_APP.redirectUri, { prompt: 'none' });
      expect(new URL(alone.headers.location).searchParams.get('error')).toBe('consent_required');
    });

    it('gives an OAuth client only the userinfo claims of its scopes', async () => {
      const native = new CodeFlow(backend, NATIVE);
      const { access_token } = await native.tokens({ scope: 'openid' });
      const profiled = (await native.tokens({ scope: 'openid profile' })).access_token;
      const { token } = await backend.signInAsGuest();
      // A custom claim saved at sign-in, as a sign-in resolver would add it.
      await knex('user_info')
        .where({ user_entity_ref: 'user:development/guest' })
        .update({
          user_info: JSON.stringify({
            claims: { sub: 'user:development/guest', ent: ['user:development/guest'], department: 'secret-project' },
          }),
        });
      const narrow = await request(backend.server).get('/api/auth/v1/userinfo').auth(access_token, { type: 'bearer' });
      expect(narrow.status).toBe(200);
      expect(narrow.body).toEqual({
        sub: 'user:development/guest',
        claims: { sub: 'user:development/guest', ent: ['user:development/guest'] },
      });

      const wide = await request(backend.server).get('/api/auth/v1/userinfo').auth(profiled, { type: 'bearer' });
      expect(wide.body).toMatchObject({ sub: 'user:development/guest', name: 'Guest User' });
      expect(JSON.stringify(wide.body)).not.toContain('secret-project');

      // The portal's own token keeps the full body the framework reads.
      const portal = await request(backend.server).get('/api/auth/v1/userinfo').auth(token, { type: 'bearer' });
      expect(portal.body.claims.department).toBe('secret-project');
    });
  });
});
