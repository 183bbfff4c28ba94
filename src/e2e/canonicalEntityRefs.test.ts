import { decodeJwt } from 'jose';
import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { CodeFlow } from './harness/codeFlow';
import { headerUserProviderModule, signInWithHeader } from './harness/headerUserProviderModule';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);
const databases = createTestDatabases();

const CLIENT = { clientId: 'web', clientSecret: 'web-secret-0123456789', redirectUri: 'https://web.example.com/cb' };

/** What a custom resolver hands to issueToken: valid refs, not canonical, with duplicates. */
const RAW_SUB = 'User:Default/Jane.Doe';
const RAW_ENT = ['User:Default/Jane.Doe', 'user:default/jane.doe', 'Group:Default/Team-A', 'group:default/team-a'];
const SUB = 'user:default/jane.doe';
const ENT = ['user:default/jane.doe', 'group:default/team-a'];

describe.each(databases.eachSupportedId())('canonical entity refs at sign-in (issue 13) on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      features: [headerUserProviderModule],
      config: {
        auth: {
          // Keep ent in the token, to see it there too.
          omitIdentityTokenOwnershipClaim: false,
          experimentalRefreshToken: { enabled: true },
          providers: { header: {} },
          staticClients: [{ clientId: CLIENT.clientId, clientSecret: CLIENT.clientSecret, redirectUris: [CLIENT.redirectUri] }],
        },
      },
    });
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it('issues sub and ent in canonical form, without duplicates', async () => {
    const { token, body } = await signInWithHeader(backend, RAW_SUB, RAW_ENT);
    expect(decodeJwt(token)).toMatchObject({ sub: SUB, ent: ENT });
    expect(body.backstageIdentity.identity).toEqual({ type: 'user', userEntityRef: SUB, ownershipEntityRefs: ENT });
    const me = await request(backend.server).get('/api/whoami/me').auth(token, { type: 'bearer' });
    expect(me.body).toEqual({ userEntityRef: SUB, ownershipEntityRefs: ENT });
  });

  it('saves the same canonical claims as user info', async () => {
    const { token } = await signInWithHeader(backend, RAW_SUB, RAW_ENT);
    const info = await request(backend.server).get('/api/auth/v1/userinfo').auth(token, { type: 'bearer' });
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ sub: SUB, claims: { sub: SUB, ent: ENT } });
    const refs = await knex('user_info').pluck('user_entity_ref');
    expect(refs).toContain(SUB);
    expect(refs).not.toContain(RAW_SUB);
  });

  it('defaults ent to the canonical sub', async () => {
    const { token } = await signInWithHeader(backend, RAW_SUB);
    expect(decodeJwt(token)).toMatchObject({ sub: SUB, ent: [SUB] });
  });

  it('grants OAuth clients tokens and refresh tokens for the canonical ref', async () => {
    const { token } = await signInWithHeader(backend, RAW_SUB, RAW_ENT);
    const tokens = await new CodeFlow(backend, CLIENT).tokens({}, token);
    expect(decodeJwt(tokens.id_token!).sub).toBe(SUB);
    expect(decodeJwt(tokens.access_token).sub).toBe(SUB);
    const owners = await knex('oidc_refresh_tokens').distinct('user_entity_ref').pluck('user_entity_ref');
    expect(owners).toEqual([SUB]);
  });
});
