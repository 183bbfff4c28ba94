import type { JsonObject } from '@backstage/types';
import { decodeJwt } from 'jose';
import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { CodeFlow } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);
const databases = createTestDatabases();

/** A confidential client as upstream 0.31 configures it: it has a secret. */
const GRAFANA = {
  clientId: 'grafana',
  clientSecret: 'grafana-oidc-secret-0123456789',
  redirectUri: 'https://grafana.example.com/login/generic_oauth',
};
/** A public client as upstream 0.31 configures it: no secret. */
const CLI = { clientId: 'my-cli', redirectUri: 'http://127.0.0.1:8123/callback' };

/**
 * app-config written for `@backstage/plugin-auth-backend` 0.31 (issue 13):
 * `auth.staticClients`, CIMD on with upstream's default allow-lists, refresh
 * tokens on. Nothing here is specific to this plugin.
 */
function upstreamConfig(): JsonObject {
  return {
    auth: {
      experimentalRefreshToken: { enabled: true },
      clientIdMetadataDocuments: { enabled: true },
      staticClients: [
        {
          clientId: GRAFANA.clientId,
          clientName: 'Grafana',
          clientSecret: GRAFANA.clientSecret,
          redirectUris: [GRAFANA.redirectUri],
        },
        { clientId: CLI.clientId, clientName: 'My CLI', redirectUris: [CLI.redirectUri] },
      ],
    },
  };
}

describe.each(databases.eachSupportedId())('auth.staticClients (upstream 0.31 config) on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let grafana: CodeFlow;
  /** The public client identifying itself with HTTP Basic and an empty secret. */
  let cliBasic: CodeFlow;
  /** The public client sending `client_id` in the body. */
  let cliBody: CodeFlow;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({ knex, entities: [guestUser()], config: upstreamConfig() });
    grafana = new CodeFlow(backend, GRAFANA);
    cliBasic = new CodeFlow(backend, { ...CLI, clientSecret: '' });
    cliBody = new CodeFlow(backend, CLI);
  });
  afterAll(async () => {
    await backend?.stop();
  });

  const token = () => request(backend.server).post('/api/auth/v1/token').type('form');

  it('shows the configured client name on the consent API', async () => {
    const { res } = await grafana.authorize();
    expect(res.status).toBe(302);
    const session = await request(backend.server).get(`/api/auth/v1/sessions/${CodeFlow.sessionIdOf(res.headers.location)}`);
    expect(session.body).toMatchObject({ clientId: 'grafana', clientName: 'Grafana', redirectUri: GRAFANA.redirectUri });
  });

  it('lets the confidential client finish a code flow authenticating with HTTP Basic', async () => {
    const tokens = await grafana.tokens();
    expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'openid profile email offline_access' });
    expect(decodeJwt(tokens.id_token!)).toMatchObject({ aud: 'grafana', azp: 'grafana', sub: 'user:development/guest' });
    const me = await request(backend.server).get('/api/whoami/me').auth(tokens.access_token, { type: 'bearer' });
    expect(me.body.userEntityRef).toBe('user:development/guest');
    const refreshed = await grafana.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.status).toBe(200);
  });

  it('lets the confidential client authenticate with client_secret_post too', async () => {
    const { code, verifier } = await grafana.approvedCode();
    const res = await token().send({
      grant_type: 'authorization_code',
      code,
      redirect_uri: GRAFANA.redirectUri,
      code_verifier: verifier,
      client_id: GRAFANA.clientId,
      client_secret: GRAFANA.clientSecret,
    });
    expect(res.status).toBe(200);
  });

  it('answers a wrong secret with 401 invalid_client and leaves the code unspent', async () => {
    const { code, verifier } = await grafana.approvedCode();
    const wrong = new CodeFlow(backend, { ...GRAFANA, clientSecret: 'not-the-secret' });
    const res = await wrong.redeem(code, verifier);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    expect((await grafana.redeem(code, verifier)).status).toBe(200);
  });

  it('requires the confidential client to authenticate: client_id alone is 401 invalid_client', async () => {
    const { code, verifier } = await grafana.approvedCode();
    const res = await new CodeFlow(backend, { clientId: GRAFANA.clientId, redirectUri: GRAFANA.redirectUri }).redeem(code, verifier);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication is required for this client' });
  });

  it('requires PKCE of the confidential client as well', async () => {
    const { res } = await grafana.authorize({ code_challenge: undefined, code_challenge_method: undefined });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location);
    expect(`${location.origin}${location.pathname}`).toBe(GRAFANA.redirectUri);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });

  it('lets the public client identify itself with HTTP Basic and an empty secret', async () => {
    const { code, verifier } = await cliBody.approvedCode();
    // What upstream's docs show for public clients: `my-cli:` in Basic, no client_id in the body.
    const basic = `Basic ${Buffer.from(`${CLI.clientId}:`).toString('base64')}`;
    const res = await token()
      .set('Authorization', basic)
      .send({ grant_type: 'authorization_code', code, redirect_uri: CLI.redirectUri, code_verifier: verifier });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.id_token)).toMatchObject({ aud: CLI.clientId });
    const refreshed = await token()
      .set('Authorization', basic)
      .send({ grant_type: 'refresh_token', refresh_token: res.body.refresh_token });
    expect(refreshed.status).toBe(200);
    // The same through the flow driver's form-encoded Basic.
    expect((await cliBasic.tokens()).access_token).toEqual(expect.any(String));
  });

  it('lets the public client identify itself with client_id in the body', async () => {
    const tokens = await cliBody.tokens();
    expect(decodeJwt(tokens.id_token!)).toMatchObject({ aud: CLI.clientId });
  });

  it('accepts a code exchange of the public client without client_id (deprecated upstream, still accepted)', async () => {
    const { code, verifier } = await cliBody.approvedCode();
    const res = await token().send({
      grant_type: 'authorization_code',
      code,
      redirect_uri: CLI.redirectUri,
      code_verifier: verifier,
    });
    expect(res.status).toBe(200);
  });

  it('refuses a public client that presents a secret', async () => {
    const { code, verifier } = await cliBody.approvedCode();
    const res = await new CodeFlow(backend, { ...CLI, clientSecret: 'made-up' }).redeem(code, verifier);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it.each([
    ['the confidential client, with a trailing slash', () => grafana, `${GRAFANA.redirectUri}/`],
    ['the confidential client, with another path', () => grafana, 'https://grafana.example.com/login/other'],
    ['the public client, with a trailing slash', () => cliBody, `${CLI.redirectUri}/`],
  ])('refuses a redirect URI that differs (%s) with 400 and no redirect', async (_name, flow, redirectUri) => {
    const { res } = await flow().authorize({ redirect_uri: redirectUri });
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'redirect_uri is not registered for this client' });
  });
});
