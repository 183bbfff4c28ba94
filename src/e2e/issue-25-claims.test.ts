import { base64url, decodeJwt, decodeProtectedHeader } from 'jose';
import type { Knex } from 'knex';
import request from 'supertest';
import type { JsonObject } from '@backstage/types';
import { createTestDatabases } from '../testUtils/databases';
import { limitedTokenFrom } from './fixtures/limitedTokenFrom';
import { type StaticKeyEntry, staticKeyFiles } from './fixtures/staticKeyFiles';
import { CodeFlow } from './harness/codeFlow';
import { headerUserProviderModule, signInWithHeader } from './harness/headerUserProviderModule';
import { secondPool } from './harness/secondPool';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

/**
 * Issue 25 item 8, "claims follow scopes": the custom claims a sign-in
 * resolver saves go into the portal's own tokens only. An OAuth client's
 * access token carries none of them, and `/v1/userinfo` withholds them from
 * the limited token anyone can rebuild from that access token — sent
 * directly, or in the `obo` claim of a plugin acting for the user — while
 * Backstage's APIs still accept both, on every key store and instance.
 */
const databases = createTestDatabases();

const CLIENT = { clientId: 'web', clientSecret: 'web-secret-0123456789', redirectUri: 'https://web.example.com/cb' };
const SUB = 'user:default/jane';
const ENT = ['user:default/jane', 'group:default/team-a'];
/** What an adopter's sign-in resolver adds to the claims it issues. */
const CUSTOM = { department: 'secret-project', clearance: 'top' };

function config(auth: JsonObject = {}): JsonObject {
  return {
    auth: {
      providers: { header: {} },
      staticClients: [{ clientId: CLIENT.clientId, clientSecret: CLIENT.clientSecret, redirectUris: [CLIENT.redirectUri] }],
      ...auth,
    },
  };
}

/** Signs in with the custom claims, then lets the client get an access token approved with that sign-in. */
async function portalAndClientTokens(backend: AuthBackend) {
  const portal = (await signInWithHeader(backend, SUB, ENT, CUSTOM)).token;
  const { access_token: client } = await new CodeFlow(backend, CLIENT).tokens({ scope: 'openid profile' }, portal);
  return { portal, client };
}

const userinfo = (backend: AuthBackend, token: string) =>
  request(backend.server).get('/api/auth/v1/userinfo').auth(token, { type: 'bearer' });
/** `/v1/userinfo` as a plugin asks it on the caller's behalf (a plugin token whose `obo` is the caller's limited token). */
const userinfoForCaller = (backend: AuthBackend, token: string) =>
  request(backend.server).get('/api/whoami/userinfo').auth(token, { type: 'bearer' });
const whoami = (backend: AuthBackend, token: string) =>
  request(backend.server).get('/api/whoami/me').auth(token, { type: 'bearer' });

/** What a token issued to an OAuth client may learn at `/v1/userinfo` without scopes. */
const WITHOUT_CUSTOM_CLAIMS = { sub: SUB, claims: { sub: SUB, ent: ENT } };

/** The token with `kid` in its protected header instead, signature kept. */
function withKid(token: string, kid: string): string {
  const [, payload, signature] = token.split('.');
  return [base64url.encode(JSON.stringify({ ...decodeProtectedHeader(token), kid })), payload, signature].join('.');
}

