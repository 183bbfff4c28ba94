import type { Entity } from '@backstage/catalog-model';
import type { Knex } from 'knex';
import request from 'supertest';
import { createUpstreamOfflineSessionsTable } from '../database/testUtils/createUpstreamOfflineSessionsTable';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { recordingAuditor } from './fixtures/recordingAuditor';
import { CodeFlow } from './harness/codeFlow';
import { headerUserProviderModule, signInWithHeader } from './harness/headerUserProviderModule';
import { serviceCallerPlugin } from './harness/serviceCallerPlugin';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);
const databases = createTestDatabases();

const PATH = '/v1/offline-sessions/revoke';
const APP = { clientId: 'app', clientSecret: 'app-secret-value-0123456789', redirectUri: 'https://app.example.com/cb' };
const JANE = 'user:default/jane';
const GUEST = 'user:development/guest';
const jane: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'User',
  metadata: { name: 'jane', namespace: 'default' },
  spec: { profile: { displayName: 'Jane' }, memberOf: [] },
};

function config(refreshEnabled: boolean) {
  return {
    auth: {
      experimentalRefreshToken: { enabled: refreshEnabled },
      providers: { header: {} },
      staticClients: [{ clientId: APP.clientId, clientSecret: APP.clientSecret, redirectUris: [APP.redirectUri] }],
    },
  };
}

