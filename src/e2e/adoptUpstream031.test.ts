import type { Knex } from 'knex';
import request from 'supertest';
import upstreamAuthPlugin from 'upstream-auth-backend-0-31';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { pkcePair } from './fixtures/pkcePair';
import { approveAsGuest, CodeFlow } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(180_000);

/**
 * Issue 13: a database migrated and used by upstream
 * `@backstage/plugin-auth-backend` 0.31.0 — the real package, with a static
 * client, the Backstage CLI's metadata document as a CIMD client holding a
 * refresh token, and signed-in users — is taken over by this plugin with the
 * same app-config. Afterwards the static client and the CLI's pre-swap
 * refresh token work, pre-swap user tokens verify, and nothing upstream
 * stored is lost.
 */
const databases = createTestDatabases();
const WEB_APP = { clientId: 'web-app', clientSecret: 'web-app-secret-value', redirectUri: 'https://app.example.com/cb' };
const CLI_REDIRECT = 'http://127.0.0.1:8055/callback';
const TOOL = { clientId: 'tool', redirectUri: 'http://127.0.0.1:7000/callback' };

/** app-config written for upstream 0.31, used unchanged by both plugins. */
const config = {
  auth: {
    staticClients: [
      {
        clientId: WEB_APP.clientId,
        clientName: 'Web app',
        clientSecret: WEB_APP.clientSecret,
        redirectUris: [WEB_APP.redirectUri],
      },
      // A public client: no secret.
      { clientId: TOOL.clientId, redirectUris: [TOOL.redirectUri] },
    ],
    clientIdMetadataDocuments: { enabled: true },
    experimentalRefreshToken: { enabled: true },
  },
};

/** Runs an authorization code flow against whichever plugin serves `backend`. */
async function codeFlow(
  backend: AuthBackend,
  client: { clientId: string; redirectUri: string; basic?: string },
  scope = 'openid offline_access',
) {
  const pkce = pkcePair();
  const authorize = await request(backend.server).get('/api/auth/v1/authorize').query({
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope,
    state: 'st',
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
  });
  expect(authorize.status).toBe(302);
  const callback = await approveAsGuest(backend, CodeFlow.sessionIdOf(authorize.headers.location));
  const exchange = request(backend.server).post('/api/auth/v1/token').type('form');
  if (client.basic) exchange.set('Authorization', `Basic ${client.basic}`);
  const tokens = await exchange.send({
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code')!,
    redirect_uri: client.redirectUri,
    code_verifier: pkce.verifier,
    ...(client.basic ? {} : { client_id: client.clientId }),
  });
  expect(tokens.status).toBe(200);
  return tokens.body as { access_token: string; refresh_token?: string };
}

const basic = Buffer.from(`${WEB_APP.clientId}:${WEB_APP.clientSecret}`).toString('base64');

async function snapshot(knex: Knex) {
  const rows = async (table: string, key: string) =>
    (await knex.schema.hasTable(table)) ? knex(table).select().orderBy(key) : [];
  return {
    signingKeys: await rows('signing_keys', 'kid'),
    userInfo: await rows('user_info', 'user_entity_ref'),
    offlineSessions: await rows('offline_sessions', 'id'),
    sessions: await rows('sessions', 'sid'),
  };
}

