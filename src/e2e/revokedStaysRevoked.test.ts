import type { Knex } from 'knex';
import request from 'supertest';
import type { JsonObject } from '@backstage/types';
import { DbCleanupStore } from '../database/DbCleanupStore';
import { runCleanup } from '../service/cleanupTask';
import { createTestDatabases } from '../testUtils/databases';
import { CONFIDENTIAL, PUBLIC, codeFlowConfig } from './fixtures/codeFlowClients';
import { withGenerousRateLimits } from './fixtures/generousRateLimits';
import { guestUser } from './fixtures/guestUser';
import { CodeFlow } from './harness/codeFlow';
import { serviceCallerPlugin } from './harness/serviceCallerPlugin';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(300_000);
const databases = createTestDatabases();

const MCP = 'https://mcp.example.com/mcp';
/** The resource server's own client, which introspects its tokens. */
const RS = { clientId: 'mcp-server', clientSecret: 'mcp-server-secret-0123456789' };
const HOUR_MS = 60 * 60 * 1000;

/** Code-flow clients, an external resource server, and tokens that live a day. */
function config(): JsonObject {
  const base = codeFlowConfig() as { auth: JsonObject & { oidcProvider: JsonObject } };
  return withGenerousRateLimits({
    auth: {
      ...base.auth,
      backstageTokenExpiration: { hours: 24 },
      oidcProvider: {
        ...base.auth.oidcProvider,
        resources: [{ resource: MCP, scopes: ['mcp:tools'], introspectionClientId: RS.clientId }],
        clients: [
          ...(base.auth.oidcProvider.clients as JsonObject[]),
          { ...RS, redirectUris: ['https://mcp.example.com/unused'] },
        ],
      },
    },
  });
}

/**
 * Issue 25 items 3 and 4: revoked means revoked. A replayed refresh token
 * revokes its whole family even while the newest one is being rotated; a
 * replayed code's revocation outlives the cleanup of its consent session;
 * and introspection tells services that a Backstage token issued to an
 * OAuth client is inactive once its grant is revoked.
 */
