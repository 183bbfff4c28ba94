import { generateKeyPair, SignJWT } from 'jose';
import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { limitedTokenFrom } from './fixtures/limitedTokenFrom';
import { staticKeyFiles } from './fixtures/staticKeyFiles';
import { secondPool } from './harness/secondPool';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(60_000);

const databases = createTestDatabases();

async function whoami(backend: AuthBackend, token: string) {
  return request(backend.server).get('/api/whoami/me').auth(token, { type: 'bearer' });
}

async function jwksKids(backend: AuthBackend): Promise<string[]> {
  const res = await request(backend.server).get('/api/auth/.well-known/jwks.json');
  return res.body.keys.map((k: { kid: string }) => k.kid);
}

function kidOf(token: string): string {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid;
}

describe.each(databases.eachSupportedId())('signing keys on %s', databaseId => {
  it('lets instances on one database accept each other’s tokens across key rotation', async () => {
    const knex = await databases.init(databaseId);
    const second = secondPool(knex);
    const a = await startAuthBackend({ knex });
    const b = await startAuthBackend({ knex: second.knex });
    try {
      const fromA = (await a.signInAsGuest()).token;
      const fromB = (await b.signInAsGuest()).token;
      expect(kidOf(fromA)).not.toBe(kidOf(fromB));
      expect((await whoami(b, fromA)).status).toBe(200);
      expect((await whoami(a, fromB)).status).toBe(200);
      const info = await request(b.server).get('/api/auth/v1/userinfo').auth(fromA, { type: 'bearer' });
      expect(info.body.sub).toBe('user:development/guest');

      // Restarting A rotates its key (the private half lived only in A's memory).
      await a.stop();
      const a2 = await startAuthBackend({ knex });
      try {
        const fromA2 = (await a2.signInAsGuest()).token;
        expect(kidOf(fromA2)).not.toBe(kidOf(fromA));
        for (const backend of [a2, b]) {
          for (const token of [fromA, fromB, fromA2]) {
            expect((await whoami(backend, token)).status).toBe(200);
          }
          expect(await jwksKids(backend)).toEqual(
            expect.arrayContaining([kidOf(fromA), kidOf(fromB), kidOf(fromA2)]),
          );
        }
        const limited = limitedTokenFrom(fromA);
        const res = await request(b.server).get('/api/auth/v1/userinfo').auth(limited, { type: 'bearer' });
        expect(res.status).toBe(200);
      } finally {
        await a2.stop();
      }
    } finally {
      await b.stop();
      await second.close();
    }
  });

  it('refuses a token signed with a key whose kid it does not know', async () => {
    const backend = await startAuthBackend({ knex: await databases.init(databaseId) });
    try {
      const { privateKey } = await generateKeyPair('ES256');
      const now = Math.floor(Date.now() / 1000);
      const forged = await new SignJWT({ sub: 'user:default/admin', aud: 'backstage', iss: backend.issuer })
        .setProtectedHeader({ typ: 'vnd.backstage.user', alg: 'ES256', kid: 'not-a-known-kid' })
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
      expect((await whoami(backend, forged)).status).toBe(401);
      const info = await request(backend.server).get('/api/auth/v1/userinfo').auth(forged, { type: 'bearer' });
      expect(info.status).toBe(401);
      expect(info.body.error).toBe('invalid_token');
    } finally {
      await backend.stop();
    }
  });
});

describe('signing key configuration', () => {
  let knex: Knex;
  beforeEach(async () => {
    knex = await databases.init('SQLITE_3');
  });

  it.each([
    ['RS256', 'RSA'],
    ['EdDSA', 'OKP'],
  ])('signs with %s when auth.identityTokenAlgorithm says so', async (alg, kty) => {
    const backend = await startAuthBackend({ knex, config: { auth: { identityTokenAlgorithm: alg } } });
    try {
      const { token } = await backend.signInAsGuest();
      expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).alg).toBe(alg);
      expect((await whoami(backend, token)).status).toBe(200);
      const jwks = await request(backend.server).get('/api/auth/.well-known/jwks.json');
      expect(jwks.body.keys[0]).toMatchObject({ alg, kty });
    } finally {
      await backend.stop();
    }
  });

  it('keeps keys in memory only with the memory key store', async () => {
    const backend = await startAuthBackend({ knex, config: { auth: { keyStore: { provider: 'memory' } } } });
    try {
      const { token } = await backend.signInAsGuest();
      expect((await whoami(backend, token)).status).toBe(200);
      // Each key is listed again under the id OAuth clients' tokens are signed with;
      // the RS256 key for clients that ask for RS256 ID tokens is there from the start.
      const kids = await jwksKids(backend);
      expect(kids).toHaveLength(4);
      expect(kids).toEqual(expect.arrayContaining([kidOf(token), `oauth-client:${kidOf(token)}`]));
      const [rs256] = kids.filter(kid => !kid.startsWith('oauth-client:') && kid !== kidOf(token));
      expect(kids).toContain(`oauth-client:${rs256}`);
      expect(await knex('signing_keys').count({ n: '*' })).toEqual([{ n: 0 }]);
    } finally {
      await backend.stop();
    }
  });

  it('signs with the first static key and lists all of them', async () => {
    const { keys, remove } = await staticKeyFiles(['current', 'previous']);
    const backend = await startAuthBackend({
      knex,
      config: { auth: { keyStore: { provider: 'static', static: { keys } } } },
    });
    try {
      const { token } = await backend.signInAsGuest();
      expect(kidOf(token)).toBe('current');
      expect((await whoami(backend, token)).status).toBe(200);
      expect(await jwksKids(backend)).toEqual([
        'current',
        'previous',
        'oauth-client:current',
        'oauth-client:previous',
      ]);
    } finally {
      await backend.stop();
      await remove();
    }
  });

  it('fails startup naming the key when the algorithm is not supported', async () => {
    await expect(
      startAuthBackend({ knex, config: { auth: { identityTokenAlgorithm: 'HS256' } } }),
    ).rejects.toThrow(/auth\.identityTokenAlgorithm: 'HS256' is not supported/);
  });
});
