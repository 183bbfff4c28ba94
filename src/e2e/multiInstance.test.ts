import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { CONFIDENTIAL, codeFlowConfig } from './fixtures/codeFlowClients';
import { withGenerousRateLimits } from './fixtures/generousRateLimits';
import { guestUser } from './fixtures/guestUser';
import { CodeFlow, approveAsGuest } from './harness/codeFlow';
import { secondPool } from './harness/secondPool';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(180_000);
const databases = createTestDatabases();

const CLIENT = CONFIDENTIAL;
const config = withGenerousRateLimits(codeFlowConfig());

async function whoami(backend: AuthBackend, token: string) {
  return request(backend.server).get('/api/whoami/me').auth(token, { type: 'bearer' });
}

/** Verifies an ID token against one instance's published JWKS, over real HTTP. */
async function verifyIdToken(idToken: string, at: AuthBackend, issuer: string) {
  const jwks = createRemoteJWKSet(new URL(`${at.issuer}/.well-known/jwks.json`));
  return jwtVerify(idToken, jwks, { issuer, audience: CLIENT.clientId });
}

const kidOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()).kid as string;

describe.each(databases.eachSupportedId())('two instances on one %s database', databaseId => {
  let knex: Knex;
  let pool: { knex: Knex; close(): Promise<void> };
  let a: AuthBackend;
  let b: AuthBackend;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    pool = secondPool(knex);
    a = await startAuthBackend({ knex, config, entities: [guestUser()] });
    b = await startAuthBackend({ knex: pool.knex, config, entities: [guestUser()] });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await pool?.close();
  });

  it('redeems at one instance a code issued and approved through the other', async () => {
    const { code, verifier } = await new CodeFlow(a, CLIENT).approvedCode();
    const res = await new CodeFlow(b, CLIENT).redeem(code, verifier);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', refresh_token: expect.any(String) });
    // Access token from B works at A's Backstage APIs; the ID token verifies with A's JWKS.
    expect((await whoami(a, res.body.access_token)).body.userEntityRef).toBe(
      'user:development/guest',
    );
    const { payload } = await verifyIdToken(res.body.id_token, a, b.issuer);
    expect(payload).toMatchObject({ sub: 'user:development/guest', nonce: 'nonce-456' });
    // And the code is spent everywhere.
    const replay = await new CodeFlow(a, CLIENT).redeem(code, verifier);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
  });

  it('decides at one instance a request sealed at the other, once for both', async () => {
    const { res, verifier } = await new CodeFlow(a, CLIENT).authorize();
    const handle = CodeFlow.sessionIdOf(res.headers.location);
    expect((await request(b.server).get(`/api/auth/v1/sessions/${handle}`)).status).toBe(200);
    const code = (await approveAsGuest(b, handle)).searchParams.get('code')!;
    expect((await new CodeFlow(a, CLIENT).redeem(code, verifier)).status).toBe(200);
    // Decided through B, it is decided for A too.
    expect((await request(a.server).get(`/api/auth/v1/sessions/${handle}`)).status).toBe(409);
  });

  it('lets exactly one of many concurrent refreshes across both instances succeed', async () => {
    const tokens = await new CodeFlow(a, CLIENT).tokens();
    const refresh = tokens.refresh_token!;
    const attempts = 12;
    const results = await Promise.all(
      Array.from({ length: attempts }, (_, i) =>
        new CodeFlow(i % 2 ? a : b, CLIENT).token({ grant_type: 'refresh_token', refresh_token: refresh }),
      ),
    );
    const ok = results.filter(r => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const loser of results.filter(r => r.status !== 200)) {
      expect(loser.status).toBe(400);
      expect(loser.body.error).toBe('invalid_grant');
    }
    // The losers presented a rotated token: reuse revokes the family (RFC 9700
    // §4.14.2), so even the winner's new refresh token is dead now, on both.
    for (const backend of [a, b]) {
      const again = await new CodeFlow(backend, CLIENT).token({
        grant_type: 'refresh_token',
        refresh_token: ok[0].body.refresh_token,
      });
      expect(again.body.error).toBe('invalid_grant');
    }
  });

  it('keeps verifying across instances when one of them rotates its key', async () => {
    const before = { issuer: a.issuer, tokens: await new CodeFlow(a, CLIENT).tokens() };
    // A restart gives A a new key pair; its private half never left A's memory.
    await a.stop();
    a = await startAuthBackend({ knex, config, entities: [guestUser()] });
    const after = { issuer: a.issuer, tokens: await new CodeFlow(a, CLIENT).tokens() };
    expect(kidOf(after.tokens.id_token!)).not.toBe(kidOf(before.tokens.id_token!));
    for (const backend of [a, b]) {
      for (const issued of [before, after]) {
        expect((await whoami(backend, issued.tokens.access_token)).status).toBe(200);
        const { payload } = await verifyIdToken(issued.tokens.id_token!, backend, issued.issuer);
        expect(payload.aud).toBe(CLIENT.clientId);
      }
    }
  });
});