describe.each(databases.eachSupportedId())('revoked stays revoked on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let app: CodeFlow;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({ knex, entities: [guestUser()], features: [serviceCallerPlugin], config: config() });
    app = new CodeFlow(backend, PUBLIC);
  });
  afterAll(() => backend?.stop());

  const refresh = (token: string) => app.token({ grant_type: 'refresh_token', refresh_token: token });
  /** Introspection as a Backstage backend plugin asks it, with its service credentials. */
  const introspectAsService = async (token: string) =>
    (
      await request(backend.server)
        .post('/api/service-caller/auth/v1/introspect')
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .send(new URLSearchParams({ token }).toString())
    ).body;
  /** Introspection as the resource server, authenticated as its client. */
  const introspectAsResourceServer = async (token: string) =>
    (
      await request(backend.server)
        .post('/api/auth/v1/introspect')
        .auth(RS.clientId, RS.clientSecret)
        .type('form')
        .send({ token })
    ).body;

  describe('item 3: a replay revokes the family, even during a rotation', () => {
    // The review saw the new token survive in 2–9 of 40 rounds on PostgreSQL.
    const rounds = databaseId.startsWith('POSTGRES') ? 200 : 40;

    it(`leaves no token of the family alive in ${rounds} rounds of replay against rotation`, async () => {
      const survivors: number[] = [];
      const refusals = new Set<string>();
      for (let round = 0; round < rounds; round++) {
        const first = await app.tokens({ scope: 'openid offline_access' });
        const rotated = await refresh(first.refresh_token!);
        // The newest token is rotated while the one before it is replayed.
        const [rotation, replay] = await Promise.all([refresh(rotated.body.refresh_token), refresh(first.refresh_token!)]);
        refusals.add(`replay ${replay.status} ${replay.body.error}`);
        // Whatever the rotation answered, nothing of the family may work afterwards.
        const next = rotation.status === 200 ? await refresh(rotation.body.refresh_token) : rotation;
        if (next.status === 200) survivors.push(round);
        else refusals.add(`rotation ${next.status} ${next.body.error}`);
      }
      expect(survivors).toEqual([]);
      expect([...refusals].sort()).toEqual(['replay 400 invalid_grant', 'rotation 400 invalid_grant']);
      expect(await knex('oidc_refresh_tokens').where({ status: 'active' })).toEqual([]);
    });
  });

  describe('item 4: revocation facts live as long as the tokens they govern', () => {
    it("keeps a replayed code's tokens inactive after cleanup deleted its consent session", async () => {
      const { code, verifier } = await app.approvedCode({ scope: 'openid mcp:tools', resource: MCP });
      const issued = await app.redeem(code, verifier, { resource: MCP });
      expect(issued.status).toBe(200);
      const token = issued.body.access_token as string;
      expect(await introspectAsResourceServer(token)).toMatchObject({ active: true, aud: MCP });

      expect((await app.redeem(code, verifier, { resource: MCP })).status).toBe(400);
      expect(await introspectAsResourceServer(token)).toEqual({ active: false });

      // Two hours on: the consent session and its code are cleaned up, the token has 22 hours to live.
      const cleanup = DbCleanupStore.create({ knex });
      const logger = { warn: jest.fn() } as unknown as Parameters<typeof runCleanup>[0]['logger'];
      const counts = await runCleanup({ store: cleanup, now: new Date(Date.now() + 2 * HOUR_MS), logger });
      expect(counts.authorizationSessions).toBeGreaterThan(0);
      expect(await introspectAsResourceServer(token)).toEqual({ active: false });
    });

    /** Signs in with a refresh token; the access token is a Backstage token for the client. */
    async function signIn() {
      const { code, verifier } = await app.approvedCode({ scope: 'openid offline_access' });
      const issued = await app.redeem(code, verifier);
      const { access_token: token, refresh_token: refreshToken } = issued.body as Record<string, string>;
      expect(await introspectAsService(token)).toMatchObject({ active: true, client_id: PUBLIC.clientId });
      return { code, verifier, token, refreshToken };
    }

    it('tells services a Backstage token issued to an OAuth client is inactive once its refresh token is revoked', async () => {
      const { token, refreshToken } = await signIn();
      expect((await app.revoke({ token: refreshToken })).status).toBe(200);
      expect(await introspectAsService(token)).toEqual({ active: false });
    });

    it('tells services a Backstage token issued to an OAuth client is inactive once its code is replayed', async () => {
      const { token, code, verifier } = await signIn();
      expect((await app.redeem(code, verifier)).status).toBe(400);
      expect(await introspectAsService(token)).toEqual({ active: false });
    });

    it('tells services a Backstage token issued to an OAuth client is inactive once an administrator revokes the user', async () => {
      const { token } = await signIn();
      // A grant without a refresh token too.
      const withoutRefresh = await app.tokens({ scope: 'openid' });
      expect(withoutRefresh.refresh_token).toBeUndefined();
      expect(await introspectAsService(withoutRefresh.access_token)).toMatchObject({ active: true });
      const res = await request(backend.server)
        .post('/api/service-caller/auth/v1/offline-sessions/revoke')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ userEntityRef: 'user:development/guest' }));
      expect(res.status).toBe(200);
      expect(await introspectAsService(token)).toEqual({ active: false });
      expect(await introspectAsService(withoutRefresh.access_token)).toEqual({ active: false });
    });

    it('refuses user info to a token whose grant was revoked', async () => {
      const { token, refreshToken } = await signIn();
      const userinfo = () => request(backend.server).get('/api/auth/v1/userinfo').auth(token, { type: 'bearer' });
      expect((await userinfo()).status).toBe(200);
      expect((await app.revoke({ token: refreshToken })).status).toBe(200);
      const refused = await userinfo();
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual({ error: 'invalid_token', error_description: 'the access token was revoked' });
      expect(refused.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    });

    it('tells services every Backstage token of a family is inactive once a rotated refresh token is presented again', async () => {
      const { token, refreshToken } = await signIn();
      const rotated = await refresh(refreshToken);
      expect(await introspectAsService(rotated.body.access_token)).toMatchObject({ active: true });
      expect((await refresh(refreshToken)).status).toBe(400);
      expect(await introspectAsService(rotated.body.access_token)).toEqual({ active: false });
      expect(await introspectAsService(token)).toEqual({ active: false });
    });

    it('leaves tokens of other grants, and of portal sign-ins, active', async () => {
      const kept = await app.tokens({ scope: 'openid offline_access' });
      const other = await new CodeFlow(backend, CONFIDENTIAL).tokens({ scope: 'openid offline_access' });
      expect((await new CodeFlow(backend, CONFIDENTIAL).revoke({ token: other.refresh_token! })).status).toBe(200);
      expect(await introspectAsService(kept.access_token)).toMatchObject({ active: true });
      expect(await introspectAsService(other.access_token)).toEqual({ active: false });
      const { token } = await backend.signInAsGuest();
      expect(await introspectAsService(token)).toMatchObject({ active: true, sub: 'user:development/guest' });
    });
  });
});
