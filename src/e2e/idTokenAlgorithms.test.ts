import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { approveInBrowser } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

/**
 * Issue 14: ID tokens in RS256 for clients that register
 * `id_token_signed_response_alg` (OIDC Core §15.1: every relying party can
 * verify RS256), beside the configured algorithm (ES256 by default).
 */
const databases = createTestDatabases();
const REDIRECT_URI = 'http://127.0.0.1:9877/callback';
const insecure = { execute: [oidc.allowInsecureRequests] };

describe.each(databases.eachSupportedId())('ID token algorithms on %s', databaseId => {
  let backend: AuthBackend;

  beforeAll(async () => {
    backend = await startAuthBackend({
      knex: await databases.init(databaseId),
      entities: [guestUser()],
      config: {
        auth: {
          experimentalDynamicClientRegistration: { enabled: true },
          oidcProvider: {
            clients: [
              { clientId: 'legacy-rp', clientSecret: 'legacy-rp-secret-012345', redirectUris: [REDIRECT_URI], idTokenSignedResponseAlg: 'RS256' },
            ],
          },
        },
      },
    });
  });
  afterAll(() => backend?.stop());

  async function idTokenOf(clientId: string, clientSecret: string | undefined, metadata: Partial<oidc.ClientMetadata> = {}) {
    const config = await oidc.discovery(new URL(backend.issuer), clientId, { ...metadata, ...(clientSecret ? { client_secret: clientSecret } : {}) }, clientSecret ? undefined : oidc.None(), insecure);
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await approveInBrowser(backend, url);
    // openid-client verifies the ID token's signature and that its alg is the registered one.
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
    return tokens.id_token!;
  }

  it('advertises both algorithms and publishes an RSA key once one is used', async () => {
    const metadata = (await request(backend.server).get('/api/auth/.well-known/openid-configuration')).body;
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
  });

  it('signs with RS256 for a client that registered it, and ES256 for one that did not', async () => {
    const registered = await request(backend.server)
      .post('/api/auth/v1/register')
      .send({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'RS256' });
    expect(registered.status).toBe(201);
    expect(registered.body.id_token_signed_response_alg).toBe('RS256');
    const rs = await idTokenOf(registered.body.client_id, undefined, { id_token_signed_response_alg: 'RS256' });
    expect(decodeProtectedHeader(rs).alg).toBe('RS256');

    const plain = await request(backend.server)
      .post('/api/auth/v1/register')
      .send({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' });
    const es = await idTokenOf(plain.body.client_id, undefined, { id_token_signed_response_alg: 'ES256' });
    expect(decodeProtectedHeader(es).alg).toBe('ES256');

    const jwks = (await request(backend.server).get('/api/auth/.well-known/jwks.json')).body.keys;
    expect(jwks.map((k: { alg: string }) => k.alg)).toEqual(expect.arrayContaining(['ES256', 'RS256']));
  });

  it('signs with RS256 for a config client that asks for it', async () => {
    const token = await idTokenOf('legacy-rp', 'legacy-rp-secret-012345', { id_token_signed_response_alg: 'RS256' });
    expect(decodeProtectedHeader(token).alg).toBe('RS256');
  });

  it('refuses an algorithm it does not sign with', async () => {
    const res = await request(backend.server)
      .post('/api/auth/v1/register')
      .send({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'HS256' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: 'invalid_client_metadata',
      error_description: 'id_token_signed_response_alg must be one of ES256, RS256',
    });
  });
});
