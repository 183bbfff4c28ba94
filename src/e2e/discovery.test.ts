import { discoverAuthorizationServerMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import * as oidc from 'openid-client';
import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(60_000);

const databases = createTestDatabases();

describe.each(databases.eachSupportedId())('discovery on %s', databaseId => {
  let knex: Knex;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
  });

  describe('with every feature on', () => {
    let backend: AuthBackend;
    beforeAll(async () => {
      backend = await startAuthBackend({
        knex,
        config: {
          auth: {
            experimentalDynamicClientRegistration: { enabled: true },
            clientIdMetadataDocuments: { enabled: true },
            experimentalRefreshToken: { enabled: true },
            oidcProvider: { deviceAuthorization: { enabled: true } },
          },
        },
      });
    });
    afterAll(() => backend?.stop());

    it('is accepted by openid-client with the issuer URL', async () => {
      // allowInsecureRequests only because the test server is http on loopback.
      const config = await oidc.discovery(new URL(backend.issuer), 'some-client', undefined, undefined, {
        execute: [oidc.allowInsecureRequests],
      });
      const metadata = config.serverMetadata();
      expect(metadata.issuer).toBe(backend.issuer);
      expect(metadata.supportsPKCE()).toBe(true);
      expect(metadata.token_endpoint).toBe(`${backend.issuer}/v1/token`);
    });

    it('serves the same document in OIDC and RFC 8414 form, advertising what is on', async () => {
      const oidcDoc = await request(backend.server).get('/api/auth/.well-known/openid-configuration');
      const rfc8414 = await request(backend.server).get(
        '/api/auth/.well-known/oauth-authorization-server',
      );
      expect(oidcDoc.status).toBe(200);
      expect(rfc8414.body).toEqual(oidcDoc.body);
      const { issuer } = backend;
      expect(oidcDoc.body).toEqual({
        issuer,
        authorization_endpoint: `${issuer}/v1/authorize`,
        token_endpoint: `${issuer}/v1/token`,
        userinfo_endpoint: `${issuer}/v1/userinfo`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        revocation_endpoint: `${issuer}/v1/revoke`,
        registration_endpoint: `${issuer}/v1/register`,
        device_authorization_endpoint: `${issuer}/v1/device_authorization`,
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        response_types_supported: ['code'],
        response_modes_supported: ['query'],
        grant_types_supported: [
          'authorization_code',
          'refresh_token',
          'urn:ietf:params:oauth:grant-type:device_code',
        ],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256', 'RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
        revocation_endpoint_auth_methods_supported: [
          'client_secret_basic',
          'client_secret_post',
          'none',
        ],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        claims_parameter_supported: false,
        claims_supported: [
          'sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'azp', 'acr', 'amr',
          'name', 'picture', 'email',
        ],
        client_id_metadata_document_supported: true,
      });
    });

    it('serves the path-inserted root forms that MCP clients look for', async () => {
      const plugin = await request(backend.server).get('/api/auth/.well-known/openid-configuration');
      for (const path of [
        '/.well-known/oauth-authorization-server/api/auth',
        '/.well-known/openid-configuration/api/auth',
      ]) {
        const res = await request(backend.server).get(path);
        expect(res.status).toBe(200);
        expect(res.body).toEqual(plugin.body);
      }
    });

    it('is found by the MCP SDK through the path-inserted RFC 8414 form first', async () => {
      const seen: string[] = [];
      const metadata = await discoverAuthorizationServerMetadata(backend.issuer, {
        fetchFn: (url, init) => {
          seen.push(String(url));
          return fetch(url, init);
        },
      });
      expect(seen[0]).toBe(`${backend.baseUrl}/.well-known/oauth-authorization-server/api/auth`);
      expect(metadata?.issuer).toBe(backend.issuer);
      expect(metadata?.code_challenge_methods_supported).toEqual(['S256']);
    });

    it('advertises a signing algorithm whose key is in the JWKS', async () => {
      const doc = await request(backend.server).get('/api/auth/.well-known/openid-configuration');
      const jwks = await request(backend.server).get('/api/auth/.well-known/jwks.json');
      expect(jwks.status).toBe(200);
      const algs = (jwks.body.keys as Array<{ alg?: string }>).map(k => k.alg);
      expect(algs).toContain(doc.body.id_token_signing_alg_values_supported[0]);
    });
  });

  describe('with optional features off', () => {
    let backend: AuthBackend;
    beforeAll(async () => {
      backend = await startAuthBackend({ knex });
    });
    afterAll(() => backend?.stop());

    it('advertises only what works', async () => {
      const res = await request(backend.server).get('/api/auth/.well-known/openid-configuration');
      expect(res.status).toBe(200);
      expect(res.body.scopes_supported).toEqual(['openid', 'profile', 'email']);
      expect(res.body.grant_types_supported).toEqual(['authorization_code']);
      expect(res.body).not.toHaveProperty('registration_endpoint');
      expect(res.body).not.toHaveProperty('device_authorization_endpoint');
      expect(res.body).not.toHaveProperty('client_id_metadata_document_supported');
      // Issue 14: no acr values are configured, so acr_values is refused.
      expect(res.body).not.toHaveProperty('acr_values_supported');
    });

    it('does not serve the CLI metadata document and refuses registration', async () => {
      const cli = await request(backend.server).get('/api/auth/.well-known/oauth-client/cli.json');
      expect(cli.status).toBe(404);
      const reg = await request(backend.server)
        .post('/api/auth/v1/register')
        .send({ redirect_uris: ['http://127.0.0.1/cb'] });
      expect(reg.status).toBe(404);
      expect(reg.body.error).toBe('invalid_request');
    });
  });
});
