import type { Knex } from 'knex';
import * as oidc from 'openid-client';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { approveInBrowser } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);
const databases = createTestDatabases();

const REDIRECT_URI = 'http://127.0.0.1:9876/callback';
const STATIC_SECRET = 'static-client-secret-0123456789';
// Only because the test backend listens on plain-http loopback.
const insecure = { execute: [oidc.allowInsecureRequests] };

describe.each(databases.eachSupportedId())('openid-client 6 against the portal on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: {
        auth: {
          experimentalDynamicClientRegistration: { enabled: true },
          experimentalRefreshToken: { enabled: true },
          oidcProvider: {
            clients: [
              {
                clientId: 'grafana',
                clientSecret: STATIC_SECRET,
                clientName: 'Grafana',
                redirectUris: [REDIRECT_URI],
                grantTypes: ['authorization_code', 'refresh_token'],
              },
            ],
          },
        },
      },
    });
  });
  afterAll(async () => {
    await backend?.stop();
  });

  /** The whole life of a grant, as a relying party sees it. */
  async function runFullFlow(config: oidc.Configuration) {
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const authorizationUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile email offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    });
    const callback = await approveInBrowser(backend, authorizationUrl);

    // Validates state, iss (RFC 9207), the ID token's signature, iss, aud, exp and nonce.
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ sub: 'user:development/guest', iss: backend.issuer, aud: config.clientMetadata().client_id });
    expect(tokens.refresh_token).toEqual(expect.any(String));

    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo.sub).toBe('user:development/guest');

    const me = await request(backend.server).get('/api/whoami/me').auth(tokens.access_token, { type: 'bearer' });
    expect(me.status).toBe(200);

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()?.sub).toBe('user:development/guest');
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

    await oidc.tokenRevocation(config, refreshed.refresh_token!);
    await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  }

  const registration = {
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid profile email offline_access',
  };

  it('completes the flow for a public client registered through DCR', async () => {
    const config = await oidc.dynamicClientRegistration(
      new URL(backend.issuer),
      { ...registration, client_name: 'A public CLI', token_endpoint_auth_method: 'none' },
      oidc.None(),
      insecure,
    );
    await expect(runFullFlow(config)).resolves.toBeUndefined();
  });

  it('completes the flow for a confidential client registered through DCR', async () => {
    const registered = await oidc.dynamicClientRegistration(
      new URL(backend.issuer),
      { ...registration, client_name: 'A web app', token_endpoint_auth_method: 'client_secret_basic' },
      undefined,
      insecure,
    );
    const { client_id, client_secret } = registered.clientMetadata();
    expect(client_secret).toEqual(expect.any(String));
    const config = await oidc.discovery(
      new URL(backend.issuer),
      client_id,
      undefined,
      oidc.ClientSecretBasic(client_secret as string),
      insecure,
    );
    await expect(runFullFlow(config)).resolves.toBeUndefined();
  });

  it('completes the flow for a client pre-registered in app-config', async () => {
    const config = await oidc.discovery(
      new URL(backend.issuer),
      'grafana',
      undefined,
      oidc.ClientSecretPost(STATIC_SECRET),
      insecure,
    );
    await expect(runFullFlow(config)).resolves.toBeUndefined();
  });
});