describe.each(databases.eachSupportedId())('taking over a database of upstream 0.31.0 on %s', databaseId => {
  let knex: Knex;
  let upstream: {
    cli: { access_token: string; refresh_token?: string };
    tool: { refresh_token?: string };
    web: { refresh_token?: string };
    userToken: string;
  };
  let before: Awaited<ReturnType<typeof snapshot>>;
  let ours: AuthBackend;
  let upstreamCliClientId: string;
  let hadOidcClients: boolean;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    // Upstream fetches its own CLI document over http only in development.
    const nodeEnv = process.env.NODE_ENV;
    process.env.NODE_ENV = 'development';
    const backend = await startAuthBackend({ knex, plugin: upstreamAuthPlugin, entities: [guestUser()], config });
    try {
      upstreamCliClientId = `${backend.issuer}/.well-known/oauth-client/cli.json`;
      upstream = {
        cli: await codeFlow(backend, { clientId: upstreamCliClientId, redirectUri: CLI_REDIRECT }),
        tool: await codeFlow(backend, TOOL),
        web: await codeFlow(backend, { ...WEB_APP, basic }),
        userToken: (await backend.signInAsGuest()).token,
      };
    } finally {
      await backend.stop();
      process.env.NODE_ENV = nodeEnv;
    }
    hadOidcClients = await knex.schema.hasTable('oidc_clients');
    before = await snapshot(knex);

    ours = await startAuthBackend({ knex, entities: [guestUser()], config });
    // A portal keeps its URL across the swap; these test backends each get a
    // port of their own, so the CLI's URL client id moves to the new port.
    await knex('offline_sessions')
      .where({ oidc_client_id: upstreamCliClientId })
      .update({ oidc_client_id: `${ours.issuer}/.well-known/oauth-client/cli.json` });
    before.offlineSessions = await knex('offline_sessions').select().orderBy('id');
  });
  afterAll(() => ours?.stop());

  it('starts on it, recreates oidc_clients and keeps everything upstream stored', async () => {
    // What upstream left: no oidc_clients, its refresh tokens in offline_sessions.
    expect(hadOidcClients).toBe(false);
    expect(upstream.cli.refresh_token).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    expect(before.offlineSessions).toHaveLength(3);
    expect(await knex.schema.hasTable('oidc_clients')).toBe(true);
    const after = await snapshot(knex);
    expect(after.userInfo).toEqual(before.userInfo);
    expect(after.offlineSessions).toEqual(before.offlineSessions);
    expect(after.sessions).toEqual(before.sessions);
    // Upstream's keys stay; this plugin may add its own.
    expect(after.signingKeys).toEqual(expect.arrayContaining(before.signingKeys));
    const published = (await request(ours.server).get('/api/auth/.well-known/jwks.json')).body.keys.map(
      (k: { kid: string }) => k.kid,
    );
    expect(published).toEqual(expect.arrayContaining(before.signingKeys.map(k => k.kid)));
  });

  it('accepts user tokens signed before the swap', async () => {
    for (const token of [upstream.userToken, upstream.cli.access_token]) {
      const me = await request(ours.server).get('/api/whoami/me').auth(token, { type: 'bearer' });
      expect(me.status).toBe(200);
      expect(me.body.userEntityRef).toBe('user:development/guest');
    }
  });

  it("honours the CLI's pre-swap refresh token once, as the CLI sends it, then rotates it into its own store", async () => {
    const refresh = (token: string) =>
      request(ours.server)
        .post('/api/auth/v1/token')
        .set('Content-Type', 'application/json')
        .send({ grant_type: 'refresh_token', refresh_token: token });
    const first = await refresh(upstream.cli.refresh_token!);
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).not.toBe(upstream.cli.refresh_token);
    const me = await request(ours.server).get('/api/whoami/me').auth(first.body.access_token, { type: 'bearer' });
    expect(me.body.userEntityRef).toBe('user:development/guest');

    // The upstream row is gone; the new token is ours and rotates as ours do.
    expect(await knex('offline_sessions').where({ id: upstream.cli.refresh_token!.split('.')[0] })).toEqual([]);
    // Spent: without a client_id nothing identifies a client any more (401); naming it, 400.
    expect((await refresh(upstream.cli.refresh_token!)).status).toBe(401);
    const named = await request(ours.server)
      .post('/api/auth/v1/token')
      .type('form')
      .send({
        grant_type: 'refresh_token',
        refresh_token: upstream.cli.refresh_token!,
        client_id: `${ours.issuer}/.well-known/oauth-client/cli.json`,
      });
    expect(named.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token is invalid' });
    const second = await refresh(first.body.refresh_token);
    expect(second.status).toBe(200);
  });

  it("keeps the static client working: its pre-swap refresh token with its secret, a new sign-in", async () => {
    const refresh = (authorization?: string) => {
      const req = request(ours.server).post('/api/auth/v1/token').type('form');
      if (authorization) req.set('Authorization', authorization);
      return req.send({ grant_type: 'refresh_token', refresh_token: upstream.web.refresh_token! });
    };
    // Without its secret the confidential client is refused, and the token is not spent.
    expect((await refresh()).status).toBe(401);
    const refreshed = await refresh(`Basic ${basic}`);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toEqual(expect.any(String));

    const fresh = await codeFlow(ours, { ...WEB_APP, basic });
    expect(fresh.refresh_token).toEqual(expect.any(String));
  });

  it("revokes a public client's pre-swap refresh token presented without a client_id", async () => {
    const id = upstream.tool.refresh_token!.split('.')[0];
    const revoke = await request(ours.server)
      .post('/api/auth/v1/revoke')
      .set('Content-Type', 'application/json')
      .send({ token: upstream.tool.refresh_token, token_type_hint: 'refresh_token' });
    expect(revoke.status).toBe(200);
    expect(await knex('offline_sessions').where({ id })).toEqual([]);
    const refresh = await request(ours.server)
      .post('/api/auth/v1/token')
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: upstream.tool.refresh_token!, client_id: TOOL.clientId });
    expect(refresh.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token is invalid' });
  });
});