describe.each(databases.eachSupportedId())('claims follow scopes (issue 25 item 8) on %s', databaseId => {
  let knex: Knex;
  let second: ReturnType<typeof secondPool>;
  let a: AuthBackend;
  let b: AuthBackend;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    second = secondPool(knex);
    a = await startAuthBackend({ knex, features: [headerUserProviderModule], config: config() });
    b = await startAuthBackend({ knex: second.knex, features: [headerUserProviderModule], config: config() });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await second?.close();
  });

  it("keeps the resolver's custom claims out of an OAuth client's access token", async () => {
    const { portal, client } = await portalAndClientTokens(a);
    expect(decodeJwt(portal)).toMatchObject(CUSTOM);
    const claims = decodeJwt(client);
    expect(claims).toMatchObject({ sub: SUB, client_id: CLIENT.clientId, scope: 'openid profile' });
    for (const name of Object.keys(CUSTOM)) expect(claims).not.toHaveProperty(name);
  });

  it("answers the limited token rebuilt from an OAuth client's access token without the custom claims", async () => {
    const { client } = await portalAndClientTokens(a);
    const res = await userinfo(a, limitedTokenFrom(client));
    expect(res.status).toBe(200);
    expect(res.body).toEqual(WITHOUT_CUSTOM_CLAIMS);
  });

  it("answers a plugin acting for an OAuth client's user without the custom claims", async () => {
    const { client } = await portalAndClientTokens(a);
    const res = await userinfoForCaller(a, client);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(WITHOUT_CUSTOM_CLAIMS);
  });

  it("still gives the portal's own full and limited tokens, and plugins acting for them, every saved claim", async () => {
    const { portal } = await portalAndClientTokens(a);
    for (const res of [
      await userinfo(a, portal),
      await userinfo(a, limitedTokenFrom(portal)),
      await userinfoForCaller(a, portal),
    ]) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sub: SUB, claims: { sub: SUB, ent: ENT, ...CUSTOM } });
    }
  });

  it("lets Backstage APIs accept an OAuth client's access token, directly and on the user's behalf", async () => {
    const { client } = await portalAndClientTokens(a);
    const me = await whoami(a, client);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ userEntityRef: SUB, ownershipEntityRefs: ENT });
    expect((await userinfoForCaller(a, client)).status).toBe(200);
  });

  it("refuses the limited token of an OAuth client that takes the portal's key id", async () => {
    const { portal, client } = await portalAndClientTokens(a);
    const disguised = withKid(limitedTokenFrom(client), decodeProtectedHeader(portal).kid!);
    const res = await userinfo(a, disguised);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    expect(JSON.stringify(res.body)).not.toContain('secret-project');
  });

  it("recognises an OAuth client's token that another instance on the same database issued", async () => {
    const { portal, client } = await portalAndClientTokens(a);
    expect((await whoami(b, client)).status).toBe(200);
    expect((await userinfo(b, limitedTokenFrom(client))).body).toEqual(WITHOUT_CUSTOM_CLAIMS);
    expect((await userinfoForCaller(b, client)).body).toEqual(WITHOUT_CUSTOM_CLAIMS);
    expect((await userinfo(b, limitedTokenFrom(portal))).body.claims).toMatchObject(CUSTOM);
  });

  it('lists the keys of both kinds of token in one cacheable JWKS', async () => {
    const { portal, client } = await portalAndClientTokens(a);
    const jwks = await request(a.server).get('/api/auth/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.headers['cache-control']).toMatch(/max-age=\d+/);
    const kids = jwks.body.keys.map((key: { kid: string }) => key.kid);
    expect(kids).toEqual(expect.arrayContaining([decodeProtectedHeader(portal).kid, decodeProtectedHeader(client).kid]));
    expect(new Set(kids).size).toBe(kids.length);
    const again = await request(a.server).get('/api/auth/.well-known/jwks.json').set('If-None-Match', jwks.headers.etag);
    expect(again.status).toBe(304);
  });

  describe('with keys kept in memory or read from files', () => {
    let files: Awaited<ReturnType<typeof staticKeyFiles>>;
    let staticKeys: StaticKeyEntry[];
    beforeAll(async () => {
      files = await staticKeyFiles(['current', 'previous']);
      staticKeys = files.keys;
    });
    afterAll(() => files?.remove());

    it.each(['memory', 'static'])('withholds the custom claims with the %s key store', async provider => {
      const keyStore = provider === 'static' ? { provider, static: { keys: staticKeys } } : { provider };
      const backend = await startAuthBackend({
        knex,
        features: [headerUserProviderModule],
        config: config({ keyStore }),
      });
      try {
        const { portal, client } = await portalAndClientTokens(backend);
        expect((await whoami(backend, client)).status).toBe(200);
        expect((await userinfo(backend, limitedTokenFrom(client))).body).toEqual(WITHOUT_CUSTOM_CLAIMS);
        expect((await userinfoForCaller(backend, client)).body).toEqual(WITHOUT_CUSTOM_CLAIMS);
        expect((await userinfo(backend, limitedTokenFrom(portal))).body.claims).toMatchObject(CUSTOM);
      } finally {
        await backend.stop();
      }
    });

    it("fails startup naming the key when a static key id takes the OAuth clients' form", async () => {
      const backend = await startAuthBackend({
        knex,
        features: [headerUserProviderModule],
        config: config({ keyStore: { provider: 'static', static: { keys: staticKeys } } }),
      });
      let clientKid: string;
      try {
        clientKid = decodeProtectedHeader((await portalAndClientTokens(backend)).client).kid!;
      } finally {
        await backend.stop();
      }
      const clashing = [{ ...staticKeys[1], keyId: clientKid }];
      await expect(
        startAuthBackend({ knex, config: config({ keyStore: { provider: 'static', static: { keys: clashing } } }) }),
      ).rejects.toThrow(/auth\.keyStore\.static\.keys\[0\]\.keyId: '.+' is reserved/);
    });
  });
});