describe.each(databases.eachSupportedId())('POST /v1/offline-sessions/revoke (issue 13) on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let app: CodeFlow;
  const auditor = recordingAuditor();

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      entities: [guestUser(), jane],
      features: [headerUserProviderModule, serviceCallerPlugin, auditor.factory],
      config: config(true),
    });
    app = new CodeFlow(backend, APP);
  });
  afterAll(async () => {
    await backend?.stop();
  });

  /** Sends the body as another backend plugin would: with that plugin's service token. */
  const asService = (server = backend.server) =>
    request(server).post(`/api/service-caller/auth${PATH}`);
  const direct = () => request(backend.server).post(`/api/auth${PATH}`);
  const refresh = (token: string) => app.token({ grant_type: 'refresh_token', refresh_token: token });
  const activeTokens = async () =>
    Number((await knex('oidc_refresh_tokens').where({ status: 'active' }).count({ n: '*' }))[0].n);
  async function janeToken() {
    return (await signInWithHeader(backend, JANE)).token;
  }

  it('refuses a call without credentials with 401, before reading the body', async () => {
    await app.tokens({}, await janeToken());
    const before = await activeTokens();
    const res = await direct().send({ userEntityRef: JANE });
    expect(res.status).toBe(401);
    expect(res.body.error.name).toBe('AuthenticationError');
    const malformed = await direct().set('Content-Type', 'application/json').send('{nope');
    expect(malformed.status).toBe(401);
    expect(await activeTokens()).toBe(before);
  });

  it("refuses a user's token with 403: the portal sign-in and an OAuth client's access token", async () => {
    const before = await activeTokens();
    const { token: guestToken } = await backend.signInAsGuest();
    const signedIn = await direct().auth(guestToken, { type: 'bearer' }).send({ userEntityRef: JANE });
    expect(signedIn.status).toBe(403);
    expect(signedIn.body.error.name).toBe('NotAllowedError');
    const oauth = await app.tokens({}, await janeToken());
    const viaClient = await direct().auth(oauth.access_token, { type: 'bearer' }).send({ userEntityRef: JANE });
    expect(viaClient.status).toBe(403);
    expect(await activeTokens()).toBe(before + 1);
  });

  it("revokes every refresh token of the user the service names, and only theirs", async () => {
    // Jane: two grants, one rotated once; the guest: one grant.
    const first = await app.tokens({}, await janeToken());
    const second = await app.tokens({}, await janeToken());
    const rotated = (await refresh(second.refresh_token!)).body.refresh_token as string;
    const guest = await app.tokens();
    // What upstream 0.31 left in an adopted database: its own refresh tokens.
    await createUpstreamOfflineSessionsTable(knex);
    await knex('offline_sessions').insert([
      { id: 'u1', user_entity_ref: JANE, oidc_client_id: null, token_hash: 'scrypt-hash-1' },
      { id: 'u2', user_entity_ref: GUEST, oidc_client_id: null, token_hash: 'scrypt-hash-2' },
    ]);
    const janeActive = await knex('oidc_refresh_tokens').where({ user_entity_ref: JANE, status: 'active' }).count({ n: '*' });

    // 'jane' names user:default/jane, as upstream reads it.
    const res = await asService().send({ userEntityRef: 'jane' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ revokedCount: Number(janeActive[0].n) + 1 });

    for (const token of [first.refresh_token!, rotated]) {
      const refused = await refresh(token);
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token was revoked' });
    }
    expect((await refresh(guest.refresh_token!)).status).toBe(200);
    expect(await knex('offline_sessions').pluck('id')).toEqual(['u2']);

    expect(auditor.createEvent).toHaveBeenCalledWith({
      eventId: 'offline-sessions-revoked',
      severityLevel: 'high',
      meta: {
        userEntityRef: JANE,
        revokedCount: res.body.revokedCount,
        upstreamOfflineSessionsDeleted: 1,
        caller: 'plugin:service-caller',
      },
    });
    const audited = JSON.stringify(auditor.createEvent.mock.calls);
    for (const secret of [first.refresh_token!, rotated, second.refresh_token!, 'scrypt-hash-1']) {
      expect(audited).not.toContain(secret);
    }

    // Nothing is left to revoke.
    expect((await asService().send({ userEntityRef: JANE })).body).toEqual({ revokedCount: 0 });
  });

  it('accepts a form body', async () => {
    const { refresh_token: token } = await app.tokens({}, await janeToken());
    const res = await asService().type('form').send({ userEntityRef: JANE });
    expect(res.status).toBe(200);
    expect(res.body.revokedCount).toBeGreaterThanOrEqual(1);
    expect((await refresh(token!)).body.error_description).toBe('refresh token was revoked');
  });

  it.each([
    ['a group ref', { userEntityRef: 'group:default/team-a' }, "userEntityRef must refer to a user entity, not 'group:default/team-a'"],
    ['a component ref', { userEntityRef: 'Component:default/x' }, "userEntityRef must refer to a user entity, not 'Component:default/x'"],
    ['no ref', {}, "userEntityRef is required: a user entity ref such as 'user:default/jane'"],
    ['an empty ref', { userEntityRef: ' ' }, "userEntityRef is required: a user entity ref such as 'user:default/jane'"],
    ['a number', { userEntityRef: 42 }, "userEntityRef is required: a user entity ref such as 'user:default/jane'"],
    ['a NUL byte', { userEntityRef: 'user:default/ja\u0000ne' }, 'userEntityRef contains a control character (U+0000)'],
  ])('answers %s with 400 InputError and revokes nothing', async (_name, body, message) => {
    await app.tokens({}, await janeToken());
    const before = await activeTokens();
    const res = await asService().send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ name: 'InputError', message });
    expect(await activeTokens()).toBe(before);
  });

  it('answers malformed JSON with 400', async () => {
    const res = await asService().set('Content-Type', 'application/json').send('{"userEntityRef":');
    expect(res.status).toBe(400);
  });

  it('is absent (404) while refresh tokens are off', async () => {
    const off = await startAuthBackend({
      knex: await databases.init(databaseId),
      features: [headerUserProviderModule, serviceCallerPlugin],
      config: config(false),
    });
    try {
      const res = await asService(off.server).send({ userEntityRef: JANE });
      expect(res.status).toBe(404);
      expect(res.body.error.name).toBe('NotFoundError');
    } finally {
      await off.stop();
    }
  });
});
